"""The ``bioplastic`` command line.

bioplastic check     # BPTT vs RTRL vs finite differences on random networks
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from ._version import __version__
from .network import FORMS, LeakyRNN
from .verify import compare_exact

#: the agreement `bioplastic check` demands (float64)
TOLERANCE = {"bptt_vs_rtrl": 1e-10, "bptt_vs_fd": 1e-7, "rtrl_vs_fd": 1e-7}


def check(n_rec: int, n_steps: int, n_trials: int, seed: int) -> int:
    """Print how closely BPTT, RTRL and finite differences agree; return an exit code."""
    rng = np.random.default_rng(seed)
    cases = [(form, alpha) for form in FORMS for alpha in ("0.1", "per-unit")]
    print(
        f"bioplastic {__version__}: exact gradients on random tanh networks, float64, "
        f"n_rec={n_rec}, T={n_steps}, {n_trials} trials, masked targets, seed={seed}\n"
    )
    print(
        f"{'form':8s} {'alpha':9s} {'|BPTT-RTRL|':>12s} {'|BPTT-FD|':>12s} "
        f"{'|RTRL-FD|':>12s}  (relative)"
    )
    worst_ok = True
    t0 = time.perf_counter()
    for form, alpha_kind in cases:
        alpha = 0.1 if alpha_kind == "0.1" else rng.uniform(0.05, 1.0, n_rec)
        net = LeakyRNN.random(
            2, n_rec, 2, tau=1.0 / alpha, form=form, seed=int(rng.integers(2**31))
        )
        net = net.with_params(
            {
                "b": 0.3 * rng.standard_normal(n_rec),
                "W_out": rng.standard_normal((2, n_rec)) / np.sqrt(n_rec),
            }
        )
        x = rng.standard_normal((n_trials, n_steps, 2))
        target = rng.standard_normal((n_trials, n_steps, 2))
        mask = (rng.random(target.shape) < 0.7).astype(float)
        err = compare_exact(net, x, target, mask)
        ok = all(err[k] <= TOLERANCE[k] for k in err)
        worst_ok &= ok
        print(
            f"{form:8s} {alpha_kind:9s} {err['bptt_vs_rtrl']:12.1e} {err['bptt_vs_fd']:12.1e} "
            f"{err['rtrl_vs_fd']:12.1e}  {'ok' if ok else 'FAIL'}"
        )
    limits = ", ".join(f"{k} <= {v:g}" for k, v in TOLERANCE.items())
    print(
        f"\n{'all agree' if worst_ok else 'DISAGREEMENT'} ({limits}) "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    return 0 if worst_ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bioplastic", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"bioplastic {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("check", help="check BPTT = RTRL = finite differences on random networks")
    p.add_argument("--units", type=int, default=8, help="recurrent units (default 8)")
    p.add_argument("--steps", type=int, default=30, help="time steps per trial (default 30)")
    p.add_argument("--trials", type=int, default=3, help="trials per batch (default 3)")
    p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "check":
        return check(args.units, args.steps, args.trials, args.seed)
    return 2  # unreachable: argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
