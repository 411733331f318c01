"""Brian2 against bioplastic: simulation time, and the discretisation error against the ODE.

    python benchmarks/bench_brian2.py            # N = 100 and 1000, 1000 steps (a few minutes)
    python benchmarks/bench_brian2.py --quick    # N = 20, 100 steps (the test suite runs this)

1. Wall time of ``simulate_brian2`` (object building, code generation and the run; the
   ``cpp_standalone`` line includes compiling) against ``net.run``, for one trial of 1000 steps,
   rate form, Euler at the network's step.  Both produce the same trajectory (checked here).
2. The error of the discrete network (``net.run`` at α = dt/τ) against the ODE solved by SciPy
   (``bioplastic.brian.ode_solution``), for dt/τ ∈ {0.01, 0.1, 1}; and of Brian2 at Δ/10, Δ/100
   with Euler and RK4 (summed variables are fixed within a Brian2 step, so both are first order).
"""

from __future__ import annotations

import argparse
import shutil
import time

import brian2 as b2
import numpy as np
from timing import best_time

import bioplastic as bp
from bioplastic.brian import ode_solution, simulate_brian2


def timing(sizes: list[int], n_steps: int, compiled: bool) -> None:
    print(f"## Simulation time, one trial of {n_steps} steps (rate form, tanh, Euler at Δ)\n")
    print("| N | synapses | net.run (ms) | Brian2 numpy (s) | ratio | cpp_standalone (s) | dev |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        net = bp.LeakyRNN.random(2, n, 2, tau=10.0, seed=0)
        x = np.random.default_rng(0).standard_normal((1, n_steps, 2))
        t_run = best_time(lambda: net.run(x), 5)
        t0 = time.perf_counter()
        states, _ = simulate_brian2(net, x)
        t_b2 = time.perf_counter() - t0
        dev = np.abs(states - net.run(x).states).max()
        cpp = "—"
        if compiled:
            t0 = time.perf_counter()
            s_cpp, _ = simulate_brian2(net, x, codegen="cpp_standalone")
            cpp = f"{time.perf_counter() - t0:.1f}"
            dev = max(dev, np.abs(s_cpp - states).max())
        print(
            f"| {n} | {n * n:,} | {1e3 * t_run:.1f} | {t_b2:.2f} | {t_b2 / t_run:,.0f}× | {cpp} "
            f"| {dev:.1e} |"
        )


def discretisation(n_intervals: int) -> None:
    print(f"\n## Discretisation error against the ODE (N = 30, {n_intervals} τ of input)\n")
    print("Input held constant over each τ-long interval; errors are max |h - h_ODE| at t = kτ,")
    print("relative to max |h_ODE|.\n")
    base = bp.LeakyRNN.random(2, 30, 2, tau=1.0, seed=1)
    p = base.params
    x_tau = np.random.default_rng(2).standard_normal((1, n_intervals, 2))
    ode_net = bp.LeakyRNN(p["W_in"], p["W_rec"], p["W_out"], tau=1.0, dt=1.0)
    ref = ode_solution(ode_net, x_tau)
    scale = np.abs(ref).max()
    print("| dt/τ | discrete model (net.run) | Brian2 Euler, Δ/10 | Brian2 RK4, Δ/10 |")
    print("|---|---|---|---|")
    for a in (0.01, 0.1, 1.0):
        per = round(1 / a)
        net = bp.LeakyRNN(p["W_in"], p["W_rec"], p["W_out"], alpha=a)
        x = np.repeat(x_tau, per, axis=1)
        at_tau = slice(per - 1, None, per)
        row = [np.abs(net.run(x).states[:, at_tau] - ref).max()]
        for method in ("euler", "rk4"):
            s = simulate_brian2(net, x, method=method, dt=b2.ms / 10).states[:, at_tau]
            row.append(np.abs(s - ref).max())
        print(f"| {a:g} | " + " | ".join(f"{e / scale:.2e}" for e in row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (for the test suite)")
    args = parser.parse_args()
    compiled = shutil.which("g++") is not None and not args.quick
    if args.quick:
        timing([20], 100, compiled)
        discretisation(3)
    else:
        timing([100, 1000], 1000, compiled)
        discretisation(20)


if __name__ == "__main__":
    main()
