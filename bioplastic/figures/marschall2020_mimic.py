"""Marschall, Cho & Savin 2020 (JMLR 21), the Mimic task: test loss against task difficulty.

A learner RNN must reproduce, online, the two linear outputs of a fixed random target RNN
driven by the same input, two independent random bits held 2 steps
(``models/marschall2020_mimic.toml``, :class:`~bioplastic.tasks.Mimic`).  The target's
recurrent weights are a random orthogonal matrix scaled by 0.5 + 0.1 d: the larger the
difficulty d, the longer the target remembers its input.  Set-up from the authors' code
(FigTop/vanilla-rtrl_old, main.py at commits 4339afb1 and d83dddcf: both networks 32 tanh units
with α = 0.5, the learner's W_rec orthogonal, d = 0 … 9, 9 seeds, 10⁶ steps of SGD lr 1e-4,
a 10,000-step test stream).  The paper's body was not available to us (see
:mod:`bioplastic.figures.marschall2020` for the claims checked).

Ours: the fast protocol only (Adam lr 1e-3 for 40,000 steps; the paper's 10⁶ SGD steps are
not run for Mimic), one target network per d (``target_seed`` 0) for every learner seed, and
the test stream scored after a 100-step warm-up.  The loss is the code's, ½ × the squared
error averaged over the 2 outputs, per step; the dotted line is the loss of the best constant
output on the test set (½ × the outputs' mean variance), which a network that learned nothing
about the input would reach.  Rules and the fixed-W_rec baseline as in the Add figure.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .common import FigureRun, plain_log, plt
from .marschall2020 import (
    ARMS,
    GROUP_STYLE,
    MIMIC_ARMS,
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

NAME = "marschall2020_mimic"
PRESET = "marschall2020_mimic.toml"
EXPECT = "performances cluster by the framework's criteria; the exact methods mimic the target best"
SCALE = 0.5  # bioplastic's "mse" sums over the 2 outputs; the code's loss averages them
WINDOW = 21  # T-BPTT's window: the authors' F-BPTT window for Mimic


def _settings(quick: bool) -> dict:
    if quick:
        return dict(
            difficulty=[0.0, 6.0],
            seeds=[0],
            steps=2000,
            base=[
                "training.n_trials=20",
                "network.n_rec=12",
                "task.test_steps=2000",
                "optimizer.lr=0.005",
            ],
        )
    return dict(
        difficulty=[float(d) for d in range(10)], seeds=list(range(9)), steps=10_000, base=[]
    )


def runs(fig: FigureRun) -> dict[str, xr.Dataset]:
    st = _settings(fig.quick)
    return {
        label: sweep_over(
            fig,
            PRESET,
            f"fast_{i}",
            [*st["base"], *overrides(label, WINDOW)],
            "task.difficulty",
            st["difficulty"],
            st["seeds"],
        )
        for i, label in enumerate(ARMS)
        if label in MIMIC_ARMS
    }


def constant_level(fig: FigureRun, ds: xr.Dataset) -> np.ndarray:
    """Per d: the loss of the best constant output on the runs' own test sets (seed mean),
    ½ × the outputs' variance over the scored steps, averaged over the 2 outputs."""

    def level(test) -> float:
        y = test.target[:, test.mask[0, :, 0] > 0].reshape(-1, test.target.shape[-1])
        return 0.5 * float(y.var(axis=0).mean())

    return np.array([np.mean([level(t) for t in tests]) for tests in test_sets(fig, "fast_0", ds)])


def numbers_of(r: dict, level: np.ndarray, st: dict) -> dict:
    out: dict = {
        "difficulty": st["difficulty"],
        "best constant output, by d": [float(v) for v in level],
    }
    profiles = {}
    for label, ds in r.items():
        med = per_step(ds, st["steps"], SCALE).median("seed").values
        out[f"fast {label}: median test loss by d"] = [float(x) for x in med]
        out[f"fast {label}: mean"] = float(np.mean(med))
        out[f"fast {label}: mean relative to the constant output"] = float(np.mean(med / level))
        out[f"fast {label}: runs not complete"] = int((ds.status.values != "complete").sum())
        if ARMS[label][1] != "baseline":
            profiles[label] = med / level
    out.update(cluster_numbers(profiles, "fast"))
    return out


def make(fig: FigureRun) -> dict:
    st = _settings(fig.quick)
    r = runs(fig)
    level = constant_level(fig, r["RTRL"])
    ds_ = st["difficulty"]
    f, axes = plt.subplots(1, 2, figsize=(15, 5.5), gridspec_kw={"width_ratios": [1.4, 1]})
    ax = axes[0]
    for label, ds in r.items():
        c = per_step(ds, st["steps"], SCALE)
        med = c.median("seed").values
        lo, hi = c.quantile(0.25, "seed").values, c.quantile(0.75, "seed").values
        ax.plot(
            ds_,
            med,
            marker="o",
            ms=4,
            ls=GROUP_STYLE[ARMS[label][1]],
            color=color(label),
            label=label,
        )
        ax.fill_between(ds_, lo, hi, color=color(label), alpha=0.12, lw=0)
    ax.plot(ds_, level, color="0.5", ls=":", lw=1, label="best constant output")
    ax.set_yscale("log")
    plain_log(ax, "y")
    ax.set_xticks(ds_, [f"{d:g}" for d in ds_])
    ax.set_xlabel("difficulty d (target W_rec = orthogonal × (0.5 + 0.1 d))")
    ax.set_ylabel("test loss per step, ½ mean over outputs of (y − y*)²")
    ax.set_title(f"(a) fast (ours): Adam 1e-3, 40,000 steps, {len(st['seeds'])} seeds")
    ax.legend(frameon=False, fontsize=7, ncol=2)
    profiles = {
        k: (per_step(ds, st["steps"], SCALE).median("seed").values / level)
        for k, ds in r.items()
        if ARMS[k][1] != "baseline"
    }
    panel_dendrogram(axes[1], profiles)
    axes[1].set_title(
        "(b) rules clustered by their relative loss against d; colour: the framework's group",
        fontsize=9,
    )
    f.suptitle(
        f"Marschall et al. 2020, Mimic{' (quick)' if fig.quick else ''}: N=32, α=0.5 (target "
        "and learner, the authors' code); one target per d; test: "
        f"{st['steps']:,} steps after a 100-step warm-up; median and 25–75%"
    )
    fig.save(f)
    return numbers_of(r, level, st)


def check(numbers: dict, quick: bool) -> list[str]:
    bad = check_beats_fixed(numbers, "the easiest d")
    if quick:
        return bad
    bad += check_exact_first(numbers, "fast", MIMIC_ARMS)
    bad += check_clusters(numbers, "fast")
    return bad
