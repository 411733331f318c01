"""Murray 2019 (eLife 8:e43299), Fig. 4: an RNN whose auxiliary loop chains learned syllables.

The paper's answer to RFLO's failures on long outputs.  Stage 1: a 100-unit RNN with four
tonic inputs learns, with RFLO, one movement syllable per input, random syllables one after
another (``models/murray2019_syllables.toml``, 10,000 syllables).  Stage 2: the RNN is frozen;
four striatal readout units choose, by winner-take-all at each syllable's end, the input of the
next syllable, and their weights learn by a reward-modulated Hebbian rule for 10,000 trials
(:mod:`bioplastic.loop`; p_explore = 0.1).  Comparison: RNNs without the loop, trained with
RFLO or BPTT for 20,000 trials (the loop's two stages together) to produce the whole 160τ
sequence autonomously (``models/murray2019_sequence.toml``; η from the paper's Fig. 2 at 160τ:
RFLO 0.0003, BPTT 0.03).  The target sequence: four syllables, each a 20τ reach and a 20τ hold,
tracing a square.  5 seeds (network, feedback and loop choices drawn from each).

Ours (the paper does not give them): the reach shape and the holds
(:mod:`bioplastic.tasks.sequence`), the syllable stream without bounds, η = 0.01 in stage 1,
and a reward baseline in stage 2 (R − R̄, λ = 0.05): the rule as written, with R ∈ {0, 1} and
no baseline, is run too and reported.  η_s does not matter: W_s starts at 0 and only the
winner's weights change, so every W_s is a scaled copy of the same sum and the
winner-take-all is scale-free.

(a) the four syllables after stage 1, each from the state the others leave, as cursor paths;
(b) stage 2: the fraction of correct transitions per trial, with and without the reward
baseline; (c) the whole sequence as a cursor path: the target, the loop (greedy), RFLO and
BPTT without the loop (seed 0); (d) the sequence's loss (1/2T) Σ |v − v*|² against the same
training budget for the three.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ..loop import LoopCircuit, learn_transitions
from ..results import load, save
from ..tasks import ReachSequence, Syllables
from ..training import held_out
from .common import FigureRun, plain_log, plt, run_sweep

NAME = "murray2019_fig4"
EXPECT = (
    "with the number of training trials held equal, RFLO with the loop architecture "
    "outperforms RFLO and even BPTT trained on the whole sequence (author response)"
)
SEQUENCE = [0, 1, 2, 3]
ETA_WHOLE = {"rflo": 0.0003, "bptt": 0.03}  # the paper's Fig. 2 η at 160τ
VARIANTS = {"with baseline": 0.05, "as written": 0.0}  # stage 2's reward baseline λ
COLORS = {"loop": "C2", "rflo": "C3", "bptt": "C0"}


def _settings(quick: bool) -> dict:
    if quick:
        return dict(
            seeds=[0, 1],
            n_rec=40,
            n_move=40,
            stage1=600,
            stage2=300,
            whole=1200,
            stage1_extra=[
                "training.update_every=80",
                "training.eval_every=200",
                "optimizer.lr=0.03",
            ],
            whole_lr={"rflo": 0.003, "bptt": 0.03},
            eval_every=200,
        )
    return dict(
        seeds=list(range(5)),
        n_rec=100,
        n_move=200,
        stage1=10_000,
        stage2=10_000,
        whole=20_000,
        stage1_extra=[],
        whole_lr=ETA_WHOLE,
        eval_every=500,
    )


def _size(st: dict) -> list[str]:
    return [
        f"network.n_rec={st['n_rec']}",
        f"task.n_move={st['n_move']}",
        f"task.n_hold={st['n_move']}",
    ]


def _sequence(st: dict) -> ReachSequence:
    return ReachSequence(SEQUENCE, n_move=st["n_move"], n_hold=st["n_move"])


def runs(fig: FigureRun) -> dict:
    st = _settings(fig.quick)
    stage1 = run_sweep(
        fig,
        "stage1",
        "murray2019_syllables.toml",
        [*_size(st), f"training.n_trials={st['stage1']}", *st["stage1_extra"]],
        {},
        st["seeds"],
    )
    whole = {
        rule: run_sweep(
            fig,
            f"whole_{rule}",
            "murray2019_sequence.toml",
            [
                *_size(st),
                f"rule.name={rule}",
                f"rule.feedback={'symmetric' if rule == 'bptt' else 'random'}",
                f"optimizer.lr={st['whole_lr'][rule]}",
                f"training.n_trials={st['whole']}",
                f"training.eval_every={st['eval_every']}",
            ],
            {},
            st["seeds"],
        )
        for rule in ("rflo", "bptt")
    }
    loops = {v: [_stage2(fig, stage1, seed, st, v) for seed in st["seeds"]] for v in VARIANTS}
    return dict(stage1=stage1, whole=whole, loops=loops)


def _stage2(fig: FigureRun, stage1: xr.Dataset, seed: int, st: dict, variant: str) -> xr.Dataset:
    """Stage 2 for one seed, cached as a Dataset (rewards, W_s, the greedy run)."""
    path = Path(fig.cache) / "stage2" / f"{variant.replace(' ', '_')}_seed{seed}.nc"
    if path.exists():
        return load(path)
    rid = str(stage1.run_id.sel(seed=seed).values)
    net, _, _ = held_out(load(Path(fig.cache) / "stage1" / f"{rid}.nc"))
    syll = Syllables(n_move=st["n_move"], n_hold=st["n_move"])
    circuit = LoopCircuit(net, syll, h0=np.full(net.n_rec, 0.1))
    seq = _sequence(st)
    trained, rewards = learn_transitions(
        circuit,
        seq,
        st["stage2"],
        eta=1.0,
        p_explore=0.1,
        baseline=VARIANTS[variant],
        seed=seed,
    )
    greedy = trained.run(seq.sequence)
    target = seq.target()
    ds = xr.Dataset(
        {
            "reward": (("trial", "position"), rewards),
            "W_s": (("syllable", "unit"), trained.W_s),
            "choice": (("position",), greedy.choices),
            "output": (("time", "output"), greedy.outputs),
            "target": (("time", "output"), target),
            "loss": ((), 0.5 * float(np.mean(np.sum((greedy.outputs - target) ** 2, -1)))),
        },
        attrs={"seed": seed, "variant": variant, "baseline": VARIANTS[variant]},
    )
    save(ds, path)
    return ds


def _whole_loss(ds: xr.Dataset, T: int) -> np.ndarray:
    """Per seed: the final sequence loss (1/2T) Σ |v − v*|² (NaN where a run did not end)."""
    loss = ds.eval_loss.isel(evaluation=-1).values / T
    return np.where(ds.status.values == "complete", loss, np.nan)


def numbers_of(r: dict, st: dict) -> dict:
    T = _sequence(st).n_steps
    out: dict = {}
    for variant, dss in r["loops"].items():
        losses = [float(d.loss) for d in dss]
        out[f"loop ({variant}): sequence loss"] = float(np.median(losses))
        out[f"loop ({variant}): sequence losses"] = losses
        out[f"loop ({variant}): correct transitions, last 10% of trials"] = float(
            np.median(
                [
                    d.reward.isel(trial=slice(-max(1, d.sizes["trial"] // 10), None)).mean()
                    for d in dss
                ]
            )
        )
        out[f"loop ({variant}): greedy sequences right"] = int(
            sum(list(d.choice.values) == SEQUENCE for d in dss)
        )
    for rule, ds in r["whole"].items():
        f = _whole_loss(ds, T)
        out[f"{rule} without the loop: sequence loss"] = float(np.nanmedian(f))
        out[f"{rule} without the loop: sequence losses"] = [float(v) for v in f]
        out[f"{rule} without the loop: untrained loss"] = float(
            np.nanmedian(ds.eval_loss.isel(evaluation=0).values / T)
        )
    s1 = r["stage1"]
    out["stage 1: syllable-stream loss per step, first → last"] = [
        float(np.nanmedian(s1.eval_loss.isel(evaluation=i).values)) / (20 * 2 * st["n_move"])
        for i in (0, -1)
    ]
    return out


# ------------------------------------------------------------------------------- panels
def _path(v: np.ndarray) -> np.ndarray:
    return np.vstack([[0.0, 0.0], np.cumsum(v, axis=0)])


def _panel_syllables(ax, fig, r, st):
    """The stage-1 network on its held-out syllable stream: the cursor's path."""
    rid = str(r["stage1"].run_id.sel(seed=st["seeds"][0]).values)
    net, test, h0 = held_out(load(Path(fig.cache) / "stage1" / f"{rid}.nc"))
    syllable = 2 * st["n_move"]  # the warm-up is one syllable; then eight
    window = slice(syllable, 9 * syllable)
    _, y = net.run(test.x[:1], h0=h0)
    tgt, out = test.target[0, window], y[0, window]
    ax.plot(*_path(tgt).T, "k--", lw=1, label="target")
    ax.plot(*_path(out).T, color=COLORS["loop"], lw=1.5, label="RNN after stage 1")
    ax.set_aspect("equal")
    ax.set_xlabel("cursor x")
    ax.set_ylabel("cursor y")
    ax.legend(frameon=False, fontsize=7)


