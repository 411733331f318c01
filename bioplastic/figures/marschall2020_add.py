"""Marschall, Cho & Savin 2020 (JMLR 21), the Add task: test loss against dependency length.

The Add stream (``models/marschall2020_add.toml``): bits held 2 steps, target
p = 0.5 + 0.5 x(t−d) − 0.25 x(t−d−1) for lags (d, d+1), d ∈ {0, 2, …, 14}, two outputs with
softmax cross-entropy; N = 32, α = 0.5; online updates every step.  The paper trains 10⁶ steps
with SGD (lr 1e-4) and 20 seeds; this shorter variant trains 40,000 steps (400 chunks of 100)
with Adam (lr 1e-3) and 3 seeds.  Rules: RTRL, truncated BPTT (window 30, as the paper's
F-BPTT), UORO, KF-RTRL, R-KF-RTRL, RFLO (random feedback), e-prop, SnAp-1, and a fixed-W_rec
baseline (only W_out and b_out learn, with BPTT).  Test loss: cross-entropy per step on fresh
held-out stream starts after training (chance, always predicting ½, is ln 2 = 0.693).

The dotted levels are the task's own entropies (no fitted numbers): the best possible loss
knowing both lagged bits, only x(t−d), or neither (:func:`levels`).  The numbers reported
per rule are the test loss at the shortest and longest d, the mean over d, and the longest d
at which the median loss is below 0.59 (about halfway between knowing x(t−d) and knowing
nothing: the rule has learned at least part of the first dependency).
"""

from __future__ import annotations

import numpy as np
from scipy.special import entr

from .common import FigureRun, plt, run_sweep

NAME = "marschall2020_add"
PRESET = "marschall2020_add.toml"
RULES = ["rtrl", "uoro", "kf_rtrl", "rkf_rtrl", "rflo", "eprop", "snap1"]
EXPECT = (
    "the exact methods are best; KF-RTRL beats UORO; local rules fall off with longer dependencies"
)


LEARNED = 0.59  # below this, at least part of the first dependency is learned


def _entropy(p: np.ndarray) -> np.ndarray:
    return entr(p) + entr(1 - p)  # nats; entr(0) = 0


def levels(test=None) -> dict[str, float]:
    """The best cross-entropy per step knowing both lagged bits, x(t−d) only, or neither.

    p = 0.5 + 0.5 x1 − 0.25 x2 with x1, x2 ~ Bernoulli(½) independent.  The three predictors
    are p itself, E[p | x1] = 0.375 + 0.5 x1, and E[p] = 0.625.  Without ``test``, their
    expected losses: the mean of H(p), of H(E[p | x1]), and H(E[p]).  With ``test`` (the
    :class:`~bioplastic.tasks.Trials` of an Add test set), their mean cross-entropy on its
    counted steps (mask > 0): the levels of the very set the rules are scored on.  x1 is read
    from the target (p ≥ 0.75 exactly when x1 = 1).
    """
    if test is None:
        x1, x2 = np.meshgrid([0.0, 1.0], [0.0, 1.0])
        p = 0.5 + 0.5 * x1 - 0.25 * x2
        return {
            "both lags known": float(_entropy(p).mean()),
            "x(t−d) known": float(_entropy(p.mean(axis=0)).mean()),
            "no memory": float(_entropy(np.array([p.mean()]))[0]),
        }
    p = test.target[..., 0]
    w = np.ones_like(p) if test.mask is None else test.mask[..., 0]

    def xent(q):
        return float((w * -(p * np.log(q) + (1 - p) * np.log(1 - q))).sum() / w.sum())

    return {
        "both lags known": float((w * _entropy(p)).sum() / w.sum()),
        "x(t−d) known": xent(0.375 + 0.5 * (p >= 0.75)),
        "no memory": xent(np.full_like(p, 0.625)),
    }


def make(fig: FigureRun) -> dict:
    ds_ = [0, 4] if fig.quick else list(range(0, 16, 2))
    seeds = [0] if fig.quick else [0, 1, 2]
    base = ["training.n_trials=60", "network.n_rec=16"] if fig.quick else []
    lags = {"task.t1,task.t2": [(d, d + 1) for d in ds_]}
    main = run_sweep(fig, "rules", PRESET, base, {**lags, "rule": RULES}, seeds)
    tb = run_sweep(
        fig, "tbptt", PRESET, [*base, "rule.name=tbptt", "rule.truncation=30"], lags, seeds
    )
    fixed = run_sweep(
        fig,
        "fixed",
        PRESET,
        [
            *base,
            "rule.name=bptt",
            "training.update_every=100",
            "network.plastic=['W_out', 'b_out']",
        ],
        lags,
        seeds,
    )
    chunk = 100
    curves = {r: main.sel(rule_name=r).eval_loss.isel(evaluation=-1) / chunk for r in RULES}
    curves["tbptt(30)"] = tb.eval_loss.isel(evaluation=-1) / chunk
    curves["fixed W_rec"] = fixed.eval_loss.isel(evaluation=-1) / chunk
    f, ax = plt.subplots(figsize=(8, 5))
    numbers = {}
    for i, (label, c) in enumerate(curves.items()):
        med = c.median("seed").values
        lo, hi = c.quantile(0.25, "seed").values, c.quantile(0.75, "seed").values
        style = "-" if label in ("rtrl", "tbptt(30)") else ("--" if label == "fixed W_rec" else "-")
        (line,) = ax.plot(ds_, med, "o" + style, ms=4, label=label, color=f"C{i}")
        ax.fill_between(ds_, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
        numbers[f"{label}: test loss per step at d={ds_[0]}, d={ds_[-1]}"] = (
            float(med[0]),
            float(med[-1]),
        )
        numbers[f"{label}: mean test loss over d"] = float(np.mean(med))
        learned = [d for d, m in zip(ds_, med) if m < LEARNED]
        numbers[f"{label}: longest d learned (loss < {LEARNED})"] = max(learned, default=-1)
    for name, level in levels().items():
        ax.axhline(level, color="0.5", ls=":", lw=1)
        ax.text(ds_[-1], level, f" {name} ({level:.3f})", fontsize=7, va="bottom", ha="right")
    ax.set_xlabel("dependency length d (lags d, d+1, in samples)")
    ax.set_ylabel("test cross-entropy per step")
    ax.set_title(
        f"Marschall et al. 2020, Add{' (quick)' if fig.quick else ''}: "
        f"{len(seeds)} seed(s), median and 25–75%"
    )
    ax.legend(frameon=False, fontsize=8, ncol=2)
    fig.save(f)
    return numbers


def check(numbers: dict, quick: bool) -> list[str]:
    def at(label: str, i: int) -> float:
        return next(v for k, v in numbers.items() if k.startswith(label + ":"))[i]

    def mean(label: str) -> float:
        return numbers[f"{label}: mean test loss over d"]

    bad = []
    if not at("rtrl", 0) < at("fixed W_rec", 0):
        bad.append("RTRL does not beat the fixed-W_rec baseline at the shortest lag")
    if not quick:
        if not mean("rtrl") < mean("kf_rtrl") < mean("uoro"):
            bad.append("the mean loss over d is not ordered RTRL < KF-RTRL < UORO")
        for local in ("rflo", "eprop", "snap1"):
            if not mean(local) > mean("kf_rtrl"):
                bad.append(f"{local} does not fall behind KF-RTRL over d")
            if not at(local, -1) - at(local, 0) > 0:
                bad.append(f"{local} does not fall off with longer dependencies")
    return bad
