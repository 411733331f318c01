"""Murray 2019 (eLife 8:e43299), Fig. 3: interval matching, BPTT against RFLO.

Two Gaussian input pulses (SD 15 steps) mark a delay T_delay; the output must produce a
Gaussian pulse T_delay after the second.  From the paper (Methods; Fig. 3 caption): N = 100,
τ = 10 steps, W_in, W_rec and W_out learn, 5,000 trials, updates summed over batches of 10
trials, plain gradient steps on the time-averaged loss; RFLO trained and tested with
T_delay ≤ 15τ and ≤ 20τ, BPTT with ≤ 25τ (``models/murray2019_interval.toml``).  Ours, the same
for every rule: T_delay uniform over the integers in [5τ, max], the first pulse at step 50,
h₀ = 0.1, and both rules trained at all three ranges.

η: each rule, at each range, gets the same screen over the paper's grid, η ∈ {10⁻⁴, 3·10⁻⁴,
…, 3·10⁻¹} (Methods; its choices were 0.003 for BPTT and 0.001 for RFLO), 3 seeds not among
the final ones, chosen by the median training loss over the last 10% of updates (never by the
held-out intervals; a diverged run counts as infinite loss); then 9 seeds at the chosen η.

The produced interval is the time from the second pulse to the output's peak after it (no
response if that peak is below half the target's height), on
held-out trials at T_delay = 4τ, 5τ, … (max + 5τ) (shorter delays merge the two pulses): the
intervals outside the training range test generalisation, which the paper does not.

(a) training loss; (b) RFLO and (c) BPTT: produced against target interval per training range
(the paper's Fig. 3b, c), the training range shaded; (d) where RFLO fails: the timing error
inside the training range against the range, both rules; (e) held-out outputs at 20τ;
(f) the learning-rate screen.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.stats import mannwhitneyu

from .common import FigureRun, band, plain_log, plt, run_sweep

NAME = "murray2019_fig3"
PRESET = "murray2019_interval.toml"
EXPECT = (
    "for T_delay ≤ 15τ RFLO and BPTT reproduce the interval similarly well; for longer delays "
    "BPTT is better than RFLO"
)
TAU = 10
FIRST = 50  # the first pulse's centre (steps)
RULES = {"bptt": ("BPTT", "C0"), "rflo": ("RFLO", "C3")}
PAPER_ETA = {"bptt": 0.003, "rflo": 0.001}  # Methods; per trial, summed over 10 trials
GRID = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]  # the paper's grid (Methods)
BATCH = 10  # lr = BATCH · η on the batch-mean loss (module docstring of the preset)
GOOD = 1.0  # in τ: a median timing error at most this is "reproduces the interval"
CAP = 10.0  # in τ: where panel (d) draws an error that is inf (no response, or diverged)


def _settings(quick: bool) -> dict:
    if quick:
        return dict(
            ranges=[8],
            grid=[1e-3, 1e-2],
            seeds=[0, 1],
            screen_seeds=[100],
            base=["training.n_trials=400", "training.eval_every=20", "network.n_rec=32"],
        )
    return dict(
        ranges=[15, 20, 25],
        grid=GRID,
        seeds=list(range(9)),
        screen_seeds=[100, 101, 102],
        base=[],
    )


def test_intervals(max_tau: int) -> list[int]:
    """Held-out delays: every τ from 4τ to 5τ past the training range (steps).  Shorter delays
    merge the two pulses (SD 15 steps) into one bump, so the task is not posed there."""
    return list(range(4 * TAU, (max_tau + 5) * TAU + 1, TAU))


def _arm(fig, part, rule, max_tau, eta, seeds) -> xr.Dataset:
    st = _settings(fig.quick)
    overrides = [
        *st["base"],
        f"rule.name={rule}",
        f"task.interval_max={max_tau * TAU}",
        f"task.test_intervals={test_intervals(max_tau)}",
        f"optimizer.lr={BATCH * eta:.6g}",
    ]
    return run_sweep(fig, part, PRESET, overrides, {}, seeds)


def trial_steps(max_tau: int) -> int:
    """The length of a training trial at this range (the preset's first pulse and tail)."""
    return FIRST + 2 * max_tau * TAU + 50


def train_loss(ds: xr.Dataset, max_tau: int) -> np.ndarray:
    """Per seed: the training loss per step, averaged over the last 10% of updates; inf for a
    run that did not complete (a diverged run counts as failed, not as missing)."""
    n = ds.sizes["trial"]
    tail = ds.loss.isel(trial=slice(n - max(1, n // 10), None)).mean("trial")
    return np.where(ds.status.values == "complete", tail.values, np.inf) / trial_steps(max_tau)


def produced(ds: xr.Dataset, intervals: list[int]) -> np.ndarray:
    """(seed, interval) produced intervals: the time from the second pulse to the output's peak
    after it; inf where there is no response (the peak is below half the target's height of
    1) or the run did not complete."""
    y = ds.eval_output.sel(stage="final").isel(output=0).values  # (seed, example, time)
    out = np.full(y.shape[:2], np.inf)
    for i, d in enumerate(intervals):
        after = y[:, i, FIRST + d + 1 :]
        peak = np.argmax(after, axis=-1)
        height = np.take_along_axis(after, peak[:, None], -1)[:, 0]
        out[:, i] = np.where(height >= 0.5, peak + 1.0, np.inf)
    complete = ds.status.values == "complete"
    return np.where(complete[:, None], out, np.inf)


def runs(fig: FigureRun) -> dict:
    st = _settings(fig.quick)
    screen, best, final = {}, {}, {}
    for rule in RULES:
        for R in st["ranges"]:
            for eta in st["grid"]:
                screen[rule, R, eta] = _arm(
                    fig, f"screen_{rule}_{R}tau_{eta:g}", rule, R, eta, st["screen_seeds"]
                )
            med = [np.median(train_loss(screen[rule, R, e], R)) for e in st["grid"]]
            best[rule, R] = st["grid"][int(np.nanargmin(med))]
            final[rule, R] = _arm(fig, f"{rule}_{R}tau", rule, R, best[rule, R], st["seeds"])
    return dict(screen=screen, best=best, final=final)


def _errors(ds: xr.Dataset, R: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Targets, produced (seed, interval) and |error| in τ (inf: no response, or diverged)."""
    ts = np.array(test_intervals(R))
    p = produced(ds, list(ts))
    return ts, p, np.abs(p - ts) / TAU


def seed_errors(ds: xr.Dataset, R: int, where: str = "in") -> np.ndarray:
    """Per seed, the median |error| (τ) over the test delays in, beyond or below the
    training range [5τ, R]: the one median every number and panel uses."""
    ts, _, err = _errors(ds, R)
    pick = {
        "in": (ts >= 5 * TAU) & (ts <= R * TAU),
        "beyond": ts > R * TAU,
        "below": ts < 5 * TAU,
    }[where]
    return np.median(err[:, pick], axis=1)


def numbers_of(r: dict, st: dict) -> dict:
    out: dict = {"ranges (τ)": st["ranges"], "learning-rate grid": st["grid"]}
    for (rule, R, eta), ds in r["screen"].items():
        out[f"screen {rule} ≤{R}τ η={eta:g}: training loss"] = float(np.median(train_loss(ds, R)))
    for (rule, R), ds in r["final"].items():
        ts, p, _ = _errors(ds, R)
        inside = (ts >= 5 * TAU) & (ts <= R * TAU)
        key = f"{rule} ≤{R}τ"
        out[f"{key}: η"] = r["best"][rule, R]
        out[f"{key}: η at the grid's edge"] = r["best"][rule, R] in (st["grid"][0], st["grid"][-1])
        out[f"{key}: training loss"] = float(np.median(train_loss(ds, R)))
        out[f"{key}: runs not complete"] = int((ds.status.values != "complete").sum())
        out[f"{key}: silent-output loss"] = silent_loss(R)
        per_seed = seed_errors(ds, R)
        out[f"{key}: |error| in range per seed (τ)"] = [float(v) for v in per_seed]
        out[f"{key}: median |error| in range (τ)"] = float(np.median(per_seed))
        for where in ("beyond", "below"):
            out[f"{key}: median |error| {where} range (τ)"] = float(
                np.median(seed_errors(ds, R, where))
            )
        ok = np.isfinite(p[:, inside]).all(axis=1)
        slopes = [np.polyfit(ts[inside], row[inside], 1)[0] for row in p[ok]]
        out[f"{key}: slope in range"] = float(np.median(slopes)) if slopes else None
    return out


def silent_loss(max_tau: int) -> float:
    """The training loss per step of an output that stays at 0: ½ ⟨y*²⟩ over a trial."""
    return float(0.5 * np.sqrt(np.pi) * 15 / trial_steps(max_tau))  # ∫ exp(-t²/σ²) dt = σ√π


# ------------------------------------------------------------------------------- the panels
RANGE_STYLE = {15: ":", 20: "--", 25: "-", 8: "-"}


def _panel_learning(ax, r, st):
    for (rule, R), ds in r["final"].items():
        T = trial_steps(R)
        ok = ds.status.values == "complete"  # a diverged run's loss is not drawn
        gone = f" ({(~ok).sum()} diverged)" if not ok.all() else ""
        band(
            ax,
            ds.trial,
            ds.loss.isel(seed=np.flatnonzero(ok)).rolling(trial=10, min_periods=1).mean() / T,
            f"{RULES[rule][0]} ≤{R}τ{gone}",
            RULES[rule][1],
            ls=RANGE_STYLE.get(R, "-"),
        )
    for R in st["ranges"]:
        ax.axhline(silent_loss(R), color="0.6", lw=0.8, ls=RANGE_STYLE.get(R, "-"))
    ax.set_yscale("log")
    plain_log(ax, "y")
    ax.set_xlabel("trial")
    ax.set_ylabel("training loss per step (grey: silent output)")
    ax.legend(frameon=False, fontsize=7)


def _panel_produced(ax, r, st, rule):
    cmap = plt.get_cmap("viridis")
    for i, R in enumerate(st["ranges"]):
        ts, p, _ = _errors(r["final"][rule, R], R)
        p = np.where(np.isfinite(p), p, np.nan)  # no response: not drawn
        color = cmap(i / max(1, len(st["ranges"]) - 1))
        seen = np.isfinite(p).any(0)  # delays where some seed responded
        ts, p = ts[seen], p[:, seen]
        med = np.nanmedian(p, 0)
        lo, hi = np.nanpercentile(p, 25, 0), np.nanpercentile(p, 75, 0)
        ax.errorbar(
            ts / TAU,
            med / TAU,
            yerr=[(med - lo) / TAU, (hi - med) / TAU],
            fmt="o-",
            ms=3,
            capsize=2,
            color=color,
            label=f"trained ≤{R}τ",
        )
        ax.axvspan(5, R, color=color, alpha=0.06)
    top = max(test_intervals(max(st["ranges"]))) / TAU
    ax.plot([0, top], [0, top], "k:", lw=1)
    ax.set_xlabel("test interval T_delay (τ)")
    ax.set_ylabel("produced interval (τ)")
    ax.legend(frameon=False, fontsize=7)


def _panel_failure(ax, r, st):
    for rule in RULES:
        meds, los, his = [], [], []
        for R in st["ranges"]:
            per_seed = np.minimum(seed_errors(r["final"][rule, R], R), CAP)
            meds.append(np.median(per_seed))
            los.append(np.percentile(per_seed, 25))
            his.append(np.percentile(per_seed, 75))
        meds, los, his = map(np.array, (meds, los, his))
        ax.errorbar(
            st["ranges"],
            meds,
            yerr=np.vstack([meds - los, his - meds]),
            fmt="o-",
            capsize=3,
            color=RULES[rule][1],
            label=RULES[rule][0],
        )
    ax.axhline(GOOD, color="0.6", lw=0.8, ls="--")
    ax.axhline(CAP, color="0.8", lw=0.8)
    ax.text(st["ranges"][0], CAP, " no response, or diverged", fontsize=7, va="bottom")
    ax.set_xticks(st["ranges"], [str(R) for R in st["ranges"]])
    ax.set_xlabel("longest training delay (τ)")
    ax.set_ylabel("median |produced − target| in range (τ)")
    ax.legend(frameon=False, fontsize=7)


def shown_seed(r: dict, R: int) -> int:
    """The first seed whose runs completed for every rule at range ``R``."""
    runs = [r["final"][rule, R] for rule in RULES]
    for seed in runs[0].seed.values:
        if all(ds.status.sel(seed=seed).item() == "complete" for ds in runs):
            return int(seed)
    return int(runs[0].seed.values[0])


def _panel_outputs(ax, r, st):
    R = 20 if 20 in st["ranges"] else st["ranges"][0]
    ts = test_intervals(R)
    show = [i for i, d in enumerate(ts) if d in (5 * TAU, (R // 2) * TAU, R * TAU)]
    seed = shown_seed(r, R)
    for rule in RULES:
        ds = r["final"][rule, R].sel(seed=seed)
        y = ds.eval_output.sel(stage="final").isel(output=0)
        for k, i in enumerate(show):
            ax.plot(
                y.isel(example=i).values + 1.5 * k,
                color=RULES[rule][1],
                lw=1,
                label=RULES[rule][0] if k == 0 else None,
            )
    tg = r["final"]["bptt", R].sel(seed=seed).eval_target.isel(output=0)
    x = r["final"]["bptt", R].sel(seed=seed).eval_input.isel(input=0)
    for k, i in enumerate(show):
        ax.plot(
            tg.isel(example=i).values + 1.5 * k, "k--", lw=0.8, label="target" if k == 0 else None
        )
        ax.plot(
            x.isel(example=i).values + 1.5 * k,
            color="0.7",
            lw=0.8,
            label="input" if k == 0 else None,
        )
    ax.set_xlabel("time step")
    ax.set_ylabel("output (offset per trial)")
    ax.legend(frameon=False, fontsize=7)
    return R


def _panel_screen(ax, r, st):
    for rule in RULES:
        for R in st["ranges"]:
            med = [np.median(train_loss(r["screen"][rule, R, e], R)) for e in st["grid"]]
            ax.plot(
                st["grid"],
                med,
                "o",
                ls=RANGE_STYLE.get(R, "-"),
                color=RULES[rule][1],
                label=f"{RULES[rule][0]} ≤{R}τ",
                ms=4,
            )
            gone = [e for e, m in zip(st["grid"], med) if not np.isfinite(m)]
            ax.plot(
                gone,
                [1.0] * len(gone),
                "x",
                color=RULES[rule][1],
                ms=5,
                transform=ax.get_xaxis_transform(),
            )  # diverged: × along the top
    ax.plot([], [], "x", color="0.4", label="diverged (median)")
    for rule, eta in PAPER_ETA.items():
        ax.axvline(eta, color=RULES[rule][1], lw=0.8, alpha=0.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log(ax, "x")
    plain_log(ax, "y", subs=(1.0, 2.0, 5.0))
    ax.set_xlabel("η (vertical lines: the paper's)")
    ax.set_ylabel(f"training loss per step ({len(st['screen_seeds'])} seeds)")
    ax.legend(frameon=False, fontsize=7)


def make(fig: FigureRun) -> dict:
    st = _settings(fig.quick)
    r = runs(fig)
    f, axes = plt.subplots(2, 3, figsize=(16, 9))
    _panel_learning(axes[0, 0], r, st)
    axes[0, 0].set_title("(a) learning", fontsize=10)
    _panel_produced(axes[0, 1], r, st, "rflo")
    axes[0, 1].set_title("(b) RFLO: peak time against delay (Fig. 3b)", fontsize=10)
    _panel_produced(axes[0, 2], r, st, "bptt")
    axes[0, 2].set_title("(c) BPTT: peak time against delay (Fig. 3c)", fontsize=10)
    _panel_failure(axes[1, 0], r, st)
    axes[1, 0].set_title("(d) timing error inside the training range", fontsize=10)
    R = _panel_outputs(axes[1, 1], r, st)
    axes[1, 1].set_title(
        f"(e) held-out trials, trained ≤{R}τ, seed {shown_seed(r, R)} (the first that "
        "completed for both rules)",
        fontsize=10,
    )
    _panel_screen(axes[1, 2], r, st)
    axes[1, 2].set_title("(f) learning-rate screen", fontsize=10)
    f.suptitle(
        f"Murray 2019 Fig. 3{' (quick)' if fig.quick else ''}: interval matching, "
        f"N={32 if fig.quick else 100}, τ=10, Gaussian pulses (SD 15 steps), "
        f"{len(st['seeds'])} seeds, median and 25–75%\nours: T_delay from 5τ, first pulse at "
        "step 50, h₀=0.1, both rules at every range, η per rule and range from one screen; "
        "shaded: the training range"
    )
    fig.save(f)
    return numbers_of(r, st)


def check(numbers: dict, quick: bool) -> list[str]:
    """The paper's claims that do not hold.  Ours, the thresholds: "learned" is a training
    loss below half the silent output's; "reproduces" a median timing error of at most 1τ;
    "better" a one-sided Mann–Whitney test over seeds at p < 0.05."""
    bad = []
    ranges = numbers["ranges (τ)"]
    for rule in ["bptt"] if quick else RULES:  # a quick run is too short for RFLO
        for R in ranges:
            key = f"{rule} ≤{R}τ"
            if not numbers[f"{key}: training loss"] < 0.5 * numbers[f"{key}: silent-output loss"]:
                bad.append(
                    f"{RULES[rule][0]} did not learn at ≤{R}τ (loss ≥ half the silent output's)"
                )
    if quick:
        return bad

    def err(rule, R):
        return numbers[f"{rule} ≤{R}τ: median |error| in range (τ)"]

    for rule in RULES:
        if not err(rule, 15) <= GOOD:
            bad.append(
                f"{RULES[rule][0]} does not reproduce delays ≤15τ (median error "
                f"{err(rule, 15):.2f}τ > {GOOD:g}τ): not 'similarly good' at 15τ"
            )
    if not err("bptt", 25) <= GOOD:
        bad.append(f"BPTT does not reproduce delays ≤25τ (median error {err('bptt', 25):.2f}τ)")
    for R in (20, 25):
        rflo, bptt = (
            np.array(numbers[f"{r} ≤{R}τ: |error| in range per seed (τ)"]) for r in ("rflo", "bptt")
        )
        if not mannwhitneyu(rflo, bptt, alternative="greater").pvalue < 0.05:
            bad.append(f"BPTT is not better than RFLO at ≤{R}τ (Mann–Whitney over seeds)")
    return bad
