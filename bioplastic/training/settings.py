"""What a run is asked to do: its settings, declared once, and the one place they are checked.

:class:`TrainingConfig` is the ``[training]`` table of a preset and the keyword arguments of
:func:`bioplastic.train`; :class:`Settings` adds the rule and the optimizer.  :func:`validate`
checks settings against a network and a task, with errors that name the fix; ``train``,
``resume`` and ``config.build`` all call it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._validate import check_seed, one_of
from ..network import LeakyRNN
from ..objectives import get_objective
from ..optim import OPTIMIZERS, SGD, Adam
from ..tasks.base import positive

__all__ = ["TrainingConfig", "Settings", "validate", "streams", "STREAMS", "UPDATES", "EXACT"]

UPDATES = ("trial", "online")
EXACT = ("bptt", "rtrl")
#: the independent random streams of a run, each spawned from ``SeedSequence(seed)``
STREAMS = ("task", "rule", "feedback", "eval", "h0")


@dataclass(frozen=True)
class TrainingConfig:
    """The ``[training]`` settings of :func:`bioplastic.train` (see its docstring)."""

    n_trials: int = 1000
    batch_size: int = 1
    update: str = "trial"
    update_every: int | None = None
    align_with: str | None = None
    probe: list[str | dict[str, Any]] = field(default_factory=list)
    eval_every: int = 100
    n_eval: int = 4
    h0: str | float = "zeros"
    kp_decay: float = 1e-3
    teacher_forcing: bool = False
    checkpoint_every: int | None = None
    loss: str | None = None
    mean_over_time: bool = False
    td: dict[str, float] | None = None
    seed: int = 0

    @property
    def n_updates(self) -> int:
        return math.ceil(self.n_trials / self.batch_size)

    def seen(self, updates: int) -> int:
        """Trials seen after ``updates`` updates (the last batch may be smaller)."""
        return min(updates * self.batch_size, self.n_trials)


@dataclass(frozen=True)
class Settings(TrainingConfig):
    """Everything :func:`bioplastic.train` was asked to do, apart from the network and task."""

    rule: str = "bptt"
    rule_options: dict[str, Any] = field(default_factory=dict)
    feedback: Any = None  # str or None (arrays are stored as the `feedback` variable)
    optimizer: dict[str, Any] = field(default_factory=lambda: {"name": "sgd", "lr": 0.01})


def streams(seed: int) -> dict[str, np.random.Generator]:
    """The run's independent generators (:data:`STREAMS`), spawned from one seed."""
    check_seed(seed)
    children = np.random.SeedSequence(int(seed)).spawn(len(STREAMS))
    return {k: np.random.default_rng(c) for k, c in zip(STREAMS, children)}


def optimizer_config(opt: SGD | Adam) -> dict[str, Any]:
    """An optimizer as the JSON-able table :func:`build_optimizer` reads back."""
    return {"name": opt.name, **asdict(opt)}


def build_optimizer(cfg: Mapping[str, Any]) -> SGD | Adam:
    cfg = dict(cfg)
    return OPTIMIZERS[cfg.pop("name")](**cfg)


def validate(settings: Settings, net: LeakyRNN, task: Any) -> None:
    """Raise a ``ValueError`` naming the fix if ``settings`` cannot train ``net`` on ``task``."""
    s = settings
    for k in ("n_in", "n_out"):
        if getattr(task, k) != getattr(net, k):
            raise ValueError(
                f"the task has {k}={getattr(task, k)} but the network has "
                f"{k}={getattr(net, k)}; build the network to match the task"
            )
    for k in ("n_trials", "batch_size", "eval_every", "n_eval"):
        positive(k, getattr(s, k), integer=True)
    one_of("update", s.update, UPDATES)
    check_seed(s.seed)
    number = isinstance(s.h0, (int, float)) and not isinstance(s.h0, bool)
    if not (s.h0 in ("zeros", "random") or (number and math.isfinite(s.h0))):
        raise ValueError(f"h0 must be 'zeros', 'random' or a finite number; got {s.h0!r}")
    if s.update_every is not None:
        positive("update_every", s.update_every, integer=True)
        if s.update != "online":
            raise ValueError("update_every applies to update='online' only")
    if s.checkpoint_every is not None:
        positive("checkpoint_every", s.checkpoint_every, integer=True)
    if not isinstance(s.kp_decay, (int, float)) or not 0 <= s.kp_decay < 1:
        raise ValueError(f"kp_decay must lie in [0, 1); got {s.kp_decay!r}")
    if s.align_with is not None:
        one_of("align_with", s.align_with, EXACT)
        if s.teacher_forcing:
            raise ValueError(
                "align_with does not combine with teacher forcing: the alignment compares a "
                "rule's estimate with the exact gradient of the free-running network"
            )
    if getattr(task, "continuing", False):
        if s.update != "online":
            raise ValueError(
                f"the {task.name!r} task is a continuing stream: train it with update='online' "
                "(and update_every), so that the network and the rule carry their state over"
            )
        if s.n_trials % s.batch_size:
            raise ValueError(
                f"for a continuing stream, n_trials ({s.n_trials}) counts chunks of all "
                f"batch_size ({s.batch_size}) streams together and must be a multiple of it"
            )
    if s.td is not None:
        _check_td_run(s, net, task)
    get_objective(objective_of(s, task))
    stuck = (
        task.n_in == 0
        and s.h0 in ("zeros", 0)
        and not np.any(net.params["b"])
        and "b" not in net.plastic
        and float(net.activation(np.zeros(1))[0]) == 0.0
    )
    if stuck:
        raise ValueError(
            "with no input, zero frozen biases, f(0) = 0 and a zero initial state the network "
            "never leaves the origin: use h0='random' or a number, an input, or plastic biases"
        )


def objective_of(settings: Settings, task: Any) -> str:
    """The objective's name: the settings', else the task's (``task.loss``), else ``"mse"``."""
    return settings.loss if settings.loss is not None else getattr(task, "loss", "mse")


def _check_td_run(s: Settings, net: LeakyRNN, task: Any) -> None:
    """TD(λ) (:mod:`bioplastic.training.td`) learns one stream's prediction, every step."""
    from .td import check_td

    gamma, _ = check_td(s.td)
    if getattr(task, "cumulant_index", None) is None:
        raise ValueError(
            f"td needs a task with a cumulant to predict (task.cumulant_index, e.g. "
            f"trace_patterning's US); the {task.name!r} task has none"
        )
    wrong = {
        "update": (s.update, "online"),
        "update_every": (s.update_every, 1),
        "batch_size": (s.batch_size, 1),
        "network outputs": (net.n_out, 1),
    }
    for what, (got, want) in wrong.items():
        if got != want:
            raise ValueError(f"td learns one prediction online: {what} must be {want}; got {got}")
    if s.teacher_forcing or s.align_with is not None or s.mean_over_time:
        raise ValueError("td does not combine with teacher_forcing, align_with or mean_over_time")
    if getattr(task, "gamma", gamma) != gamma:
        raise ValueError(
            f"td.gamma ({gamma}) differs from the task's gamma ({task.gamma}), whose return the "
            "recorded losses score: set them equal"
        )
