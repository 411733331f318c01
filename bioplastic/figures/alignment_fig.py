"""How well each rule follows the true gradient, and whether that predicts how well it learns.

After Marschall, Cho & Savin 2020 (JMLR 21), who compare each online rule's update with the
exact gradient and state in their abstract that "alignment with exact methods does not explain
ultimate performance".  Two kinds of runs per task, seeds as a sweep:

* **probes on an exact-gradient run**: a network trained with the exact gradient (BPTT on the
  periodic task, RTRL online on Add); at every evaluation each rule's estimate on the held-out
  trials, at the weights of that moment, is compared with BPTT's (``probe=RULES``).  A probed
  rule uses its default feedback: RFLO's B is random and W_out never aligns with it here, so
  its cosine stays near 0 by construction.
* **each rule's own run**: the rule trains the network itself, and at every evaluation its
  estimate (with the run's own B) is compared with BPTT's on the held-out trials
  (``align_with="bptt"``, ``eval_alignment``).  Here RFLO's W_out can align with B (Murray
  2019, Fig. 2c), and its updates with the gradient.

Each row: (1) the cosine during exact-gradient training, (2) the cosine along each rule's own
run, (3) the rule × rule cosine matrix at the end of the exact-gradient run, ordered by
average-linkage clustering on 1 − cosine, (4) each own run's mean cosine against its final
held-out loss, with Spearman's ρ and its 95% bootstrap interval over runs (rules × seeds).
Cosines are on the recurrent parameters (W_in, W_rec, b); W_out's estimate is exact for every
rule.

e-prop and SnAp-1 nearly coincide in the rate form: both keep one eligibility trace per
synapse; SnAp-1 decays it by the self-Jacobian ``1 − α + α f′(u_i) W_ii`` where e-prop keeps
``1 − α`` only.  The extra term is small: W_ii ~ N(0, g²/N) gives |α W_ii| ≈ 0.02 on the
periodic network against 1 − α = 0.9.

Periodic: ``models/murray2019_periodic.toml`` (N = 30, P = 20τ, no input, h₀ = 0.1, SGD
η = 0.03 on the time-averaged loss), 5,000 trials, evaluated every 250 on the one held-out
trial.  Add: ``models/marschall2020_add.toml`` (N = 32, α = 0.5, lags 4 and 5, Adam lr 1e-3),
400 chunks of 100 steps, evaluated every 40 chunks on a 10,000-step test stream, probes on its
first 200 steps (100 unscored warm-up).  Rules: RFLO (random feedback), e-prop, SnAp-1, UORO,
KF-RTRL, R-KF-RTRL, truncated BPTT (window 10), OK (rank 2), KeRNL, DNI, F-BPTT (window 10)
and node perturbation (σ = 10⁻³, the noise-free trial as its baseline), each with its default
feedback, the same preset and learning rate for all (5 seeds).  Node perturbation learns per
trial from a reward: it probes both tasks but trains on its own on the periodic task only.
KeRNL's β, γ and DNI's A learn inside the rule's state: on the periodic task (trials) they
restart with every trial, on Add (a stream) they carry over.
"""

from __future__ import annotations

import json

import numpy as np
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform
from scipy.stats import bootstrap, spearmanr

from ..alignment import rule_label
from .common import FigureRun, band, plain_log, plt, run_sweep

NAME = "alignment"
RULES = [
    "rflo",
    "eprop",
    "snap1",
    "uoro",
    "kf_rtrl",
    "rkf_rtrl",
    {"name": "tbptt", "truncation": 10},
    "ok",
    "kernl",
    "dni",
    {"name": "fbptt", "truncation": 10},
    {"name": "node_perturbation", "baseline": "clean"},
]
#: reward rules learn per trial: they probe both tasks, but train on their own on the periodic
#: task only (Add is a continuing stream, learned online)
TRIALS_ONLY = ("node_perturbation",)
EXPECT = (
    "alignment with the exact gradient does not explain final performance (Marschall et al. "
    "2020); along RFLO's own run its updates align with the gradient (Murray 2019)"
)
TASKS = {
    "periodic": ("murray2019_periodic.toml", "rule.name=bptt", "rule.feedback=symmetric"),
    "add": ("marschall2020_add.toml", "rule.name=rtrl", None),
}


def _label(r) -> str:
    """The probe label of a rule (as :func:`bioplastic.alignment.rule_label` writes it)."""
    if isinstance(r, str):
        return r
    return rule_label((r["name"], {k: v for k, v in r.items() if k != "name"}))


def _name(r) -> str:
    return r if isinstance(r, str) else r["name"]


def own_rules(task: str) -> list:
    """The rules trained on their own on ``task``."""
    return [r for r in RULES if task == "periodic" or _name(r) not in TRIALS_ONLY]


