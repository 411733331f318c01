"""How well each rule follows the true gradient during learning (after Marschall et al. 2020).

A network is trained with the exact gradient (BPTT on the periodic task, RTRL online on Add);
at every evaluation, each rule's estimate on the held-out trials and the weights of that moment
is compared with BPTT's (``bp.train(..., probe=RULES)``): the cosine on the recurrent
parameters (W_in, W_rec, b), median over seeds with 25–75%.  The last panel of each row is the
rule × rule cosine matrix at the end of training, ordered by hierarchical clustering (average
linkage on 1 − cosine).  The seeds run as a sweep (:func:`bioplastic.sweep`).

Periodic: ``models/murray2019_periodic.toml`` (N = 30, P = 20τ, SGD η = 0.03 on the
time-averaged loss), 5,000 trials, probed every 500 on 4 held-out trials.  Add:
``models/marschall2020_add.toml`` (N = 32, α = 0.5, lags 4 and 5, bits held 2 steps, Adam lr
1e-3), 400 chunks of 100 steps, probed every 40 chunks on 4 held-out trials.  Rules: RFLO
(random feedback), e-prop, SnAp-1, UORO, KF-RTRL, R-KF-RTRL and truncated BPTT (window 10),
each with its default feedback.
"""

from __future__ import annotations

import json

import numpy as np
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform

from .common import FigureRun, band, plt, run_sweep

NAME = "alignment"
RULES = [
    "rflo",
    "eprop",
    "snap1",
    "uoro",
    "kf_rtrl",
    "rkf_rtrl",
    {"name": "tbptt", "truncation": 10},
]
EXPECT = (
    "local and truncated rules align partially with the gradient; the unbiased "
    "stochastic rules (UORO, KF-RTRL, R-KF-RTRL) align weakly per estimate, KF better than "
    "UORO; rules with similar credit (e-prop, SnAp-1, T-BPTT) cluster together"
)


def _toml(rules: list) -> str:
    """A probe list as a TOML value for a preset override."""
    items = [
        json.dumps(r)
        if isinstance(r, str)
        else "{" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in r.items()) + "}"
        for r in rules
    ]
    return "[" + ", ".join(items) + "]"


def _part(fig: FigureRun, preset: str, overrides: list[str], n_trials: int, every: int, seeds):
    common = [
        *overrides,
        "training.align_with=none",
        f"training.n_trials={n_trials}",
        f"training.eval_every={every}",
        "training.n_eval=4",
        f"training.probe={_toml(RULES)}",
    ]
    return run_sweep(fig, preset.split(".")[0], preset, common, {}, seeds)


def _order(C: np.ndarray) -> np.ndarray:
    D = np.clip(1 - C, 0, 2)
    np.fill_diagonal(D, 0)
    D = (D + D.T) / 2
    return leaves_list(linkage(squareform(D, checks=False), "average"))


def make(fig: FigureRun) -> dict:
    seeds = [0] if fig.quick else [0, 1, 2]
    quick = fig.quick
    parts = {
        "periodic": _part(
            fig,
            "murray2019_periodic.toml",
            ["rule.name=bptt", "rule.feedback=none"]
            + (["network.n_rec=12", "task.period=4"] if quick else []),
            180 if quick else 5000,
            60 if quick else 500,
            seeds,
        ),
        "add": _part(
            fig,
            "marschall2020_add.toml",
            ["rule.name=rtrl"] + (["network.n_rec=12"] if quick else []),
            18 if quick else 400,
            6 if quick else 40,
            seeds,
        ),
    }
    f, axes = plt.subplots(2, 2, figsize=(14, 10), gridspec_kw={"width_ratios": [1.3, 1]})
    numbers = {}
    for row, (task, ds) in enumerate(parts.items()):
        ax = axes[row, 0]
        cos = ds.probe_cosine.sel(param="recurrent")
        seen = ds.trials_seen.isel(seed=0).values
        for i, r in enumerate(ds.probe.values):
            band(ax, seen, cos.sel(probe=r), str(r), f"C{i}")
            numbers[f"{task}: median cosine, {r}"] = float(cos.sel(probe=r).median())
        ax.axhline(0, color="0.7", lw=0.8)
        ax.set_ylim(-1.05, 1.05)
        ax.set_xlabel("trials seen" if task == "periodic" else "chunks of 100 steps seen")
        ax.set_ylabel("cosine with BPTT (recurrent weights)")
        ax.set_title(f"{task}: alignment during exact-gradient training")
        ax.legend(frameon=False, fontsize=8, ncol=2)
        ax = axes[row, 1]
        C = ds.probe_pairwise.sel(param="recurrent").isel(evaluation=-1).mean("seed").values
        order = _order(C)
        labels = [str(ds.probe.values[i]) for i in order]
        im = ax.imshow(C[np.ix_(order, order)], vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_title(f"{task}: rule × rule cosine (clustered), end of training")
        f.colorbar(im, ax=ax, fraction=0.046)
        numbers[f"{task}: cluster order"] = labels
    f.suptitle(
        f"Alignment with the exact gradient{' (quick)' if fig.quick else ''}: "
        f"{len(seeds)} seed(s), median and 25–75%"
    )
    fig.save(f)
    return numbers


def check(numbers: dict, quick: bool) -> list[str]:
    bad = []
    for task in ("periodic", "add"):
        if not numbers[f"{task}: median cosine, snap1"] > 0.1:
            bad.append(f"{task}: SnAp-1 does not align with the gradient")
    if (
        not quick
        and not numbers["add: median cosine, kf_rtrl"] > numbers["add: median cosine, uoro"]
    ):
        bad.append("add: KF-RTRL does not beat UORO")
    return bad
