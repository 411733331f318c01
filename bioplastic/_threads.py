"""BLAS threads sized to the work: one thread for small matrices, the library's default for
large ones.

On a busy two-core machine the BLAS library's second thread stalls a small matmul (a 32 × 32
product is microseconds of work; waking and joining a thread costs about as much, and on a
loaded core far more): one BPTT at n = 128 was measured at 250–300 ms instead of about 50.  So
every per-step loop of bioplastic (forward passes, the rules' gradients, training) runs with
one BLAS thread while the recurrent layer is smaller than :data:`SMALL` units, through
threadpoolctl (its controller is built once; entering a limit costs a few microseconds).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

__all__ = ["SMALL", "blas_threads_for"]

SMALL = 256  # below this many units, one BLAS thread
_controller: list = []


def _get_controller():
    if not _controller:
        try:
            from threadpoolctl import ThreadpoolController

            _controller.append(ThreadpoolController())
        except Exception:  # threadpoolctl missing or broken: leave the threads alone
            _controller.append(None)
    return _controller[0]


@contextmanager
def blas_threads_for(n_rec: int) -> Iterator[None]:
    """Within the block, one BLAS thread if ``n_rec < SMALL``; otherwise unchanged."""
    ctl = _get_controller() if n_rec < SMALL else None
    with ctl.limit(limits=1, user_api="blas") if ctl is not None else nullcontext():
        yield