def color(r) -> tuple:
    """One colour per rule, the same in every panel (tab20: more rules than C0-C9)."""
    return plt.cm.tab20(RULES.index(r) % 20)


def _toml(rules: list) -> str:
    """A probe list as a TOML value for a preset override."""
    items = [
        json.dumps(r)
        if isinstance(r, str)
        else "{" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in r.items()) + "}"
        for r in rules
    ]
    return "[" + ", ".join(items) + "]"


def _settings(quick: bool) -> dict:
    if quick:
        return dict(
            seeds=[0],
            periodic=(["network.n_rec=12", "task.period=8"], 200, 50),
            add=(["network.n_rec=12", "task.test_steps=1000"], 12, 4),
        )
    return dict(seeds=list(range(5)), periodic=([], 5000, 250), add=([], 400, 40))


def _common(st: dict, task: str) -> list[str]:
    overrides, n, every = st[task]
    return [
        *overrides,
        f"training.n_trials={n}",
        f"training.eval_every={every}",
        "training.n_eval=1",
    ]


def _rule_overrides(r) -> list[str]:
    if isinstance(r, str):
        return [f"rule.name={r}"]
    return [f"rule.name={r['name']}"] + [
        f"rule.{k}={json.dumps(v)}" for k, v in r.items() if k != "name"
    ]


def runs(fig: FigureRun) -> dict:
    st = _settings(fig.quick)
    out = {}
    for task, (preset, exact_rule, feedback) in TASKS.items():
        exact = [
            *_common(st, task),
            exact_rule,
            "training.align_with=none",
            f"training.probe={_toml(RULES)}",
        ] + ([feedback] if feedback else [])
        out[task, "exact"] = run_sweep(fig, f"{task}_exact", preset, exact, {}, st["seeds"])
        for r in own_rules(task):
            own = [*_common(st, task), *_rule_overrides(r), "training.align_with=bptt"]
            if _name(r) in TRIALS_ONLY:  # no error, no feedback
                own.append("rule.feedback=none")
            elif task == "periodic":
                own.append(f"rule.feedback={'random' if r == 'rflo' else 'symmetric'}")
            out[task, _label(r)] = run_sweep(
                fig, f"{task}_own_{_label(r)}", preset, own, {}, st["seeds"]
            )
    return out


