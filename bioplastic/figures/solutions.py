"""Do local rules find the exact gradient's solution?  Fixed points and representations, ours.

Four tasks (interval matching, Ready–Set–Go, center-out reaching, Murray's periodic output),
each trained from its preset (``models/murray2019_interval.toml``, ``ready_set_go.toml``,
``reaching.toml``, ``murray2019_periodic.toml``: the preset's network, optimizer, learning
rate and trials, the same for every rule) by BPTT, RFLO, e-prop and KF-RTRL, 3 seeds each.
All networks of a task are run on the same held-out trials (the BPTT seed-0 run's).

(a) Linear CKA (Kornblith et al. 2019) between every two networks' states on those trials,
rules × seeds.  (b) Each rule's CKA with BPTT (median over the 9 seed pairs, dots: each pair)
against BPTT's own seed-to-seed CKA (grey band: its range over 3 pairs), and the same for the
Procrustes distance.  (c) Held-out trajectories of seed 0 of each rule in PC 1–2, each
network's top 3 PCs rotated onto BPTT's by orthogonal Procrustes; markers: its fixed points
(stable •, saddle ×, unstable ▲) at zero input, found from 300 states along its trajectories
(:func:`bioplastic.analysis.find_fixed_points`, q < 10⁻¹⁰).  (d) The number of fixed points of
each kind, per rule (median over seeds).  In the numbers also: the fixed points of each rule's
network paired with those of BPTT's network of the same seed in BPTT's PC space (rotated by
Procrustes; :func:`bioplastic.analysis.match`), their median distance in units of BPTT's
trajectories' RMS radius, and, for BPTT, the same between its seeds.

Verdict per task and rule (ours, stated before the runs): the rule finds BPTT's solution if it
learned (held-out loss below half the untrained loss, in the median over seeds) and its median
CKA with BPTT is at least the lowest BPTT seed-to-seed CKA.  Nothing here is from a paper:
the figure checks only that BPTT learns every task, which the comparison needs.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.linalg import orthogonal_procrustes

from ..analysis import (
    KINDS,
    find_fixed_points,
    linear_cka,
    match,
    pca,
    procrustes_distance,
    project,
)
from ..results import load
from ..tasks.base import Trials
from ..training.checkpoint import held_out
from .common import FigureRun, plt, run_sweep

NAME = "solutions"
EXPECT = "ours: whether RFLO, e-prop and KF-RTRL find BPTT's solution (no paper claim)"
TASKS = {
    "interval matching": "murray2019_interval.toml",
    "Ready–Set–Go": "ready_set_go.toml",
    "reaching": "reaching.toml",
    "periodic": "murray2019_periodic.toml",
}
RULES = ["bptt", "rflo", "eprop", "kf_rtrl"]
COLORS = dict(zip(RULES, ["k", "tab:orange", "tab:green", "tab:blue"]))
N_STARTS = 300


def _settings(quick: bool) -> dict:
    if quick:
        return dict(tasks=["periodic"], rules=["bptt", "rflo"], seeds=[0, 1], trials=100)
    return dict(tasks=list(TASKS), rules=RULES, seeds=[0, 1, 2], trials=None)


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label).strip("_")


def runs(fig: FigureRun, task: str, st: dict) -> xr.Dataset:
    over = [] if st["trials"] is None else [f"training.n_trials={st['trials']}"]
    over.append("training.eval_every=1000000")  # the first and the last evaluation only
    return run_sweep(fig, _slug(task), TASKS[task], over, {"rule.name": st["rules"]}, st["seeds"])


def networks(fig: FigureRun, task: str, ds: xr.Dataset, st: dict) -> tuple[dict, dict, Trials]:
    """(rule, seed) → (net, h0) for the runs that completed, (rule, seed) → final / initial
    held-out loss (inf for a run that did not complete), and the common trials."""
    nets, losses, trials = {}, {}, None
    for rule in st["rules"]:
        for seed in st["seeds"]:
            at = {"rule_name": rule, "seed": seed}
            if ds.status.sel(at).item() != "complete":  # diverged or failed: not analysed
                losses[rule, seed] = np.inf
                continue
            run = load(fig.cache / _slug(task) / f"{ds.run_id.sel(at).item()}.nc")
            net, held, h0 = held_out(run)
            if trials is None:  # the first complete run (BPTT, seed 0): everyone's trials
                trials = held
            ev = run.eval_loss.values
            nets[rule, seed] = (net, h0)
            losses[rule, seed] = float(ev[-1] / ev[0])
    if trials is None:
        raise RuntimeError(f"no run of {task} completed: nothing to analyse")
    return nets, losses, trials


def analyse_task(fig: FigureRun, task: str, st: dict) -> dict:
    ds = runs(fig, task, st)
    nets, losses, trials = networks(fig, task, ds, st)
    keys = list(nets)
    states = {k: nets[k][0].run(trials.x, nets[k][1]).states for k in keys}
    flat = {k: s.reshape(-1, s.shape[-1]) for k, s in states.items()}
    n = len(keys)
    cka = np.eye(n)
    proc = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            cka[i, j] = cka[j, i] = linear_cka(flat[keys[i]], flat[keys[j]])
            proc[i, j] = proc[j, i] = procrustes_distance(flat[keys[i]], flat[keys[j]])
    fps = {}
    for k in keys:
        net = nets[k][0]
        rng = np.random.default_rng(0)
        starts = flat[k][rng.integers(len(flat[k]), size=N_STARTS)]
        fps[k] = find_fixed_points(net, starts, np.zeros(net.n_in))
    return dict(keys=keys, losses=losses, states=states, cka=cka, proc=proc, fps=fps)


def _pairs(keys: list, a: str, b: str) -> list[tuple[int, int]]:
    ia = [i for i, k in enumerate(keys) if k[0] == a]
    ib = [i for i, k in enumerate(keys) if k[0] == b]
    return [(i, j) for i in ia for j in ib if i < j or a != b]


def numbers_of(task: str, res: dict, st: dict) -> dict:
    keys, cka, proc = res["keys"], res["cka"], res["proc"]
    out = {}

    def median(values) -> float:
        return float(np.median(values)) if len(values) else np.nan

    bptt_seed = [cka[i, j] for i, j in _pairs(keys, "bptt", "bptt") if i < j]
    out[f"{task} | BPTT seed-to-seed CKA: min, median"] = [
        float(np.min(bptt_seed)) if bptt_seed else np.nan,
        median(bptt_seed),
    ]
    for rule in st["rules"]:
        loss = [res["losses"][rule, s] for s in st["seeds"]]
        out[f"{task} | {rule}: final / initial held-out loss, median"] = float(np.median(loss))
        out[f"{task} | {rule}: runs not complete"] = int(np.sum(np.isinf(loss)))
        same = [cka[i, j] for i, j in _pairs(keys, rule, rule) if i < j]
        out[f"{task} | {rule}: seed-to-seed CKA, median"] = median(same)
        if rule != "bptt":
            pairs = _pairs(keys, rule, "bptt")
            out[f"{task} | {rule}: CKA with BPTT, median"] = median([cka[i, j] for i, j in pairs])
            out[f"{task} | {rule}: Procrustes distance to BPTT, median"] = median(
                [proc[i, j] for i, j in pairs]
            )
        ref = [("bptt", s) for s in st["seeds"] if ("bptt", s) in res["fps"]]
        if rule == "bptt":  # seed to seed: each seed against the next one
            pairs = list(zip(ref, ref[1:]))
        else:
            pairs = [
                (k, r)
                for k, r in (((rule, s), ("bptt", s)) for s in st["seeds"])
                if k in res["fps"] and r in res["fps"]
            ]
        dist = [matched_distance(res, k, r) for k, r in pairs if k != r]
        out[f"{task} | {rule}: matched fixed-point distance to BPTT, median"] = (
            float(np.median(dist)) if dist else np.nan
        )
        done = [res["fps"][rule, s] for s in st["seeds"] if (rule, s) in res["fps"]]
        for kind in KINDS:
            counts = [int((fp.kind.values == kind).sum()) for fp in done]
            out[f"{task} | {rule}: {kind} fixed points, median"] = median(counts)
    for rule in st["rules"][1:]:
        learned = out[f"{task} | {rule}: final / initial held-out loss, median"] < 0.5
        cka_bptt = out[f"{task} | {rule}: CKA with BPTT, median"]
        floor = bptt_seed_min(out, task)
        if not learned:
            verdict = "not learned"
        elif np.isnan(cka_bptt) or np.isnan(floor):
            verdict = "not compared (runs did not complete)"
        else:
            verdict = "same as BPTT" if cka_bptt >= floor else "different"
        out[f"{task} | {rule}: verdict"] = verdict
    return out


def bptt_seed_min(numbers: dict, task: str) -> float:
    return numbers[f"{task} | BPTT seed-to-seed CKA: min, median"][0]


def _aligned(res: dict, key, ref) -> tuple[np.ndarray, np.ndarray]:
    """Trajectories and fixed points of ``key`` in its top-3 PCs, rotated onto ``ref``'s."""

    def pcs(k):
        basis = pca(res["states"][k], 3)
        return basis, project(basis, res["states"][k])

    basis, P = pcs(key)
    _, R = pcs(ref)
    Q, _ = orthogonal_procrustes(P.reshape(-1, 3), R.reshape(-1, 3))
    return P @ Q, project(basis, res["fps"][key].state.values) @ Q


