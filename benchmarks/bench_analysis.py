"""The analysis's cost: the fixed-point search and CKA, against the floor.

    python benchmarks/bench_analysis.py            # about a minute
    python benchmarks/bench_analysis.py --quick    # seconds

Fixed points (:func:`bioplastic.analysis.find_fixed_points`): a tanh network (g = 1.5,
τ = 10, rate form) from starts drawn along 10 trajectories of 200 steps; printed are the
seconds, the points found, and the ratio to the floor: one evaluation of ``q`` and its
gradient over all starts (one (start × unit) × (unit × unit) matmul), times the L-BFGS
iterations the search ran.  CKA (:func:`bioplastic.analysis.linear_cka`) of two
(state × unit) arrays, against one (unit × state) × (state × unit) GEMM, the floor of forming
``YᵀX``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from timing import best_time

import bioplastic as bp
from bioplastic.analysis import find_fixed_points, linear_cka
from bioplastic.analysis.dynamics import residual_and_gradient


def fixed_point_row(n: int, n_starts: int, repeats: int) -> str:
    net = bp.LeakyRNN.random(1, n, 1, tau=10.0, g=1.5, seed=0)
    h0 = np.random.default_rng(1).standard_normal((10, n))
    traj = net.run(np.zeros((10, 200, 1)), h0).states.reshape(-1, n)
    starts = traj[np.random.default_rng(2).integers(len(traj), size=n_starts)]
    x = np.zeros(1)
    t0 = time.perf_counter()
    fp = find_fixed_points(net, starts, x)
    seconds = time.perf_counter() - t0
    one = best_time(lambda: residual_and_gradient(net, starts, x), repeats)
    kinds = ", ".join(f"{k} {int((fp.kind.values == k).sum())}" for k in np.unique(fp.kind.values))
    return (
        f"| {n} | {n_starts} | {seconds:.2f} | {kinds or 'none 0'} | {seconds / (500 * one):.1f} |"
    )


def cka_row(n_samples: int, n: int, repeats: int) -> str:
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((n_samples, n)), rng.standard_normal((n_samples, n))
    t = best_time(lambda: linear_cka(X, Y), repeats)
    gemm = best_time(lambda: Y.T @ X, repeats)
    return f"| {n_samples} | {n} | {1e3 * t:.2f} | {t / gemm:.1f} |"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    quick = ap.parse_args().quick
    print("## Fixed points (seconds; floor: one q-and-gradient per L-BFGS iteration run)\n")
    print("| N | starts | seconds | points | × floor |")
    print("|---|---|---|---|---|")
    for n, k in [(20, 100)] if quick else [(20, 1000), (100, 1000), (200, 1000)]:
        print(fixed_point_row(n, k, 3 if quick else 7))
    print("\n## Linear CKA (ms; floor: the one GEMM YᵀX)\n")
    print("| states | units | ms | × GEMM |")
    print("|---|---|---|---|")
    for s, n in [(1000, 50)] if quick else [(10_000, 100), (10_000, 300), (100_000, 100)]:
        print(cka_row(s, n, 3 if quick else 7))


if __name__ == "__main__":
    main()
