"""Timing helpers shared by the benchmark scripts (run them as ``python benchmarks/X.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def best_times(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """Best-of-``repeats`` seconds of each function, calls interleaved so drift hits all alike."""
    for fn in fns:
        fn()  # warm up
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
