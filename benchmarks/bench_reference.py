"""The reference research code's online step, measured once, beside bioplastic's.

The reference is the code of Marschall, Cho & Savin 2020 (JMLR 21) at the commit of its Add and
Mimic sweeps, FigTop/vanilla-rtrl_old @ d83dddcf.  It is not vendored; clone it yourself:

    git clone https://github.com/FigTop/vanilla-rtrl_old /tmp/vrtrl
    git -C /tmp/vrtrl checkout d83dddcf
    python benchmarks/bench_reference.py --repo /tmp/vrtrl [--steps 3000]

Both run the set-up of the authors' main.py: the Add task (lags 4 and 5, samples held 2 steps),
32 tanh units, α = 0.5, softmax cross-entropy, SGD lr 1e-4 with an update every step, one
stream; the time per step includes the forward step, the loss, the rule and the update.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import bioplastic as bp
from bioplastic import kernels
from bioplastic.optim import SGD
from bioplastic.tasks import Add

RULES = {"RFLO": "rflo", "RTRL": "rtrl", "UORO": "uoro", "KF-RTRL": "kf_rtrl"}


def reference(repo: str, name: str, steps: int) -> float:
    """Seconds per step of the reference code's Simulation.run (no monitors)."""
    sys.path.insert(0, repo)
    from functions import softmax, softmax_cross_entropy, tanh
    from gen_data import Add_Task
    from learning_algorithms import KF_RTRL, RFLO, RTRL, UORO
    from network import RNN
    from optimizers import Stochastic_Gradient_Descent
    from simulation import Simulation

    np.random.seed(0)
    task = Add_Task(4, 5, deterministic=True, tau_task=2)
    data = task.gen_data(steps, 100)
    n_in, n_h, n_out = task.n_in, 32, task.n_out
    W_in = np.random.normal(0, np.sqrt(1 / n_in), (n_h, n_in))
    W_rec = np.linalg.qr(np.random.normal(0, 1, (n_h, n_h)))[0]
    W_out = np.random.normal(0, np.sqrt(1 / n_h), (n_out, n_h))
    rnn = RNN(
        W_in,
        W_rec,
        W_out,
        np.zeros(n_h),
        np.zeros(n_out),
        activation=tanh,
        alpha=0.5,
        output=softmax,
        loss=softmax_cross_entropy,
    )
    alg = {
        "RFLO": lambda: RFLO(rnn, alpha=0.5),
        "RTRL": lambda: RTRL(rnn),
        "UORO": lambda: UORO(rnn),
        "KF-RTRL": lambda: KF_RTRL(rnn),
    }[name]()
    sim = Simulation(rnn)
    t0 = time.perf_counter()
    sim.run(
        data,
        learn_alg=alg,
        optimizer=Stochastic_Gradient_Descent(lr=0.0001),
        monitors=[],
        verbose=False,
        check_accuracy=False,
        check_loss=False,
    )
    return (time.perf_counter() - t0) / steps


def ours(rule: str, steps: int) -> float:
    """Seconds per step of bioplastic's online training on the same set-up."""
    task = Add(t1=4, t2=5, hold=2, chunk=100, test_steps=100, test_warmup=20)
    net = bp.LeakyRNN.random(2, 32, 2, tau=2.0, g=1.0, init="marschall", seed=0)
    kw = dict(
        update="online", update_every=1, optimizer=SGD(lr=1e-4), eval_every=10**6, n_eval=1, seed=0
    )
    bp.train(net, task, rule, n_trials=2, **kw)  # warm up (and compile, cached on disk)
    t0 = time.perf_counter()
    bp.train(net, task, rule, n_trials=steps // 100, **kw)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", required=True, help="a checkout of vanilla-rtrl_old @ d83dddcf")
    ap.add_argument("--steps", type=int, default=3000)
    args = ap.parse_args()
    print(f"compiled kernels {'on' if kernels.available() else 'off'}")
    print("| rule | reference (µs / step) | bioplastic (µs / step) | reference / bioplastic |")
    print("|---|---|---|---|")
    for name, rule in RULES.items():
        ref, me = reference(args.repo, name, args.steps), ours(rule, args.steps)
        print(f"| {name} | {ref * 1e6:.1f} | {me * 1e6:.1f} | {ref / me:.1f} |", flush=True)


if __name__ == "__main__":
    main()
