"""The fixed parts of a run: its settings, rule, held-out trials and provenance, checked once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import numpy as np

from ..alignment import RuleSpec, rule_label
from ..network import LeakyRNN
from ..optim import SGD, Adam
from ..rules.base import RULES, is_reward, make_rule
from ..tasks import task_config
from ..tasks.base import Trials
from .settings import Settings, objective_of, streams, validate

__all__ = ["Run", "eval_trials", "recorded_window", "initial_state", "net_config"]


class Run:
    """What does not change while a run trains (the state that does is a RunState)."""

    def __init__(
        self,
        net: LeakyRNN,
        task: Any,
        settings: Settings,
        optimizer: SGD | Adam,
        extra_config: Mapping[str, Any],
        initial: dict[str, np.ndarray] | None = None,
    ) -> None:
        validate(settings, net, task)
        s = settings
        self.task, self.settings, self.optimizer = task, s, optimizer
        self.continuing = bool(getattr(task, "continuing", False))
        self.loss = objective_of(s, task)
        self.rule = make_rule(s.rule, s.rule_options)
        if is_reward(self.rule):
            check_reward_run(s, self.rule)
        self.exact = None if s.align_with is None else make_rule(s.align_with, {})
        self.probe = probe_specs(s.probe)
        self.probe_labels = [rule_label(p) for p in self.probe]
        if len(set(self.probe_labels)) != len(self.probe_labels):
            raise ValueError(f"probe rules must be distinct; got {self.probe_labels}")
        self.forced_units = check_teacher_forcing(net, self.rule) if s.teacher_forcing else []
        self.eval_trials = eval_trials(task, s)
        self.window = recorded_window(task)
        self.h0 = initial_state(net, s)
        self.initial = initial if initial is not None else net.params
        self.config = {
            "training": asdict(s),
            "task": task_config(task),
            "network": net_config(net),
            "preset": dict(extra_config),
        }

    @property
    def symmetric(self) -> bool:
        """Whether the feedback is W_outᵀ, re-read after every update."""
        fb = self.settings.feedback
        return fb == "symmetric" or (fb is None and self.rule.default_feedback == "symmetric")

    @property
    def adaptive(self) -> bool:
        """Kolen–Pollack feedback: B receives W_out's updates."""
        return self.settings.feedback == "adaptive"


def eval_trials(task: Any, s: Settings) -> Trials:
    """The held-out trials: one per condition when the task can list them; a continuing
    stream's own test set (``n_eval`` long streams, warm-up masked); else ``n_eval`` trials."""
    every = getattr(task, "every_condition", None)
    if every is not None:
        return every()
    test = getattr(task, "test_trials", None)
    sample = test if test is not None else task.sample
    return sample(s.n_eval, streams(s.seed)["eval"])


def recorded_window(task: Any) -> slice:
    """The time steps of the held-out trials whose outputs and rates the Dataset keeps: a
    stream's test set is long (``test_steps``), so only its first chunk after the warm-up."""
    if hasattr(task, "test_trials"):
        return slice(task.test_warmup, task.test_warmup + task.chunk)
    return slice(None)


def initial_state(net: LeakyRNN, s: Settings) -> np.ndarray | None:
    """The initial state ``(unit,)`` of every trial, or None for zeros."""
    if s.h0 == "zeros":
        return None
    if s.h0 == "random":
        return 0.5 * streams(s.seed)["h0"].standard_normal(net.n_rec)
    return np.full(net.n_rec, float(s.h0))


def probe_specs(probe: Any) -> list[RuleSpec]:
    """``probe`` entries (names, or tables with a name and options) as alignment() specs."""
    if not isinstance(probe, (list, tuple)):
        raise ValueError(f"probe must be a list of rule names or tables; got {probe!r}")
    specs: list[RuleSpec] = []
    for p in probe:
        if isinstance(p, str):
            name, options = p, {}
        elif isinstance(p, Mapping) and isinstance(p.get("name"), str):
            name, options = p["name"], {k: v for k, v in p.items() if k != "name"}
        else:
            raise ValueError(
                "each probe entry must be a rule name such as 'rflo' or a table with a name, "
                f"such as {{name = 'tbptt', truncation = 10}}; got {p!r}"
            )
        make_rule(name, {k: v for k, v in options.items() if k != "feedback"})
        specs.append((name, options) if options else name)
    return specs


def check_reward_run(s: Settings, rule: Any) -> None:
    """A reward rule learns once per trial, from the trial's scalar reward."""
    if s.update != "trial" or s.teacher_forcing or s.td is not None:
        raise ValueError(
            f"rule {rule.name!r} learns from each trial's reward at the trial's end: use "
            "update='trial', without teacher_forcing or td"
        )
    if s.feedback not in (None, "symmetric"):
        raise ValueError(
            f"rule {rule.name!r} learns from a scalar reward and sends no error back: "
            f"leave feedback unset; got {s.feedback!r}"
        )


def check_teacher_forcing(net: LeakyRNN, rule: Any) -> list[int]:
    """The units the outputs read, checking the network is a Williams–Zipser network."""
    W = net.params["W_out"]
    rows_ok = np.all((W == 0) | (W == 1), axis=1) & (np.count_nonzero(W, axis=1) == 1)
    wrong = [
        what
        for what, bad in (
            (f"form='rate' (got {net.form!r})", net.form != "rate"),
            ("alpha=1 (tau = dt)", not isinstance(net.alpha, float) or net.alpha != 1.0),
            ("each W_out row selecting one unit with weight 1", not rows_ok.all()),
            ("b_out = 0", np.any(net.params["b_out"] != 0)),
            ("W_out and b_out frozen (plastic without them)", {"W_out", "b_out"} & net.plastic),
        )
        if bad
    ]
    if wrong:
        raise ValueError(
            "teacher_forcing needs a Williams–Zipser network, whose outputs are units: "
            + "; ".join(wrong)
            + ". LeakyRNN.random(..., tau=dt, activation='sigmoid', init='williams_zipser') "
            "builds one"
        )
    if not hasattr(rule, "clamp"):
        known = sorted(name for name, cls in RULES.items() if hasattr(cls, "clamp"))
        why = getattr(rule, "no_teacher_forcing", "it does not define it")
        raise ValueError(
            f"rule {rule.name!r} has no teacher forcing: {why}; rules with it: {known}"
        )
    return [int(np.argmax(row)) for row in W]


def net_config(net: LeakyRNN) -> dict[str, Any]:
    """The network's structure, for provenance (its weights are variables)."""
    return {
        "n_in": net.n_in,
        "n_rec": net.n_rec,
        "n_out": net.n_out,
        "activation": net.activation.name,
        "form": net.form,
        "dt": net.dt,
        "alpha": net.alpha if isinstance(net.alpha, float) else "per-unit (see variable alpha)",
        "plastic": sorted(net.plastic),
        "plastic_in_part": sorted(net.plastic_masks),  # masks: the variables plastic_<name>
        "connectivity": sorted(net.connectivity),
        "dale": net.dale is not None,
    }
