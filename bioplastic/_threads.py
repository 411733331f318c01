"""Threads sized to the work: one BLAS thread for small matrices, bioplastic's own threads
over a batch's trials, the library's default for large networks.

On a busy two-core machine the BLAS library's second thread stalls a small matmul (a 32 × 32
product is microseconds of work; waking and joining a thread costs about as much, and on a
loaded core far more): one BPTT at n = 128 was measured at 250–300 ms instead of about 50.  So
every per-step loop of bioplastic (forward passes, the rules' gradients, training) runs with
one BLAS thread while the recurrent layer is smaller than :data:`SMALL` units, through
threadpoolctl (its controller is built once; entering a limit costs a few microseconds).

The threads come back where there is enough work between two hand-offs:

* **Trials** (:func:`split_ranges`, :func:`over_ranges`).  A batch's trials are independent,
  so the compiled time loops (the forward recursion, BPTT's credit) run disjoint ranges of
  trials in parallel threads, one hand-off per call instead of one per step.  The
  ``W_rec`` gradient of a batch, ``Σ_t G_tᵀ r_{t-1}``, is split by rows the same way
  (:func:`gram`).  Ranges start at multiples of 8 trials, so each thread's small products run
  the same BLAS kernels as one thread's: the results are bitwise those of one thread.  These
  threads sleep as soon as their range is done; OpenBLAS's own threads instead spin for a
  while after every threaded call, and a second loop thread on that core then ran slower
  than one thread (measured at n = 128: forward 25.8 ms against 21.8).
* **One large call**, RTRL's influence product ``D_t M_{t-1}`` (``2·trial·n²·(n·m)`` flops,
  35 MFLOP at n = 64 for one trial): with :data:`LARGE_CALL` flops or more it gets the
  library's own thread count back (:func:`blas_threads_for_call`): at n = 64 two threads ran
  it at 81 GFLOP/s against 47 with one, on the idle 2-core machine.

The thread count is the BLAS library's own default, which ``OMP_NUM_THREADS`` /
``OPENBLAS_NUM_THREADS`` set: inside a dask worker (a sweep, a figure) it is 1, so that
workers never share a core; and only the main thread splits work.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext

import numpy as np

__all__ = [
    "SMALL",
    "LARGE_CALL",
    "blas_threads_for",
    "blas_threads_for_call",
    "split_ranges",
    "over_ranges",
    "gram",
]

SMALL = 256  # below this many units, one BLAS thread
LARGE_CALL = 1e7  # flops of one call from which the library's own thread count pays off
_controller: list = []
_default: list = []  # the BLAS libraries' thread count when the controller was built
_one_thread: list = []  # non-empty while a block holds BLAS at one thread (not thread-local)
_pool: list = []  # (workers, executor): the time loops' extra threads, started on first use


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
    """Within the block, one BLAS thread if ``n_rec < SMALL``; otherwise unchanged.  Nested
    in another such block it costs nothing."""
    with _one_blas_thread() if n_rec < SMALL else nullcontext():
        yield


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    ctl = _get_controller() if not _one_thread else None
    with ctl.limit(limits=1, user_api="blas") if ctl is not None else nullcontext():
        _one_thread.append(True)
        try:
            yield
        finally:
            _one_thread.pop()


@contextmanager
def blas_threads_for_call(flops: float) -> Iterator[None]:
    """Within the block, the library's own BLAS thread count if one call does at least
    :data:`LARGE_CALL` flops; otherwise unchanged (and nothing is entered)."""
    ctl = _get_controller() if flops >= LARGE_CALL else None
    if ctl is None:
        yield
        return
    with ctl.limit(limits=_default[0], user_api="blas"):
        saved = _one_thread[:]
        _one_thread.clear()  # BLAS is not held at one thread inside this block
        try:
            yield
        finally:
            _one_thread[:] = saved


def split_ranges(n: int, flops: float, *, least: int = 8) -> list[tuple[int, int]]:
    """Split ``0 … n-1`` into contiguous ranges, one per thread, for work of ``flops``.

    More than one range only when the call does at least :data:`LARGE_CALL` flops and the
    caller is the main thread; as many as the BLAS library's own thread count (which
    ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` set; dask's workers set it to 1), and each
    range has ``least`` items or more.  Boundaries are multiples of ``least``, so each range's
    small matrix products run the same BLAS kernels as the whole one (bitwise equal results
    for one or many threads, tested in tests/test_threads.py).
    """
    _get_controller()
    threads = _default[0] if _default else 1
    if flops < LARGE_CALL or threading.current_thread() is not threading.main_thread():
        threads = 1
    blocks = n // least
    k = max(1, min(threads, blocks))
    edges = [least * (i * blocks // k) for i in range(k)] + [n]
    return list(zip(edges[:-1], edges[1:], strict=True))


def over_ranges(fn: Callable[..., None], args: tuple, ranges: list[tuple[int, int]]) -> None:
    """Call ``fn(*args, i0, i1)`` for each range, the first in this thread and the others in
    a pool of threads (``fn`` must release the GIL and write only its own range).  While more
    than one range runs, BLAS runs one thread, whatever the network's size: its own threads
    would only compete with these for the cores."""
    if len(ranges) == 1:
        fn(*args, *ranges[0])
        return
    with _one_blas_thread():
        pool = _thread_pool(len(ranges) - 1)
        futures = [pool.submit(fn, *args, i0, i1) for i0, i1 in ranges[1:]]
        try:
            fn(*args, *ranges[0])
        finally:  # never return while a thread still writes into the caller's arrays
            wait(futures)
        for f in futures:
            f.result()  # re-raises a thread's error here


def _gram_rows(G: np.ndarray, R: np.ndarray, out: np.ndarray, i0: int, i1: int) -> None:
    np.matmul(G[:, i0:i1].T, R, out=out[i0:i1])


def gram(G: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``Gᵀ R`` for tall ``G (K, n)``, ``R (K, m)``: a weight gradient summed over trials and
    steps, its rows split over :func:`split_ranges`'s threads (numpy releases the GIL)."""
    out = np.empty((G.shape[1], R.shape[1]), dtype=np.result_type(G, R))
    ranges = split_ranges(G.shape[1], 2.0 * G.shape[0] * G.shape[1] * R.shape[1])
    over_ranges(_gram_rows, (G, R, out), ranges)
    return out


def _thread_pool(workers: int) -> ThreadPoolExecutor:
    if not _pool or _pool[0][0] < workers:
        if _pool:
            _pool.pop()[1].shutdown(wait=False)
        _pool.append((workers, ThreadPoolExecutor(workers, thread_name_prefix="bioplastic")))
    return _pool[0][1]


def _forget_pool() -> None:  # a forked child has the pool object but none of its threads
    _pool.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)
