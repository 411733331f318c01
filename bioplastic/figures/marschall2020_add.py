"""Marschall, Cho & Savin 2020 (JMLR 21), the Add task: test loss against dependency length.

The Add stream (``models/marschall2020_add.toml``): bits held 2 steps, target
p = 0.5 + 0.5 x(t−d) − 0.25 x(t−d−1) for lags (d, d+1), two outputs with softmax
cross-entropy; N = 32, α = 0.5, W_rec random orthogonal; online updates every step.  The set-up
is the authors' code's (FigTop/vanilla-rtrl_old, commit d83dddcf); the paper's body was not
available to us, so its claims are those of its abstract: performances cluster by the
framework's criteria, and alignment with the exact gradient does not explain performance (the
alignment figure tests the second).

Two protocols, each labelled:

* **fast (ours)**: Adam lr 1e-3 for 40,000 steps, d = 0, 2, …, 14, 12 seeds (the authors' Add
  sweep has 12);
* **the authors' protocol**: SGD lr 1e-4 for 10⁶ steps (the code's), on a subset of its
  sweep (which ran d = 0 … 14, 12 seeds and 10 algorithms): d ∈ {2, 6, 10}, 10 seeds, RTRL,
  UORO, KF-RTRL and RFLO with both feedbacks.  It is a sweep like any other:
  ``--scheduler tcp://host:port`` runs it on a cluster.

Rules: RTRL; truncated BPTT with a 30-step window (updating every step); F-BPTT with the
paper's window of 30; UORO; KF-RTRL; R-KF-RTRL; OK (rank 2); RFLO with B = W_outᵀ (the
authors' code's default feedback for every rule; in the rate form this is e-prop), RFLO with a
random B; SnAp-1; KeRNL; DNI; and a fixed-W_rec baseline (only W_out and b_out learn, the
code's "only output weights").  Every arm has the same preset and learning rate.  Test loss:
cross-entropy per step on a fresh 10,000-step test stream (as the code's) whose first 100
steps are an unscored warm-up.

The dotted levels are the best losses on the very test sets scored, knowing both lagged bits,
x(t−d) only, or neither (:func:`levels`; the code's plots draw 0.45, 0.52 and 0.66).  "Learned
d" means a median test loss below the midpoint of the last two levels: at least part of the
first dependency is learned.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.special import entr

from .common import FigureRun, plt
from .marschall2020 import (
    ARMS,
    GROUP_STYLE,
    check_beats_fixed,
    check_clusters,
    check_exact_first,
    cluster_numbers,
    color,
    overrides,
    panel_dendrogram,
    per_step,
    sweep_over,
    test_sets,
)

NAME = "marschall2020_add"
PRESET = "marschall2020_add.toml"
EXPECT = (
    "performances cluster by the framework's criteria (exact; stochastic; deterministic "
    "approximations); the exact methods learn the longest dependencies"
)
PAPER_ARMS = ["RTRL", "UORO", "KF-RTRL", "RFLO, B=W_outᵀ", "RFLO, random B"]
PAPER = [
    "optimizer.name=sgd",
    "optimizer.lr=0.0001",
    "training.n_trials=10000",
    "training.eval_every=1000",
]
LAGS = "task.t1,task.t2"
WINDOW = 30  # T-BPTT's window: the authors' F-BPTT window for Add


def _settings(quick: bool) -> dict:
    if quick:
        return dict(
            lags=[0, 4],
            seeds=[0],
            paper_lags=[2],
            paper_seeds=[0],
            steps=2000,
            base=[
                "training.n_trials=20",
                "network.n_rec=12",
                "task.test_steps=2000",
                "optimizer.lr=0.005",
            ],
            paper=[
                "optimizer.name=sgd",
                "optimizer.lr=0.001",
                "training.n_trials=20",
                "training.eval_every=10",
            ],
            paper_arms=["RTRL", "RFLO, random B"],
        )
    return dict(
        lags=list(range(0, 16, 2)),
        seeds=list(range(12)),
        paper_lags=[2, 6, 10],
        paper_seeds=list(range(10)),
        steps=10_000,
        base=[],
        paper=PAPER,
        paper_arms=PAPER_ARMS,
    )


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


# ------------------------------------------------------------------------------- the runs
def _lags(fig, part, overrides, lags, seeds) -> xr.Dataset:
    return sweep_over(fig, PRESET, part, overrides, LAGS, [(d, d + 1) for d in lags], seeds)


def runs(fig: FigureRun) -> dict:
    st = _settings(fig.quick)
    fast = {
        label: _lags(
            fig, f"fast_{i}", [*st["base"], *overrides(label, WINDOW)], st["lags"], st["seeds"]
        )
        for i, label in enumerate(ARMS)
    }
    paper = {
        label: _lags(
            fig,
            f"paper_{i}",
            [*st["base"], *overrides(label, WINDOW), *st["paper"]],
            st["paper_lags"],
            st["paper_seeds"],
        )
        for i, label in enumerate(st["paper_arms"])
    }
    return dict(fast=fast, paper=paper)


def test_levels(fig: FigureRun, part: str, ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Each level (:func:`levels`) on the runs' own test sets, by d (mean over seeds)."""
    per_d = [[levels(test) for test in tests] for tests in test_sets(fig, part, ds)]
    return {k: np.array([np.mean([lv[k] for lv in d]) for d in per_d]) for k in levels()}


def _learned(med: np.ndarray, lv: dict[str, np.ndarray]) -> np.ndarray:
    """Whether the median loss is below the midpoint of "x(t−d) known" and "no memory"."""
    return med < 0.5 * (lv["x(t−d) known"] + lv["no memory"])


