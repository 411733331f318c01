"""How well each rule follows the true gradient during learning (after Marschall et al. 2020).

A network is trained with the exact gradient (BPTT on the periodic task, RTRL online on Add) in
segments; after each segment, every rule's estimate on the same 8 trials and weights is
compared with BPTT's: the cosine on the recurrent parameters (W_in, W_rec, b), median over
seeds with 25–75%.  The last panel of each row is the rule × rule cosine matrix at the end of
training, ordered by hierarchical clustering (average linkage on 1 − cosine).

Periodic: ``models/murray2019_periodic.toml`` (N = 30, P = 20τ, SGD η = 0.03 on the
time-averaged loss), 10 segments of 500 trials.  Add: ``models/marschall2020_add.toml``
(N = 32, α = 0.5, lags 4 and 5, bits held 2 steps, Adam lr 1e-3), 10 segments of 40 chunks of
100 steps; Adam's moments restart with each segment.  Rules: RFLO (random feedback), e-prop,
SnAp-1, UORO, KF-RTRL, R-KF-RTRL and truncated BPTT (window 10), each with its default feedback.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform

from ..alignment import alignment
from ..config import build, load_preset
from ..results import load, save
from ..training import train
from .common import MODELS, FigureRun, band, plt

NAME = "alignment"
RULES = ["rflo", "eprop", "snap1", "uoro", "kf_rtrl", "rkf_rtrl", ("tbptt", {"truncation": 10})]
EXPECT = (
    "local and truncated rules align partially with the gradient; the unbiased "
    "stochastic rules (UORO, KF-RTRL, R-KF-RTRL) align weakly per estimate, KF better than "
    "UORO; rules with similar credit (e-prop, SnAp-1, T-BPTT) cluster together"
)


def _trajectory_alignment(preset_file, overrides, segments, per_segment, exact, seed, loss):
    preset = load_preset(
        MODELS / preset_file, [*overrides, f"training.seed={seed}", "training.align_with=none"]
    )
    net, task, opt = build(preset)
    tr = preset.training
    rng = np.random.default_rng(1000 + seed)
    rows = []
    for k in range(segments + 1):
        trials = task.sample(8, rng)
        ds = alignment(
            net,
            trials.x,
            trials.target,
            RULES,
            reference="bptt",
            mask=trials.mask,
            seed=seed + 100 * k,
            pairwise=True,
            loss=loss,
        )
        rows.append(ds.assign_coords(segment=k))
        if k == segments:
            break
        run = train(
            net,
            task,
            exact,
            optimizer=opt,
            n_trials=per_segment,
            update=tr.update,
            update_every=tr.update_every,
            eval_every=per_segment,
            mean_over_time=tr.mean_over_time,
            seed=seed + 100 * k,
        )
        net = net.with_params({p: run[p].values for p in net.params})
    return xr.concat(rows, dim="segment", coords="minimal", compat="override")


def _part(fig, tag, preset_file, overrides, segments, per_segment, exact, seeds, loss):
    path = fig.cache / f"{tag}.nc"
    if path.exists():
        return load(path)
    runs = [
        _trajectory_alignment(
            preset_file, overrides, segments, per_segment, exact, s, loss
        ).expand_dims(seed=[s])
        for s in seeds
    ]
    ds = xr.concat(runs, dim="seed", coords="minimal", compat="override")
    ds.attrs = {}
    fig.cache.mkdir(parents=True, exist_ok=True)
    save(ds, path)
    return load(path)


def _order(C: np.ndarray) -> np.ndarray:
    D = np.clip(1 - C, 0, 2)
    np.fill_diagonal(D, 0)
    D = (D + D.T) / 2
    return leaves_list(linkage(squareform(D, checks=False), "average"))


def make(fig: FigureRun) -> dict:
    seeds = [0] if fig.quick else [0, 1, 2]
    seg = 3 if fig.quick else 10
    parts = {
        "periodic": _part(
            fig,
            "periodic",
            "murray2019_periodic.toml",
            ["network.n_rec=12", "task.period=4"] if fig.quick else [],
            seg,
            60 if fig.quick else 500,
            "bptt",
            seeds,
            "mse",
        ),
        "add": _part(
            fig,
            "add",
            "marschall2020_add.toml",
            ["network.n_rec=12"] if fig.quick else [],
            seg,
            6 if fig.quick else 40,
            "rtrl",
            seeds,
            "softmax_xent",
        ),
    }
    f, axes = plt.subplots(2, 2, figsize=(14, 10), gridspec_kw={"width_ratios": [1.3, 1]})
    numbers = {}
    for row, (task, ds) in enumerate(parts.items()):
        ax = axes[row, 0]
        cos = ds.cosine.sel(param="recurrent")
        for i, r in enumerate(ds.rule.values):
            band(ax, ds.segment.values, cos.sel(rule=r), str(r), f"C{i}")
            numbers[f"{task}: median cosine, {r}"] = float(cos.sel(rule=r).median())
        ax.axhline(0, color="0.7", lw=0.8)
        ax.set_ylim(-1.05, 1.05)
        ax.set_xlabel("training segment")
        ax.set_ylabel("cosine with BPTT (recurrent weights)")
        ax.set_title(f"{task}: alignment during exact-gradient training")
        ax.legend(frameon=False, fontsize=8, ncol=2)
        ax = axes[row, 1]
        C = ds.pairwise_cosine.sel(param="recurrent").isel(segment=-1).mean("seed").values
        order = _order(C)
        labels = [str(ds.rule.values[i]) for i in order]
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
    f.tight_layout()
    fig.out_dir.mkdir(parents=True, exist_ok=True)
    f.savefig(fig.png(), dpi=100)
    plt.close(f)
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
