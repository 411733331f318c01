"""Exact RTRL's cost per online step against the network's size: dense against columnar.

    python benchmarks/bench_structure.py            # about a minute
    python benchmarks/bench_structure.py --quick    # seconds

Javed et al. 2023 (seed 003, section 5): on a columnar network exact RTRL costs O(parameters)
per step; on a dense one O(n⁴) = O(parameters²).  For each network it prints one RTRL step
(``RTRL.step`` on a prepared step, batch 1: the influence, the immediate term and the readout
of ``q_t M_t``), one forward step (``net.run`` over T steps, divided by T) and their ratio,
then the slope of log(step time) against log(parameters of Θ) over the larger half of the
sizes, where the arithmetic, not numpy's per-call overhead, sets the time.  The forward step
still multiplies the whole ``W_rec`` (zeros included), so on a large columnar network it
costs O(n²) while the RTRL step costs O(parameters).
"""

from __future__ import annotations

import argparse

import numpy as np
from timing import best_time

import bioplastic as bp
from bioplastic.gradient import rule_streams
from bioplastic.objective import output_error, prepare
from bioplastic.rules import RTRL
from bioplastic.rules.base import direct_credit, steps
from bioplastic.rules.online import theta_width

N_IN = N_OUT = 2
T = 50


def step_times(net: bp.LeakyRNN, repeats: int) -> tuple[float, float]:
    """Seconds per RTRL step and per forward step, batch 1."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((1, T, N_IN)), rng.standard_normal((1, T, N_OUT))
    batch = prepare(net, x, y)
    trace = net.forward(batch.x, batch.h0, derivatives=True)
    e = output_error(trace, batch)
    sts = list(steps(net, trace, e, direct_credit(net, trace, e, net.params["W_out"].T)))
    rule = RTRL()
    state = [rule.init(net, 1, rule_streams(0)[1])]  # made once: its (unit, m) sums are dense

    def run():
        for st in sts:
            state[0] = rule.step(state[0], net, st)

    return best_time(run, repeats) / T, best_time(lambda: net.run(x), repeats) / T


def table(title: str, nets: list[bp.LeakyRNN], repeats: int) -> None:
    print(f"\n## {title}")
    print(
        "| units | learning parameters of Θ | RTRL step (µs) | forward step (µs) | RTRL / forward |"
    )
    print("|---|---|---|---|---|")
    sizes, times = [], []
    for net in nets:
        rtrl, fwd = step_times(net, repeats)
        params = int(sum(np.count_nonzero(m) for m in _theta_masks(net)))
        sizes.append(params)
        times.append(rtrl)
        print(
            f"| {net.n_rec} | {params} | {rtrl * 1e6:.1f} | {fwd * 1e6:.1f} | {rtrl / fwd:.1f} |",
            flush=True,
        )
    half = len(sizes) // 2
    slope = np.polyfit(np.log(sizes[half:]), np.log(times[half:]), 1)[0]
    print(f"\nlog-log slope of the RTRL step in the parameters (larger half): {slope:.2f}")


def _theta_masks(net: bp.LeakyRNN) -> list[np.ndarray]:
    """Which entries of W_rec, W_in and b exist and learn (the parameters RTRL follows)."""
    n = net.n_rec
    conn, learn = net.connectivity, net.plastic_masks
    assert theta_width(net) == n + net.n_in + 1
    shapes = {"W_rec": (n, n), "W_in": (n, net.n_in), "b": (n,)}
    return [
        conn.get(k, np.ones(s, dtype=bool)) & learn.get(k, np.ones(s, dtype=bool))
        for k, s in shapes.items()
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    dense_n = [4, 8, 16] if args.quick else [4, 8, 16, 32, 64, 96, 128]
    columns = [16, 64, 256] if args.quick else [16, 64, 256, 1024, 4096]
    repeats = 2 if args.quick else 5
    print(f"bioplastic {bp.__version__}, numpy {np.__version__}, float64, batch 1, T = {T}")
    table(
        "dense RTRL",
        [bp.LeakyRNN.random(N_IN, n, N_OUT, tau=2.0, seed=0) for n in dense_n],
        repeats,
    )
    table(
        "columnar RTRL: columns of one unit (Javed et al. 2023)",
        [bp.LeakyRNN.columnar(N_IN, c, 1, N_OUT, tau=2.0, seed=0) for c in columns],
        repeats,
    )
    table(
        "constructive RTRL: the newest of one-unit stages learns (Javed et al. 2023)",
        [grown(n) for n in ([4, 16, 64] if args.quick else [4, 16, 64, 256, 1024])],
        repeats,
    )
    lstm_table(args.quick, repeats)


def lstm_table(quick: bool, repeats: int) -> None:
    """One online TD(λ) step of each of Javed et al.'s LSTM networks (Fig. 2), compiled: the
    forward pass, the credit (per-unit traces, or T-BPTT over 27 steps) and the update; beside
    one compiled forward step of the same network (nothing learning) and the ratio.  The
    growing networks are timed at their last stage (constructive: 23 units, the newest
    learning; hybrid: 108, the newest 8)."""
    from bioplastic.figures.javed2023_trace_patterning import METHODS
    from bioplastic.training.td_learner import Learner

    steps = 2_000 if quick else 20_000
    x = bp.tasks.TracePatterning().stream(1, np.random.default_rng(0)).next(steps).x[0]
    print("\n## LSTM online TD(λ) step, compiled (Javed et al. 2023, Fig. 2 networks)")
    print("| network | units (learning) | parameters | step | forward step | step / forward |")
    print("|---|---|---|---|---|---|")
    for name, m in METHODS.items():
        kind = bp.LSTM.columnar if m["kind"] == "columnar" else bp.LSTM.dense
        net = kind(12, m["n"], 1, seed=0)
        learning = m["n"]
        if "growth" in m:  # the last stage of the schedule: the newest stage learns
            every, size, top = m["growth"]
            while net.n_rec < top:
                learning = min(size, top - net.n_rec)
                net = net.grow(learning)
        frozen = bp.LSTM(**net.params, connectivity=net.connectivity, plastic=())
        times = []
        for model, credit in ((net, m.get("credit", "traces")), (frozen, "traces")):
            learner = Learner(model, credit, m.get("truncation"), 1e-3, m["lam"], 0.9)
            learner.run(x[:100], x[:100, 6], True)  # compile, warm
            times.append(best_time(lambda: learner.run(x, x[:, 6], True), repeats) / steps)
        n_par = sum(int(np.count_nonzero(v)) for v in net.params.values())
        print(
            f"| {name} | {net.n_rec} ({learning}) | {n_par:,} | {times[0] * 1e6:.1f} µs "
            f"| {times[1] * 1e6:.1f} µs | {times[0] / times[1]:.1f} |"
        )


def grown(n_rec: int) -> bp.LeakyRNN:
    """A constructive network of ``n_rec`` one-unit stages, the last one learning: its influence
    has ``n_rec + N_IN + 1`` entries, whatever came before."""
    net = bp.LeakyRNN.columnar(N_IN, 1, 1, N_OUT, tau=2.0, seed=0)
    net = net.grow(n_rec - 2, seed=1) if n_rec > 2 else net  # the frozen past, built at once
    return net.grow(1, seed=2)


if __name__ == "__main__":
    main()
