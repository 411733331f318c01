"""Compiled per-step kernels (numba), where Python's overhead, not arithmetic, sets the time.

The networks of computational neuroscience are small (30 units in Murray 2019, 32 in Marschall
et al. 2020), and online learning takes one step at a time: at n = 32 a step is a few thousand
multiply-adds, which numpy spends more time dispatching than computing.  These kernels run a
whole chunk of online steps, with the weight updates between them, in one compiled call.

* They are used automatically where they apply and numba imports: the online chunk of every
  rule with an online face (:mod:`~bioplastic.kernels.trace_online`, rate form, tanh, float64:
  where :func:`bioplastic.training.fused.supported` says so), UORO's trial loop, and the
  forward and BPTT time loops (:mod:`~bioplastic.kernels.recurrence`) for the built-in
  activations.
  Otherwise the numpy path runs, which is the reference: every kernel is tested equal to it.
* Compiled code is cached on disk (numba's ``cache=True``), so only the first call of a
  process ever compiles; the compile time is in the benchmarks' output.
* ``BIOPLASTIC_NO_NUMBA=1`` in the environment, or :func:`disabled`, turns them off.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

__all__ = ["available", "disabled", "recurrence_loops", "time_major", "NUMBA_ERROR"]

NUMBA_ERROR: str | None = None
try:  # numba is a dependency, but a platform without a wheel still gets a working package
    import numba  # noqa: F401
except Exception as exc:  # pragma: no cover - depends on the platform
    NUMBA_ERROR = f"{type(exc).__name__}: {exc}"

_off = {"count": 0}

# the kinds of influence the compiled online chunk (trace_online.trace_chunk) carries
DIAGONAL, FULL, RANK_ONE, KRONECKER, REVERSE_KRONECKER, WINDOW, CHUNK = range(7)


def available() -> bool:
    """Whether the compiled kernels may run (numba imports, and nobody turned them off)."""
    return (
        NUMBA_ERROR is None
        and _off["count"] == 0
        and os.environ.get("BIOPLASTIC_NO_NUMBA", "") in ("", "0")
    )


@contextmanager
def disabled() -> Iterator[None]:
    """Within the block, the numpy path runs everywhere (for comparisons and tests)."""
    _off["count"] += 1
    try:
        yield
    finally:
        _off["count"] -= 1


def recurrence_loops():
    """The compiled time loops of :mod:`bioplastic.kernels.recurrence`, or None where the
    kernels are off (the caller then runs its numpy loop)."""
    if not available():
        return None
    from . import recurrence

    return recurrence


def time_major(x: np.ndarray) -> np.ndarray:
    """A C-ordered time-major copy ``(T, B, k)`` of trial-major ``x`` ``(B, T, k)`` (compiled:
    numpy's strided copy costs about 3 ns an element for a few inputs or outputs)."""
    loops = recurrence_loops()
    if loops is None or x.ndim != 3:
        return np.ascontiguousarray(x.transpose(1, 0, 2))
    out = np.empty((x.shape[1], x.shape[0], x.shape[2]), dtype=x.dtype)
    loops.time_major(x, out)
    return out