# ------------------------------------------------------------------------------- numbers
def numbers_of(r: dict, lv: dict, lv_paper: dict, st: dict) -> dict:
    out: dict = {"d": st["lags"], "paper d": st["paper_lags"]}
    for k, v in lv.items():
        out[f"level {k}, by d"] = [float(x) for x in v]
    profiles = {}
    for proto, lags, level in (("fast", st["lags"], lv), ("paper", st["paper_lags"], lv_paper)):
        for label, ds in r[proto].items():
            med = per_step(ds, st["steps"]).median("seed").values
            out[f"{proto} {label}: median test loss by d"] = [float(x) for x in med]
            out[f"{proto} {label}: mean"] = float(np.mean(med))
            learned = [d for d, ok in zip(lags, _learned(med, level)) if ok]
            out[f"{proto} {label}: longest d learned"] = max(learned, default=-1)
            out[f"{proto} {label}: runs not complete"] = int((ds.status.values != "complete").sum())
            if ARMS[label][1] != "baseline":
                profiles.setdefault(proto, {})[label] = med
    for proto, prof in profiles.items():
        out.update(cluster_numbers(prof, proto))
    return out


# ------------------------------------------------------------------------------- panels
def _panel_lags(ax, results, lags, lv, steps, legend_at=(1.0, 0.07)):
    for label, ds in results.items():
        c = per_step(ds, steps)
        med = c.median("seed").values
        lo, hi = c.quantile(0.25, "seed").values, c.quantile(0.75, "seed").values
        ax.plot(
            lags,
            med,
            marker="o",
            ls=GROUP_STYLE[ARMS[label][1]],
            ms=4,
            label=label,
            color=color(label),
        )
        ax.fill_between(lags, lo, hi, color=color(label), alpha=0.12, lw=0)
    for name, level in lv.items():
        ax.plot(lags, level, color="0.5", ls=":", lw=1)
        ax.text(lags[-1], level[-1], f" {name}", fontsize=7, va="bottom", ha="right")
    ax.set_xticks(lags, [str(d) for d in lags])
    ax.set_xlabel("dependency length d (lags d, d+1, in samples)")
    ax.set_ylabel("test cross-entropy per step (nats)")
    ax.legend(frameon=False, fontsize=7, ncol=2, loc="lower right", bbox_to_anchor=legend_at)


def _panel_curves(ax, results, steps, d_index, d):
    for label, ds in results.items():
        c = per_step(ds, steps, final=False).isel(d=d_index)
        x = ds.trials_seen.isel({ds.trials_seen.dims[0]: d_index}).isel(seed=0).values * 100
        ax.plot(
            x / 1e6,
            c.median("seed").values,
            marker=".",
            label=label,
            color=color(label),
            ls=GROUP_STYLE[ARMS[label][1]],
        )
    ax.set_xlabel("online steps (millions)")
    ax.set_ylabel(f"test loss per step at d = {d} (nats)")
    ax.legend(frameon=False, fontsize=7)


def make(fig: FigureRun) -> dict:
    st = _settings(fig.quick)
    r = runs(fig)
    lv = test_levels(fig, "fast_0", r["fast"]["RTRL"])
    lv_paper = test_levels(fig, "paper_0", r["paper"]["RTRL"])
    f, axes = plt.subplots(2, 2, figsize=(15, 10))
    _panel_lags(axes[0, 0], r["fast"], st["lags"], lv, st["steps"])
    axes[0, 0].set_title(f"(a) fast (ours): Adam 1e-3, 40,000 steps, {len(st['seeds'])} seeds")
    _panel_lags(axes[0, 1], r["paper"], st["paper_lags"], lv_paper, st["steps"], (1.0, 0.42))
    axes[0, 1].set_title(
        "(b) the authors' protocol (quick: SGD, short)"
        if fig.quick
        else f"(b) the authors' protocol: SGD 1e-4, 10⁶ steps, {len(st['paper_seeds'])} seeds"
    )
    i = len(st["paper_lags"]) // 2
    _panel_curves(axes[1, 0], r["paper"], st["steps"], i, st["paper_lags"][i])
    axes[1, 0].set_title("(c) the authors' protocol: test loss during training")
    profiles = {
        k: per_step(ds, st["steps"]).median("seed").values
        for k, ds in r["fast"].items()
        if ARMS[k][1] != "baseline"
    }
    panel_dendrogram(axes[1, 1], profiles)
    axes[1, 1].set_title(
        "(d) rules clustered by their loss against d (fast); colour: the framework's group",
        fontsize=9,
    )
    f.suptitle(
        f"Marschall et al. 2020, Add{' (quick)' if fig.quick else ''}: N=32, α=0.5, orthogonal "
        f"W_rec (the authors' code); test: {st['steps']:,} fresh steps after a 100-step "
        "warm-up; median and 25–75%\ndotted: the best losses on these test sets knowing both "
        "lags, x(t−d) only, or neither"
    )
    fig.save(f)
    return numbers_of(r, lv, lv_paper, st)


def check(numbers: dict, quick: bool) -> list[str]:
    bad = check_beats_fixed(numbers, "the shortest lag")
    if quick:
        return bad
    bad += check_clusters(numbers, "paper")  # the abstract's claim, the authors' protocol
    bad += check_clusters(numbers, "fast")
    bad += check_exact_first(numbers, "paper", PAPER_ARMS)  # ours: an expectation
    bad += check_exact_first(numbers, "fast", list(ARMS))
    return bad
