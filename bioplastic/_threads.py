"""BLAS threads sized to the work: one thread for small matrices, the library's default for
large ones.

On a busy two-core machine the BLAS library's second thread stalls a small matmul (a 32 × 32
product is microseconds of work; waking and joining a thread costs about as much, and on a
loaded core far more): one BPTT at n = 128 was measured at 250–300 ms instead of about 50.  So
every per-step loop of bioplastic (forward passes, the rules' gradients, training) runs with
one BLAS thread while the recurrent layer is smaller than :data:`SMALL` units, through
threadpoolctl (its controller is built once; entering a limit costs a few microseconds).

Two kinds of call are large even in a small network: RTRL's influence product
``D_t M_{t-1}`` (``2·trial·n²·(n·m)`` flops, 35 MFLOP at n = 64 for one trial) and the
``W_rec`` gradient of a whole batch, ``Σ_t G_tᵀ r_{t-1}`` (``2·T·trial·n²``).  Such a call
(:data:`LARGE_CALL` flops or more) gets the library's own thread count back
(:func:`blas_threads_for_call`): at n = 64 two threads ran RTRL's product at 81 GFLOP/s
against 47 with one, on the idle 2-core machine.  Inside a dask worker (a sweep, a figure)
the library's own count is already 1, so that workers never share a core.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

__all__ = ["SMALL", "LARGE_CALL", "blas_threads_for", "blas_threads_for_call"]

SMALL = 256  # below this many units, one BLAS thread
LARGE_CALL = 1e7  # flops of one call from which the library's own thread count pays off
_controller: list = []
_default: list = []  # the BLAS libraries' thread count when the controller was built


def _get_controller():
    if not _controller:
        try:
            from threadpoolctl import ThreadpoolController

            ctl = ThreadpoolController()
            blas = ctl.select(user_api="blas").lib_controllers
            _default.append(max((lib.num_threads for lib in blas), default=1))
            _controller.append(ctl)
        except Exception:  # threadpoolctl missing or broken: leave the threads alone
            _controller.append(None)
    return _controller[0]


@contextmanager
def blas_threads_for(n_rec: int) -> Iterator[None]:
    """Within the block, one BLAS thread if ``n_rec < SMALL``; otherwise unchanged."""
    ctl = _get_controller() if n_rec < SMALL else None
    with ctl.limit(limits=1, user_api="blas") if ctl is not None else nullcontext():
        yield


@contextmanager
def blas_threads_for_call(flops: float) -> Iterator[None]:
    """Within the block, the library's own BLAS thread count if one call does at least
    :data:`LARGE_CALL` flops; otherwise unchanged (and nothing is entered)."""
    ctl = _get_controller() if flops >= LARGE_CALL else None
    with ctl.limit(limits=_default[0], user_api="blas") if ctl is not None else nullcontext():
        yield
