"""Williams & Zipser 1989 (Neural Computation 1:270): real-time recurrent learning on their tasks.

(a–g) Learning curves, one panel per task: the loss per step of each 100-step chunk while
learning (median over seeds, 25–75% band), as a fraction of the loss of the best constant
output (½ var of the targets); the dotted line is the criterion, 0.1 (90% of the target's
variance explained).  Under teacher forcing this training loss is a one-step-ahead error from
the true previous value (repeating the last target already scores 0.07 on the sine), so for the
forced arms only the free run says whether the network oscillates.  Arms: RTRL with a weight
change every step ("real time", the paper's) and once per 100-step epoch (the gradient of the
epoch's error, state and sensitivities carried over), and, ours, RFLO (random feedback), e-prop
(B = W_outᵀ: only the output unit hears its error) and UORO, all in the paper's network.  The
oscillation tasks are learned with and without teacher forcing.  (h) Each oscillation task's
network after learning (RTRL real time, seed 10, the first of the final seeds), running freely
from the zero state, against the wave at its best phase; every arm's final networks are scored
so (the squared error of the last four periods at the best phase over the wave's variance,
"oscillating" below 0.1).  (i) The paper's claim that real-time and per-epoch learning "become
more nearly identical as the learning rate is made smaller": the distance between the two
weight vectors after the same learning time (learning rate × steps = 300; pipelined XOR, epochs
of 20 steps), against the learning rate, log–log.

The paper's text was not available to us (only seed 002's summary and its quoted sentences), so
every set-up is ours, chosen once for every task and rule (``models/williams_zipser1989_*
.toml``): logistic units at α = 1 whose output is unit 0 (W_out fixed), 4 units (3 for sequence
recognition), every weight U(−0.5, 0.5), SGD, 10⁵ steps in chunks of 100, inputs and targets as
in :mod:`bioplastic.tasks.williams_zipser`.  Each arm is run at the same three learning rates
(0.3, 1, 3) on seeds 0–3 (a screen, in full in the numbers); its best (most seeds learned, then
fewest median steps to criterion, both on the training loss) is then run on fresh seeds 10–13,
which are the ones drawn and tabled.  The paper's steps to criterion could not be read, so the
table in figures/README.md has no paper number to set ours against.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..config import build, load_preset
from ..results import load
from ..tasks.williams_zipser import Oscillation, phase_free_error
from ..training.checkpoint import held_out, net_from
from .common import MODELS, FigureRun, plt, run_sweep

NAME = "williams_zipser1989"
EXPECT = (
    "RTRL learns each task in real time; real-time and per-epoch learning become more nearly "
    "identical as the learning rate is made smaller"
)
CHUNK = 100  # steps per recorded chunk, and per epoch of the per-epoch arm
CRITERION = 0.1  # loss per step / (½ var of the targets): 90% of the variance explained
LEARNING_TIME = 300.0  # learning rate × steps, for the real-time-against-epoch claim
CLAIM_EPOCH = 20
#: task label: (preset, overrides)
TASKS = {
    "pipelined XOR, τ = 2": ("williams_zipser1989_xor.toml", []),
    "sequence recognition": ("williams_zipser1989_sequence.toml", []),
    "delayed nonmatch": ("williams_zipser1989_nonmatch.toml", []),
    "sine (24 steps), forced": ("williams_zipser1989_oscillation.toml", []),
    "sine (24 steps), not forced": (
        "williams_zipser1989_oscillation.toml",
        ["training.teacher_forcing=false"],
    ),
    "square (8 steps), forced": (
        "williams_zipser1989_oscillation.toml",
        ["task.wave='square'", "task.period=8"],
    ),
    "square (8 steps), not forced": (
        "williams_zipser1989_oscillation.toml",
        ["task.wave='square'", "task.period=8", "training.teacher_forcing=false"],
    ),
}
#: arm label: overrides
ARMS = {
    "RTRL, real time": ["rule.name='rtrl'"],
    "RTRL, per epoch": ["rule.name='rtrl'", f"training.update_every={CHUNK}"],
    "RFLO": ["rule.name='rflo'"],
    "e-prop": ["rule.name='eprop'"],
    "UORO": ["rule.name='uoro'"],
}
COLORS = dict(zip(ARMS, ["k", "tab:gray", "tab:orange", "tab:green", "tab:purple"]))


def _settings(quick: bool) -> dict:
    if quick:
        return dict(
            tasks=["pipelined XOR, τ = 2", "sine (24 steps), forced"],
            arms=["RTRL, real time", "RTRL, per epoch", "RFLO"],
            lrs=[1.0],
            seeds=[0],
            final_seeds=[10],
            chunks=40,
            claim_lrs=[0.3, 1.0],
        )
    return dict(
        tasks=list(TASKS),
        arms=list(ARMS),
        lrs=[0.3, 1.0, 3.0],
        seeds=[0, 1, 2, 3],
        final_seeds=[10, 11, 12, 13],
        chunks=1000,
        claim_lrs=[0.01, 0.03, 0.1, 0.3, 1.0],
    )


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label).strip("_")


def _overrides(task: str, arm: str, st: dict) -> list[str]:
    return [
        *TASKS[task][1],
        *ARMS[arm],
        f"task.chunk={CHUNK}",
        f"training.n_trials={st['chunks']}",
        f"training.eval_every={st['chunks']}",
    ]


def screen(fig: FigureRun, task: str, arm: str, st: dict) -> tuple[xr.Dataset, str]:
    """The arm's runs at every screened learning rate, on the screen's seeds."""
    part = f"{_slug(task)}/{_slug(arm)}"
    grid = {"optimizer.lr": st["lrs"]}
    return run_sweep(fig, part, TASKS[task][0], _overrides(task, arm, st), grid, st["seeds"]), part


def final(fig: FigureRun, task: str, arm: str, st: dict, lr: float) -> tuple[xr.Dataset, str]:
    """The arm at its chosen learning rate, on fresh seeds."""
    part = f"{_slug(task)}/{_slug(arm)}/final"
    over = [*_overrides(task, arm, st), f"optimizer.lr={lr}"]
    return run_sweep(fig, part, TASKS[task][0], over, {}, st["final_seeds"]), part


def relative_loss(fig: FigureRun, part: str, ds: xr.Dataset) -> xr.DataArray:
    """Loss per step of each chunk / (½ var of the targets on the run's test stream);
    inf where a run did not complete."""
    rid = np.ravel(ds.run_id.values)[0]
    _, test, _ = held_out(load(fig.cache / part / f"{rid}.nc"))
    scored = test.target if test.mask is None else test.target[test.mask > 0]
    level = 0.5 * float(np.var(scored))
    rel = ds.loss / (CHUNK * level)
    return xr.where(ds.status == "complete", rel, np.inf)


def to_criterion(rel: np.ndarray) -> float:
    """Steps until the first chunk below the criterion (inf if none)."""
    hit = np.flatnonzero(rel < CRITERION)
    return float((hit[0] + 1) * CHUNK) if hit.size else np.inf


def learned(rel: np.ndarray) -> bool:
    """The last 10% of chunks below the criterion, in the median."""
    tail = rel[-max(len(rel) // 10, 1) :]
    return bool(np.median(tail) < CRITERION)


def free_run(fig: FigureRun, task: str, part: str, ds: xr.Dataset, seed: int) -> tuple:
    """A trained network running freely for 400 steps from the zero state: its output, and
    its squared error at the best phase over the last 4 periods relative to the wave's
    variance (1: no better than the wave's mean)."""
    preset, over = TASKS[task]
    osc = Oscillation(**load_preset(MODELS / preset, over).task.params)
    if ds.status.sel(seed=seed).item() != "complete":
        return np.full(400, np.nan), np.inf
    net = net_from(load(fig.cache / part / f"{ds.run_id.sel(seed=seed).item()}.nc"))
    y = net.run(np.zeros((1, 400, 0))).outputs[0, :, 0]
    wave = osc.wave_at(np.arange(4 * osc.period))
    return y, float(phase_free_error(osc, y[-4 * osc.period :]) / np.var(wave))


def _theta(net) -> np.ndarray:
    return np.concatenate([net.params[k].ravel() for k in ("W_rec", "W_in", "b")])


def claim(fig: FigureRun, st: dict) -> dict:
    """Real time against per epoch after the same learning time, by learning rate: the
    distance between the two weight vectors, and how far the per-epoch one moved."""
    out = {}
    for lr in st["claim_lrs"]:
        n = max(int(round(LEARNING_TIME / lr)) // CLAIM_EPOCH, 1)
        over = [
            f"optimizer.lr={lr}",
            f"task.chunk={CLAIM_EPOCH}",
            f"training.n_trials={n}",
            f"training.eval_every={n}",
        ]
        part = f"claim/lr_{lr:g}"
        preset = load_preset(MODELS / "williams_zipser1989_xor.toml", over)
        ds = run_sweep(fig, part, preset, [], {"training.update_every": [1, CLAIM_EPOCH]}, [0])
        final = {}
        for ue in (1, CLAIM_EPOCH):
            at = {"training_update_every": ue, "seed": 0}
            if ds.status.sel(at).item() != "complete":  # diverged: no distance to measure
                final[ue] = np.full_like(_theta(build(preset)[0]), np.nan)
                continue
            final[ue] = _theta(net_from(load(fig.cache / part / f"{ds.run_id.sel(at).item()}.nc")))
        start = _theta(build(preset)[0])
        gap = float(np.linalg.norm(final[1] - final[CLAIM_EPOCH]))
        moved = float(np.linalg.norm(final[CLAIM_EPOCH] - start))
        out[lr] = (gap, moved)
    return out


def best_lr(rel: xr.DataArray) -> float:
    """The learning rate at which most seeds learned, then the fewest median steps."""

    def score(lr):
        r = rel.sel({"optimizer_lr": lr}).values
        ok = sum(learned(x) for x in r)
        return (-ok, float(np.median([to_criterion(x) for x in r])))

    return float(min(rel["optimizer_lr"].values, key=score))


def make(fig: FigureRun) -> dict:
    st = _settings(fig.quick)
    numbers: dict = {}
    curves = {}
    for task in st["tasks"]:
        for arm in st["arms"]:
            key = f"{task} | {arm}"
            ds, part = screen(fig, task, arm, st)
            rel = relative_loss(fig, part, ds)
            for lr in st["lrs"]:
                r = rel.sel({"optimizer_lr": lr}).values
                numbers[f"{key} | screen, lr {lr:g}: seeds learned"] = int(
                    sum(learned(x) for x in r)
                )
            lr = best_lr(rel)
            ds, part = final(fig, task, arm, st, lr)
            r = relative_loss(fig, part, ds)
            numbers[f"{key}: lr"] = lr
            numbers[f"{key}: seeds learned"] = int(sum(learned(x) for x in r.values))
            numbers[f"{key}: median steps to criterion"] = float(
                np.median([to_criterion(x) for x in r.values])
            )
            curves[task, arm] = (r, lr)
            if task.startswith(("sine", "square")):
                runs = [free_run(fig, task, part, ds, seed) for seed in st["final_seeds"]]
                errs = [e for _, e in runs]
                numbers[f"{key}: free-run error / var, median"] = float(np.median(errs))
                numbers[f"{key}: seeds oscillating freely"] = int(sum(e < CRITERION for e in errs))
                if arm == "RTRL, real time":
                    curves[task, "free run"] = runs[0][0]
    gaps = claim(fig, st)
    lrs = np.array(list(gaps))
    gap = np.array([g for g, _ in gaps.values()])
    ok = np.isfinite(gap)
    slope = float(np.polyfit(np.log(lrs[ok]), np.log(gap[ok]), 1)[0]) if ok.sum() > 1 else np.nan
    for lr, (g, m) in gaps.items():
        numbers[f"claim, lr {lr:g}: |θ_real time − θ_per epoch|"] = g
        numbers[f"claim, lr {lr:g}: |θ_per epoch − θ_0|"] = m
    numbers["claim: log–log slope of the distance against the learning rate"] = slope
    _plot(fig, st, curves, gaps, slope)
    return numbers


def _plot(fig: FigureRun, st: dict, curves: dict, gaps: dict, slope: float) -> None:
    tasks = st["tasks"]
    n = len(tasks) + 2
    cols = 3
    rows = -(-n // cols)
    f, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    axes = axes.ravel()
    letters = "abcdefghijkl"
    for i, task in enumerate(tasks):
        ax = axes[i]
        for arm in st["arms"]:
            r, lr = curves[task, arm]
            steps = CHUNK * np.arange(1, r.sizes["trial"] + 1)
            finite = r.where(np.isfinite(r))
            ax.plot(steps, finite.median("seed"), color=COLORS[arm], label=f"{arm} (lr {lr:g})")
            lo, hi = finite.quantile(0.25, "seed"), finite.quantile(0.75, "seed")
            ax.fill_between(steps, lo, hi, color=COLORS[arm], alpha=0.15, lw=0)
        ax.axhline(CRITERION, color="k", ls=":", lw=0.8)
        ax.set_yscale("log")
        ax.set_ylim(1e-3, 3)
        ax.set_xlabel("step")
        ax.set_ylabel("loss / (½ var of targets)")
        ax.set_title(f"({letters[i]}) {task}", fontsize=9)
        ax.legend(frameon=False, fontsize=6)
    ax = axes[len(tasks)]
    osc = [t for t in tasks if (t, "free run") in curves]
    for k, task in enumerate(osc):
        y = curves[task, "free run"]
        wave = Oscillation(**load_preset(MODELS / TASKS[task][0], TASKS[task][1]).task.params)
        t = np.arange(len(y))[-96:]
        shift = min(range(wave.period), key=lambda s: np.mean((y[t] - wave.wave_at(t + s)) ** 2))
        (line,) = ax.plot(t, y[t] + 1.2 * k, label=task)
        ax.plot(t, wave.wave_at(t + shift) + 1.2 * k, ls=":", color=line.get_color(), lw=1)
    ax.set_xlabel("step of the free run (from h = 0); dotted: the wave at its best phase")
    ax.set_ylabel("output unit (offset per task)")
    ax.set_title(
        f"({letters[len(tasks)]}) after learning (RTRL real time), running freely", fontsize=9
    )
    ax.legend(frameon=False, fontsize=6)
    ax = axes[len(tasks) + 1]
    lrs = np.array(list(gaps))
    ax.loglog(lrs, [g for g, _ in gaps.values()], "o-k", label="|θ_real time − θ_per epoch|")
    ax.loglog(lrs, [m for _, m in gaps.values()], "s--", color="0.6", label="|θ_per epoch − θ_0|")
    ax.set_xlabel("learning rate (learning time lr × steps = 300)")
    ax.set_ylabel("distance between weight vectors")
    ax.set_title(
        f"({letters[len(tasks) + 1]}) real time against per epoch (XOR): slope {slope:.2f}",
        fontsize=9,
    )
    ax.legend(frameon=False, fontsize=7)
    for ax in axes[n:]:
        ax.axis("off")
    f.suptitle(
        "Williams & Zipser 1989, their network and tasks (set-ups ours)"
        + (" (quick: 2 tasks, 4,000 steps, 1 seed)" if fig.quick else "")
    )
    fig.save(f)


def check(numbers: dict, quick: bool) -> list[str]:
    bad = []
    gaps = sorted(
        (float(k.split("lr ")[1].split(":")[0]), v)
        for k, v in numbers.items()
        if k.startswith("claim, lr") and "real time −" in k
    )
    if not all(np.isfinite(g) for _, g in gaps):
        bad.append("a real-time or per-epoch run of the claim diverged")
    elif any(a[1] >= b[1] for a, b in zip(gaps, gaps[1:])):
        bad.append("real time and per epoch do not get closer as the learning rate falls")
    if quick:
        return bad
    if not gaps[-1][1] > 10 * gaps[0][1]:
        bad.append("the real-time/per-epoch distance falls by less than 10× over the lrs")
    for task in TASKS:  # the paper learned each task; what it says of unforced oscillation
        if task.endswith("not forced"):  # we could not read: shown, not checked
            continue
        if task.endswith(", forced"):  # the free run, not the one-step-ahead training loss
            key = f"{task} | RTRL, real time: seeds oscillating freely"
            if numbers.get(key, 0) < 3:
                bad.append(f"after {task}, {numbers.get(key)} of 4 RTRL networks oscillate freely")
            continue
        key = f"{task} | RTRL, real time: seeds learned"
        if numbers.get(key, 0) < 3:
            bad.append(f"RTRL in real time learned {task} in {numbers.get(key)} of 4 seeds")
    return bad