def matched_distance(res: dict, key, ref) -> float:
    """The median distance between ``key``'s and ``ref``'s fixed points, paired in ``ref``'s
    PC space (``key``'s rotated onto it), in units of ``ref``'s trajectories' RMS radius;
    inf if either has none."""
    ref_traj, fa = _aligned(res, ref, ref)
    _, fb = _aligned(res, key, ref)
    scale = np.sqrt(np.mean(np.sum(ref_traj.reshape(-1, 3) ** 2, axis=1)))
    _, _, dist = match(fa, fb)
    return float(np.median(dist) / scale) if dist.size else np.inf


def make(fig: FigureRun) -> dict:
    st = _settings(fig.quick)
    numbers: dict = {}
    tasks = st["tasks"]
    f, axes = plt.subplots(len(tasks), 4, figsize=(20, 4.6 * len(tasks)), squeeze=False)
    marks = {"stable": "o", "saddle": "x", "unstable": "^"}
    for row, task in enumerate(tasks):
        res = analyse_task(fig, task, st)
        numbers.update(numbers_of(task, res, st))
        keys = res["keys"]
        ax = axes[row, 0]
        im = ax.imshow(res["cka"], vmin=0, vmax=1, cmap="viridis")
        ax.set_xticks(range(len(keys)), [f"{r} {s}" for r, s in keys], rotation=90, fontsize=6)
        ax.set_yticks(range(len(keys)), [f"{r} {s}" for r, s in keys], fontsize=6)
        ax.set_title(f"({'abcd'[0]}) {task}: linear CKA, rules × seeds", fontsize=9)
        f.colorbar(im, ax=ax, fraction=0.046)
        ax = axes[row, 1]
        same = [res["cka"][i, j] for i, j in _pairs(keys, "bptt", "bptt") if i < j]
        ax.axhspan(min(same), max(same), color="0.85", label="BPTT seed to seed")
        for x, rule in enumerate(st["rules"][1:]):
            vals = [res["cka"][i, j] for i, j in _pairs(keys, rule, "bptt")]
            ax.scatter([x] * len(vals), vals, color=COLORS[rule], s=12)
            ax.plot([x - 0.3, x + 0.3], [np.median(vals)] * 2, color=COLORS[rule], lw=2)
            verdict = numbers[f"{task} | {rule}: verdict"]
            ax.annotate(verdict, (x, 0.02), ha="center", fontsize=7)
        ax.set_xticks(range(len(st["rules"]) - 1), st["rules"][1:])
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("CKA with BPTT")
        ax.set_title("(b) rule to BPTT against BPTT seed to seed", fontsize=9)
        ax.legend(frameon=False, fontsize=7, loc="upper right")
        ax = axes[row, 2]
        ref = ("bptt", st["seeds"][0])
        for rule in st["rules"]:
            if (rule, st["seeds"][0]) not in res["fps"] or ref not in res["fps"]:
                continue  # that run did not complete
            traj, fp = _aligned(res, (rule, st["seeds"][0]), ref)
            for k in range(min(traj.shape[0], 8)):
                ax.plot(
                    traj[k, :, 0],
                    traj[k, :, 1],
                    color=COLORS[rule],
                    lw=0.7,
                    alpha=0.7,
                    label=rule if k == 0 else None,
                )
            kinds = res["fps"][rule, st["seeds"][0]].kind.values
            for kind in KINDS:
                sel = kinds == kind
                if sel.any():
                    ax.scatter(fp[sel, 0], fp[sel, 1], marker=marks[kind], color=COLORS[rule], s=30)
        ax.set_xlabel("PC 1 (aligned to BPTT seed 0)")
        ax.set_ylabel("PC 2")
        ax.set_title("(c) trajectories and fixed points, seed 0", fontsize=9)
        ax.legend(frameon=False, fontsize=7)
        ax = axes[row, 3]
        bottom = np.zeros(len(st["rules"]))
        for kind, color in zip(KINDS, ["k", "tab:red", "tab:orange"]):
            h = [numbers[f"{task} | {rule}: {kind} fixed points, median"] for rule in st["rules"]]
            ax.bar(st["rules"], h, bottom=bottom, color=color, label=kind)
            bottom += np.array(h)
        ax.set_ylabel("fixed points at zero input (median over seeds)")
        ax.set_title("(d) fixed points per rule", fontsize=9)
        ax.legend(frameon=False, fontsize=7)
    f.suptitle(
        "Does a local rule find BPTT's solution? (ours)"
        + (" (quick: periodic, 100 trials, 2 rules, 2 seeds)" if fig.quick else "")
    )
    fig.save(f)
    return numbers


def check(numbers: dict, quick: bool) -> list[str]:
    bad = []
    for key, v in numbers.items():
        if key.endswith("bptt: final / initial held-out loss, median"):
            limit = 1.0 if quick else 0.5  # quick: only that the loss falls
            if not v < limit:
                bad.append(f"{key.split(' | ')[0]}: BPTT did not learn (loss ratio {v:.3g})")
    return bad
