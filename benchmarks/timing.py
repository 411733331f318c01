"""Timing helpers shared by the benchmark scripts (run them as ``python benchmarks/X.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def best_times(fns: list[Callable[[], object]], repeats: int, budget: float = 0.5) -> list[float]:
    """Best-of-``repeats`` seconds of each function, calls interleaved so drift hits all alike.

    Fast functions are repeated more, until about ``budget`` seconds are spent on each: on a
    shared machine the best of 7 calls of a few milliseconds still varies by 2×.
    """
    warm = []
    for fn in fns:
        fn()  # warm up (a first call may compile or load a cache)
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
    repeats = max(repeats, min(1000, int(budget / max(max(warm), 1e-6))))
    best = [np.inf] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best-of-``repeats`` seconds of one function."""
    return best_times([fn], repeats)[0]
