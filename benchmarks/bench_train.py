"""Training speed on Murray's periodic preset, and the training loop's overhead.

    python benchmarks/bench_train.py           # bptt, rtrl, rflo, eprop
    python benchmarks/bench_train.py --quick

For each rule it prints trials per second of ``bioplastic.train`` on
``models/murray2019_periodic.toml`` (N = 30, T = 200 steps, batch 1, SGD, no alignment), and the
loop's overhead: the time per trial of ``train`` over the time of the rule's own
gradient on the same trial (forward pass and estimate, ``bioplastic.gradient.evaluate``).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
from timing import best_time

import bioplastic as bp
from bioplastic.config import build, load_preset
from bioplastic.gradient import evaluate, rule_streams
from bioplastic.objective import prepare
from bioplastic.rules import make_rule
from bioplastic.rules.feedback import feedback_matrix

PRESET = Path(__file__).resolve().parent.parent / "models" / "murray2019_periodic.toml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    print("| rule | trials / s | train ms / trial | gradient ms / trial | loop overhead |")
    print("|---|---|---|---|---|")
    for rule in ("bptt", "rtrl", "rflo", "eprop"):
        n = (20 if rule == "rtrl" else 200) if args.quick else (100 if rule == "rtrl" else 2000)
        preset = load_preset(PRESET, [f"rule.name={rule}", f"training.n_trials={n}"])
        no_alignment = dataclasses.replace(preset.training, align_with=None)  # TOML has no null
        preset = dataclasses.replace(preset, training=no_alignment)
        net, task, opt = build(preset)
        t0 = time.perf_counter()
        ds = bp.config.run(preset, progress=False)
        t_train = (time.perf_counter() - t0) / n
        assert ds.attrs["status"] == "complete"
        r = make_rule(rule, {})
        fb, rng = rule_streams(0)
        B = feedback_matrix(net, preset.rule.feedback or r.default_feedback, fb)
        tr = task.sample(1, np.random.default_rng(0))
        batch = prepare(net, tr.x, tr.target)
        t_grad = best_time(lambda: evaluate(net, batch, r, B, rng), 5 if rule == "rtrl" else 50)
        print(
            f"| {rule} | {1 / t_train:.0f} | {t_train * 1e3:.2f} | {t_grad * 1e3:.2f} | "
            f"{100 * (t_train / t_grad - 1):.0f}% |",
            flush=True,
        )


if __name__ == "__main__":
    main()