def _panel_stage2(ax, r):
    for (variant, dss), ls in zip(r["loops"].items(), ("-", ":")):
        frac = np.stack([d.reward.mean("position").values for d in dss])
        k = max(1, frac.shape[1] // 100)
        smooth = np.stack([np.convolve(f, np.ones(k) / k, mode="valid") for f in frac])
        ax.plot(np.median(smooth, 0), color=COLORS["loop"], ls=ls, label=f"loop, {variant}")
    ax.axhline(0.25, color="0.7", lw=0.8)
    ax.set_ylim(0, 1)
    ax.set_xlabel("stage-2 trial")
    ax.set_ylabel("fraction of correct transitions")
    ax.legend(frameon=False, fontsize=7)


def _panel_sequence(ax, r, st):
    seed_i = 0
    seq = _sequence(st)
    ax.plot(*_path(seq.target()).T, "k--", lw=1, label="target")
    loop = r["loops"]["with baseline"][seed_i]
    ax.plot(*_path(loop.output.values).T, color=COLORS["loop"], label="RFLO + loop")
    for rule, ds in r["whole"].items():
        y = ds.isel(seed=seed_i).eval_output.sel(stage="final").isel(example=0).values
        ax.plot(*_path(y).T, color=COLORS[rule], label=f"{rule.upper()}, no loop")
    ax.set_aspect("equal")
    ax.set_xlabel("cursor x")
    ax.set_ylabel("cursor y")
    ax.legend(frameon=False, fontsize=7)


def _panel_losses(ax, r, st):
    T = _sequence(st).n_steps
    groups = {
        "RFLO + loop": [float(d.loss) for d in r["loops"]["with baseline"]],
        "RFLO + loop\n(rule as written)": [float(d.loss) for d in r["loops"]["as written"]],
        "RFLO,\nno loop": list(_whole_loss(r["whole"]["rflo"], T)),
        "BPTT,\nno loop": list(_whole_loss(r["whole"]["bptt"], T)),
    }
    for i, (label, v) in enumerate(groups.items()):
        v = np.asarray(v, float)
        ax.plot(
            np.full(len(v), i) + np.linspace(-0.1, 0.1, len(v)),
            v,
            "o",
            ms=5,
            color=["C2", "C2", "C3", "C0"][i],
            mfc="none" if i == 1 else None,
        )
        ax.plot([i - 0.25, i + 0.25], [np.nanmedian(v)] * 2, "k-", lw=1.5)
    untrained = float(np.nanmedian(r["whole"]["rflo"].eval_loss.isel(evaluation=0).values / T))
    ax.axhline(untrained, color="0.6", lw=0.8, label="untrained")
    ax.set_xticks(range(len(groups)), list(groups), fontsize=8)
    ax.set_yscale("log")
    plain_log(ax, "y")
    ax.set_ylabel("sequence loss (1/2T) Σ |v − v*|²")
    ax.legend(frameon=False, fontsize=7)


def make(fig: FigureRun) -> dict:
    st = _settings(fig.quick)
    r = runs(fig)
    f, axes = plt.subplots(1, 4, figsize=(21, 5.2))
    _panel_syllables(axes[0], fig, r, st)
    axes[0].set_title("(a) eight held-out syllables after stage 1", fontsize=10)
    _panel_stage2(axes[1], r)
    axes[1].set_title("(b) stage 2: learning the transitions", fontsize=10)
    _panel_sequence(axes[2], r, st)
    axes[2].set_title("(c) the whole sequence, seed 0", fontsize=10)
    _panel_losses(axes[3], r, st)
    axes[3].set_title(
        f"(d) sequence loss, {st['stage1'] + st['stage2']:,} trials each", fontsize=10
    )
    f.suptitle(
        f"Murray 2019 Fig. 4{' (quick)' if fig.quick else ''}: N={st['n_rec']}, τ=10, four "
        f"syllables of {2 * st['n_move'] // 10}τ (reach, hold), a square of "
        f"{8 * st['n_move'] // 10}τ; {len(st['seeds'])} seeds. Ours: the reach shape, the "
        "holds, η=0.01 in stage 1, a reward baseline in stage 2 (the rule as written: open "
        "circles)"
    )
    fig.save(f)
    return numbers_of(r, st)


def check(numbers: dict, quick: bool) -> list[str]:
    bad = []
    right = numbers["loop (with baseline): correct transitions, last 10% of trials"]
    if not right > 0.25:
        bad.append(f"the loop's transitions are at chance ({right:.2f} correct; chance 0.25)")
    if quick:
        return bad
    loop = numbers["loop (with baseline): sequence loss"]
    if not loop < 0.5 * numbers["rflo without the loop: untrained loss"]:
        bad.append("the loop circuit did not learn the sequence (loss ≥ half the untrained)")
    for rule in ("rflo", "bptt"):
        if not loop < numbers[f"{rule} without the loop: sequence loss"]:
            bad.append(f"the loop does not outperform {rule.upper()} without the loop")
    return bad
