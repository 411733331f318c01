"""Miconi 2017 (eLife 6:e20899), Fig. 1B: delayed nonmatch-to-sample learned from a scalar reward.

(a) The trial error (mean |output − target| over the last 200 ms, with the perturbations on)
of every training trial: median over 20 runs and the 25–75% band, as his Fig. 1B, with the
median and quartiles of the trials to criterion (vertical lines: the first trial ending a full
window of 100 in which more than 95 had error < 1, a run that never gets there counting as
10,000, as his plotting script ``ploterr_single.py`` counts it) and the paper's curve read off
his ``dnms/figure_errs.png`` (orange dots and lines).  (b) The
output unit after training on the four trial types (noise-free held-out trials, one run).

Set-up ``models/miconi2017_dnms.toml``: 197 tanh units plus the bias (his three clamped
units), τ = 30 ms, dt = 1 ms, g = 1.5, fixed inputs U(−1, 1) (none to the output unit), the
recurrent weights and bias learned by :mod:`bioplastic.rules.miconi` (perturbations 16·U(−1, 1)
at p = 0.003 per ms, S(z) = z³, x̄ decay 0.05, per-type reward baseline with decay 0.75, the
update × the baseline error, |ΔJ| ≤ 3·10⁻⁴, η = 0.1, learning from trial 101: his code
``dnms/net.cpp`` where it differs from the Methods), 10,000 trials, trial types drawn at
random, each trial from x = 0 (his: U(−0.1, 0.1)).  Other differences from his code: the
clamped units are the bias b, whose change is clipped at 3·10⁻⁴ where his three weights
together may move it by up to ≈ 6.9·10⁻⁴ per trial; learning starts after 100 trials (his:
101); perturbations and the eligibility run from the first step (his: from steps 4 and 3).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .common import FigureRun, plt, run_sweep

NAME = "miconi2017"
PRESET = "miconi2017_dnms.toml"
EXPECT = (
    "the network learns DNMS from reward alone: median 843 trials to criterion (IQR 692–1125, "
    "20 runs), then a low residual error"
)
#: the paper's median error, read off his dnms/figure_errs.png (trial: error)
PAPER_CURVE = {
    75: 0.92,
    200: 0.80,
    500: 0.67,
    750: 0.50,
    1000: 0.33,
    1500: 0.22,
    2000: 0.13,
    3000: 0.09,
    5000: 0.05,
    9000: 0.03,
}
PAPER_CRITERION = (692, 843, 1125)  # quartiles of the trials to criterion (Results, Task 1)


def _settings(quick: bool) -> dict:
    if quick:  # epochs of 100 ms, not 200: a 500-ms trial
        return dict(
            seeds=[0],
            n_trials=400,
            overrides=[
                "task.stimulus=100",
                "task.delay=100",
                "task.wait=100",
                "task.response=100",
                "rule.warmup=20",
            ],
        )
    return dict(seeds=list(range(20)), n_trials=10_000, overrides=[])


def criterion_trial(errors: np.ndarray, window: int = 100, need: int = 95) -> float:
    """As his ``ploterr_single.py`` counts it: the first trial (0-based) ending a full window of
    ``window`` trials of which more than ``need`` had error < 1, and the run's length if none
    (the first ``window`` trials cannot end a full window)."""
    ok = (errors < 1.0).astype(int)
    counts = np.convolve(ok, np.ones(window, dtype=int))[: len(ok)]
    counts[:window] = 0
    hit = np.flatnonzero(counts > need)
    return float(hit[0]) if hit.size else float(len(ok))


def runs(fig: FigureRun) -> xr.Dataset:
    st = _settings(fig.quick)
    over = [*st["overrides"], f"training.n_trials={st['n_trials']}", "training.eval_every=1000"]
    return run_sweep(fig, "dnms", PRESET, over, {}, st["seeds"])


def window_median(err: xr.DataArray, trial: int, half: int = 50) -> float:
    """The median over runs and over trials ``trial ± half``."""
    n = err.sizes["trial"]
    lo, hi = max(trial - half, 0), min(trial + half, n)
    return float(np.median(err.values[:, lo:hi]))


def numbers_of(ds: xr.Dataset, quick: bool) -> dict:
    err = ds["loss"]
    n = err.sizes["trial"]
    crit = np.array([criterion_trial(e) for e in err.values])  # n if never: kept, as his
    reached = int(np.sum(crit < n))
    q = np.percentile(crit, [25, 50, 75])
    out = {
        "runs": int(err.sizes["seed"]),
        "runs that reached the criterion": reached,
        "trials to criterion: 25%, median, 75%": [float(v) for v in q],
        "paper: trials to criterion 25%, median, 75%": list(PAPER_CRITERION),
        "median error, first 100 trials": window_median(err, 50),
        "median error, last 10% of trials": float(np.median(err.values[:, -(n // 10) :])),
        "runs not complete": int((ds.status.values != "complete").sum()),
    }
    for k in (50, 100, 200, 350) if quick else PAPER_CURVE:  # quick: not the paper's scale
        out[f"median error around trial {k}"] = window_median(err, k)
    return out


def make(fig: FigureRun) -> dict:
    ds = runs(fig)
    numbers = numbers_of(ds, fig.quick)
    err = ds["loss"]
    trials = np.arange(err.sizes["trial"])  # 0-based, as his plotting script
    f, axes = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [1.6, 1]})
    ax = axes[0]
    med = err.median("seed").values
    lo, hi = err.quantile(0.25, "seed").values, err.quantile(0.75, "seed").values
    ax.fill_between(trials, lo, hi, color="0.8", lw=0, label="25–75% (ours)")
    ax.plot(trials, med, color="k", lw=0.6, label=f"median of {err.sizes['seed']} runs (ours)")
    if not fig.quick:  # the quick run's trials are shorter and fewer: not comparable
        ax.plot(
            list(PAPER_CURVE),
            list(PAPER_CURVE.values()),
            "o",
            color="tab:orange",
            ms=5,
            label="Miconi 2017, Fig. 1B (median, read off)",
        )
        for v, ls in zip(PAPER_CRITERION, (":", "-", ":")):
            ax.axvline(v, color="tab:orange", ls=ls, lw=1)
    q25, q50, q75 = numbers["trials to criterion: 25%, median, 75%"]
    for v, ls in ((q25, ":"), (q50, "-"), (q75, ":")):
        ax.axvline(v, color="tab:blue", ls=ls, lw=1)
    ax.set_xlim(0, trials[-1])
    ax.set_ylim(0, 2)
    ax.set_xlabel("trial")
    ax.set_ylabel("trial error: mean |r_out − target| over the response")
    paper = "quick: no paper comparison" if fig.quick else "paper 843 (692–1125)"
    ax.set_title(
        f"(a) trials to criterion (blue: ours, orange: paper): median {q50:g} "
        f"(IQR {q25:g}–{q75:g}); {paper}",
        fontsize=9,
    )
    ax.legend(frameon=False, fontsize=8)
    ax = axes[1]
    out = ds["eval_output"].isel(seed=0).sel(stage="final").values[..., 0]  # (example, time)
    time = np.arange(1, out.shape[1] + 1)
    for k, (label, c) in enumerate(zip(["AA", "AB", "BA", "BB"], ["C0", "C1", "C2", "C3"])):
        ax.plot(time, out[k], color=c, label=label, ls="-" if label in ("AB", "BA") else "--")
    ax.axhline(0, color="0.7", lw=0.5)
    ax.set_xlabel("time in the trial (ms)")
    ax.set_ylabel("output unit r₀")
    ax.set_title("(b) after training, seed 0: nonmatch → +1, match → −1", fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    f.suptitle(
        "Miconi 2017, delayed nonmatch-to-sample"
        + (" (quick: 100-ms epochs, 400 trials, 1 run)" if fig.quick else "")
        + ": learned from reward by the exploratory Hebbian rule"
    )
    fig.save(f)
    return numbers


def check(numbers: dict, quick: bool) -> list[str]:
    bad = []
    start = numbers["median error, first 100 trials"]
    end = numbers["median error, last 10% of trials"]
    if quick:  # the direction only
        return [] if end < start else [f"no learning: error {start:.3g} → {end:.3g}"]
    if not end < 0.5 * start:
        bad.append(f"not learned: final error {end:.3g} is not below half the start {start:.3g}")
    if numbers["runs that reached the criterion"] < numbers["runs"]:
        bad.append("not every run reached the criterion (the paper: 'consistently learn')")
    med = numbers["trials to criterion: 25%, median, 75%"][1]
    if not PAPER_CRITERION[0] <= med <= PAPER_CRITERION[2]:
        bad.append(
            f"median trials to criterion {med:g} outside the paper's IQR "
            f"{PAPER_CRITERION[0]}–{PAPER_CRITERION[2]}"
        )
    if not end <= 0.1:
        bad.append(f"residual error {end:.3g} is not low (paper ≈ 0.03 at 10,000 trials)")
    return bad