def own_points(r: dict, task: str, steps: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Each own run's mean cosine (recurrent) and final held-out loss per step, with labels."""
    xs, ys, labels = [], [], []
    for rule in map(_label, own_rules(task)):
        ds = r[task, rule]
        ok = ds.status.values == "complete"
        cos = ds.eval_alignment.sel(param="recurrent").mean("evaluation").values
        final = ds.eval_loss.isel(evaluation=-1).values / steps
        xs += list(cos[ok])
        ys += list(final[ok])
        labels += [rule] * int(ok.sum())
    return np.asarray(xs), np.asarray(ys), labels


def correlation(x: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """Spearman's ρ and its 95% percentile-bootstrap interval (pairs resampled, 2,000 times)."""
    rho = float(spearmanr(x, y).statistic)
    res = bootstrap(
        (x, y),
        lambda a, b: spearmanr(a, b).statistic,
        paired=True,
        vectorized=False,
        n_resamples=2000,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    return rho, float(res.confidence_interval.low), float(res.confidence_interval.high)


def _order(C: np.ndarray) -> np.ndarray:
    D = np.clip(1 - C, 0, 2)
    np.fill_diagonal(D, 0)
    D = (D + D.T) / 2
    return leaves_list(linkage(squareform(D, checks=False), "average"))


def make(fig: FigureRun) -> dict:
    st = _settings(fig.quick)
    r = runs(fig)
    f, axes = plt.subplots(2, 4, figsize=(22, 11), gridspec_kw={"width_ratios": [1.2, 1.2, 1, 1]})
    numbers: dict = {}
    for row, task in enumerate(TASKS):
        ds = r[task, "exact"]
        steps = ds.sizes["time"] if task == "periodic" else (1000 if fig.quick else 10_000)
        seen = ds.trials_seen.isel(seed=0).values
        unit = "trials seen" if task == "periodic" else "chunks of 100 steps seen"
        ax = axes[row, 0]
        cos = ds.probe_cosine.sel(param="recurrent")
        for spec, rule in zip(RULES, ds.probe.values):
            band(ax, seen, cos.sel(probe=rule), str(rule), color(spec))
            numbers[f"{task} exact run: median cosine, {rule}"] = float(
                cos.sel(probe=rule).median()
            )
        ax.set_title(f"({'ae'[row]}) {task}: probes on an exact-gradient run", fontsize=10)
        ax = axes[row, 1]
        for rr in own_rules(task):
            rule = _label(rr)
            own = r[task, rule]
            c = own.eval_alignment.sel(param="recurrent")
            band(ax, own.trials_seen.isel(seed=0).values, c, rule, color(rr))
            numbers[f"{task} own run: median cosine, {rule}"] = float(c.median())
        ax.set_title(f"({'bf'[row]}) {task}: each rule along its own run", fontsize=10)
        for ax in axes[row, :2]:
            ax.axhline(0, color="0.7", lw=0.8)
            ax.set_ylim(-1.05, 1.05)
            ax.set_xlabel(unit)
            ax.set_ylabel("cosine with BPTT (recurrent weights)")
            ax.legend(frameon=False, fontsize=7, ncol=2)
        ax = axes[row, 2]
        C = ds.probe_pairwise.sel(param="recurrent").isel(evaluation=-1).mean("seed").values
        order = _order(C)
        labels = [str(ds.probe.values[i]) for i in order]
        im = ax.imshow(C[np.ix_(order, order)], vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_title(f"({'cg'[row]}) {task}: rule × rule cosine, end of the exact run", fontsize=10)
        f.colorbar(im, ax=ax, fraction=0.046, label="cosine between the two rules' estimates")
        numbers[f"{task}: cluster order"] = labels
        ax = axes[row, 3]
        x, y, who = own_points(r, task, steps)
        for rr in own_rules(task):
            rule = _label(rr)
            pick = [j for j, w in enumerate(who) if w == rule]
            ax.plot(x[pick], y[pick], "o", color=color(rr), label=rule, ms=5)
        rho, lo, hi = correlation(x, y)
        numbers[f"{task}: Spearman ρ, mean alignment vs final loss [95% CI]"] = [rho, lo, hi]
        numbers[f"{task}: runs in the correlation"] = len(x)
        ax.set_yscale("log")
        plain_log(ax, "y", subs=(1.0, 2.0, 5.0))  # Add's losses span less than a decade
        ax.set_xlabel("mean cosine with BPTT along the run")
        ax.set_ylabel("final held-out loss per step")
        ax.set_title(
            f"({'dh'[row]}) {task}: ρ = {rho:.2f} [{lo:.2f}, {hi:.2f}], {len(x)} runs", fontsize=10
        )
        ax.legend(frameon=False, fontsize=7, ncol=2)
    f.suptitle(
        f"Alignment with the exact gradient{' (quick)' if fig.quick else ''}: "
        f"{len(st['seeds'])} seeds, median and 25–75%; the same preset and learning rate for "
        "every rule; ρ: Spearman's, [95% bootstrap interval]\ne-prop ≈ SnAp-1 in the rate form: "
        "SnAp-1's trace decays by 1 − α + α f′(u_i) W_ii, e-prop's by 1 − α; |α W_ii| ≈ 0.02"
    )
    fig.save(f)
    return numbers


def check(numbers: dict, quick: bool) -> list[str]:
    """Two papers' claims and two expectations of ours, each said as such: Murray 2019 (along
    RFLO's own run its updates come to align: its cosine beats, by more than 0.1, that of a
    random B that W_out never met); Marschall et al. 2020 (alignment with the exact gradient
    does not explain final performance: fails if Spearman's ρ between a run's mean cosine and
    its final loss is negative with a 95% interval excluding 0 and ρ² ≥ 0.5, our threshold);
    ours, SnAp-1's cosine above 0.1 on an exact-gradient run, and KF-RTRL's above UORO's
    (Mujika et al. 2018 report KF-RTRL's smaller variance)."""
    bad = []
    for task in TASKS:
        if not numbers[f"{task} exact run: median cosine, snap1"] > 0.1:
            bad.append(f"{task}: ours: SnAp-1 does not align with the gradient")
    if quick:
        return bad
    own, probed = (numbers[f"periodic {k} run: median cosine, rflo"] for k in ("own", "exact"))
    if not own > probed + 0.1:
        bad.append(
            f"periodic: RFLO along its own run ({own:.2f}) does not align better than "
            f"with a random B that W_out never met ({probed:.2f})"
        )
    if (
        not numbers["add exact run: median cosine, kf_rtrl"]
        > numbers["add exact run: median cosine, uoro"]
    ):
        bad.append("add: ours: KF-RTRL does not align better than UORO")
    for task in TASKS:
        rho, lo, hi = numbers[f"{task}: Spearman ρ, mean alignment vs final loss [95% CI]"]
        if hi < 0 and rho**2 >= 0.5:
            bad.append(
                f"{task}: alignment does explain final performance (ρ = {rho:.2f}, "
                f"95% CI [{lo:.2f}, {hi:.2f}]), against Marschall et al.'s claim"
            )
    return bad
