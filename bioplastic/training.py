"""Training: a rule's estimates turned into weight changes, recorded as one labelled Dataset.

Two ways to update (Williams & Zipser 1989 call the second "real-time" learning):

* ``update="trial"``: the weights are fixed during a batch of trials and change once at its end
  (Murray 2019's code);
* ``update="online"``: the trial is simulated step by step and the weights change every
  ``update_every`` steps, from the rule's online face.  BPTT then backpropagates within each
  chunk only (Marschall et al. 2020's F-BPTT with window ``update_every``).

Every run is seeded: the task, the rule's own randomness, the random feedback and the
evaluation trials each draw from an independent stream of one ``np.random.SeedSequence(seed)``,
so the same seed gives bitwise-identical results, and a run resumed from its checkpoint equals
one that was never interrupted.

Nothing is lost: a run writes its Dataset atomically to ``out`` every ``checkpoint_every``
updates and at the end; a NaN or inf stops it with status ``"diverged"``; Ctrl-C or SIGTERM
stops it after the update in progress with status ``"interrupted"`` (the signal is noted by a
handler and acted on between updates, so none is lost; a second one stops at once).
:func:`resume` continues from the file.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import json
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike
from tqdm.auto import tqdm

from ._validate import one_of
from ._version import __version__
from .alignment import PARAM_GROUPS, RuleSpec, alignment, rule_label
from .gradient import evaluate
from .network import PARAM_NAMES, LeakyRNN
from .objective import LOSSES, NonFiniteError, error_and_loss, loss_value, prepare
from .optim import OPTIMIZERS, SGD, Adam, AdamState, clip_by_global_norm
from .results import config_of, load, save
from .rules.base import Step, finalize, make_rule, theta_blocks
from .rules.feedback import feedback_matrix
from .rules.online import Sums
from .tasks import TASKS, task_config
from .tasks.base import Trials, positive

__all__ = ["train", "resume", "held_out"]

UPDATES = ("trial", "online")
EXACT = ("bptt", "rtrl")
STREAMS = ("task", "rule", "feedback", "eval", "h0")
EVAL_RECORDS = (
    "eval_at",
    "eval_loss",
    "spectral_radius",
    "weight_norm",
    "probe_cosine",
    "probe_pairwise",
    "eval_alignment",
)
CHECKPOINT_SECONDS = 30.0  # the default checkpoint interval, in wall-clock time


# --------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class TrainingConfig:
    """The ``[training]`` settings of :func:`train` (see its docstring)."""

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
    seed: int = 0

    @property
    def n_updates(self) -> int:
        return math.ceil(self.n_trials / self.batch_size)

    def seen(self, updates: int) -> int:
        """Trials seen after ``updates`` updates (the last batch may be smaller)."""
        return min(updates * self.batch_size, self.n_trials)


@dataclass(frozen=True)
class Settings(TrainingConfig):
    """Everything :func:`train` was asked to do, apart from the network and the task."""

    rule: str = "bptt"
    rule_options: dict[str, Any] = field(default_factory=dict)
    feedback: Any = None  # str or None (arrays are stored as the `feedback` variable)
    optimizer: dict[str, Any] = field(default_factory=lambda: {"name": "sgd", "lr": 0.01})


def _optimizer_config(opt: SGD | Adam) -> dict[str, Any]:
    cfg = {"name": opt.name, **{k: v for k, v in asdict(opt).items()}}
    return cfg


def _build_optimizer(cfg: Mapping[str, Any]) -> SGD | Adam:
    cfg = dict(cfg)
    name = cfg.pop("name")
    return OPTIMIZERS[name](**cfg)


# --------------------------------------------------------------------------------- the state
@dataclass
class _State:
    """A run in progress; everything here is written to the checkpoint."""

    net: LeakyRNN
    B: np.ndarray  # the current feedback matrix
    opt_state: Any
    rngs: dict[str, np.random.Generator]
    done: int = 0  # updates completed
    loss: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    readout_alignment: list = field(default_factory=list)
    alignment: list = field(default_factory=list)
    norm_ratio: list = field(default_factory=list)
    eval_at: list = field(default_factory=list)  # trials seen at each evaluation
    eval_loss: list = field(default_factory=list)
    spectral_radius: list = field(default_factory=list)
    weight_norm: list = field(default_factory=list)
    probe_cosine: list = field(default_factory=list)
    probe_pairwise: list = field(default_factory=list)
    eval_alignment: list = field(default_factory=list)
    status: str = "running"
    message: str = ""
    # continuing streams: what carries over from one chunk to the next
    stream: Any = None
    h: np.ndarray | None = None
    rule_state: Any = None
    committed: tuple | None = None  # the state after the last completed update

    def commit(self) -> None:
        """Remember the state after a completed update (one atomic assignment)."""
        rng = self.rngs["rule"]
        self.committed = (
            self.done,
            self.net,
            self.B,
            self.opt_state,
            {k: g.bit_generator.state for k, g in self.rngs.items()},
            None if self.stream is None else self.stream.state(),
            None if self.h is None else self.h.copy(),
            # the rule's generator is shared with the run: keep it out of the copy
            copy.deepcopy(self.rule_state, memo={id(rng): rng}),
            len(self.eval_loss),
        )

    def rollback(self) -> None:
        """Return to the last completed update (after an interruption or a divergence)."""
        done, self.net, self.B, self.opt_state, rng_states, stream, h, rule_state, n_eval = (
            self.committed
        )
        self.done = done
        for k, st in rng_states.items():
            self.rngs[k].bit_generator.state = st
        if stream is not None:
            self.stream.restore(stream)
        rng = self.rngs["rule"]
        self.h, self.rule_state = h, copy.deepcopy(rule_state, memo={id(rng): rng})
        for name in ("loss", "grad_norm", "readout_alignment", "alignment", "norm_ratio"):
            del getattr(self, name)[done:]
        for name in EVAL_RECORDS:
            del getattr(self, name)[n_eval:]


def _streams(seed: int) -> dict[str, np.random.Generator]:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    children = np.random.SeedSequence(int(seed)).spawn(len(STREAMS))
    return {k: np.random.default_rng(c) for k, c in zip(STREAMS, children)}


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else np.nan


def _compare(grads, exact, group) -> tuple[float, float]:
    """(cosine, norm ratio) of an estimate with the exact gradient over a parameter group."""
    a = np.concatenate([grads[k].ravel() for k in group])
    b = np.concatenate([exact[k].ravel() for k in group])
    nb = np.linalg.norm(b)
    return _cosine(a, b), (np.linalg.norm(a) / nb if nb > 0 else np.nan)


# --------------------------------------------------------------------------------- train
def train(
    net: LeakyRNN,
    task: Any,
    rule: str = "bptt",
    *,
    rule_options: Mapping[str, Any] | None = None,
    feedback: str | ArrayLike | None = None,
    optimizer: SGD | Adam | None = None,
    n_trials: int = 1000,
    batch_size: int = 1,
    update: str = "trial",
    update_every: int | None = None,
    align_with: str | None = None,
    probe: Sequence[str | Mapping[str, Any]] = (),
    eval_every: int = 100,
    n_eval: int = 4,
    h0: str | float = "zeros",
    kp_decay: float = 1e-3,
    teacher_forcing: bool = False,
    loss: str | None = None,
    mean_over_time: bool = False,
    seed: int = 0,
    progress: bool | None = None,
    out: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    config: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Train ``net`` on ``task`` with a learning rule; return the run as a Dataset.

    Parameters
    ----------
    net, task:
        The network and a task (e.g. :class:`bioplastic.tasks.PeriodicOutput`) with matching
        ``n_in`` and ``n_out``.
    rule, rule_options, feedback:
        As for :func:`bioplastic.gradient`.  ``feedback="adaptive"`` is Kolen–Pollack: the
        feedback matrix receives the transpose of every ``W_out`` update, and both decay by
        ``kp_decay`` per update (Akrout et al. 2019).
    optimizer:
        :class:`~bioplastic.optim.SGD` (default, lr 0.01) or :class:`~bioplastic.optim.Adam`;
        both clip the gradient norm when given ``clip_norm``.
    n_trials, batch_size:
        Trials in all, and trials per weight update.
    update, update_every:
        ``"trial"`` (once per batch) or ``"online"`` (every ``update_every`` steps within the
        trial; needs a rule with an online face, which all have).
    align_with:
        None, ``"bptt"`` or ``"rtrl"``: at every evaluation, record ``eval_alignment
        (evaluation, param)``, the cosine between the training rule's estimate (with the run's
        feedback ``B`` of the moment) and the exact gradient on the held-out trials: how the
        rule follows the gradient along its own run.  With ``update="trial"``, also each
        update's cosine with, and norm relative to, the exact gradient on the same trials
        (``alignment``, ``norm_ratio``).  Not with teacher forcing.
    probe:
        Rules to compare with the exact gradient at every evaluation, on the held-out trials
        and the weights of the moment, whatever rule trains: names (``"rflo"``) or tables
        with a ``name`` and options (``{"name": "tbptt", "truncation": 10}``).  Records
        ``probe_cosine (evaluation, probe, param)`` with BPTT and ``probe_pairwise
        (evaluation, probe, probe_b, param)`` between the rules (:func:`bioplastic.alignment`).
    eval_every, n_eval:
        Every ``eval_every`` updates (and at the start and end), run fixed held-out trials and
        record their loss, the spectral radius of ``W_rec`` and the weight norms.  The
        held-out trials are the task's ``every_condition()`` (one trial per condition) when it
        has one, else ``n_eval`` trials it samples.
    h0:
        ``"zeros"``; ``"random"``: one fixed initial state ``N(0, 0.5²)`` per unit, drawn from
        the seed and used for every trial; or a number: every unit starts there (Murray's
        code starts at 0.1).  A task without input needs a nonzero one.
    teacher_forcing:
        For a Williams–Zipser network (rate form, α = 1, each output reading one unit with
        weight 1): after each step, the units the outputs read are replaced by their targets,
        and their influence on the parameters is reset to 0 (Williams & Zipser 1989, sec. 4).
        Past-facing rules only.
    loss:
        ``"mse"`` or ``"softmax_xent"``; None takes the task's (``task.loss``, else ``"mse"``).
    mean_over_time:
        Divide each estimate by the trial's number of steps before the optimiser sees it: the
        gradient of the loss averaged over time, as in Murray 2019's code (whose learning
        rates then carry over unchanged across trial lengths).  The recorded losses are
        unaffected.
    seed:
        Seeds everything random in the run.
    progress:
        Show a tqdm bar; by default only on a terminal and not under CI.
    out, checkpoint_every:
        Save the Dataset atomically to ``out`` (``.nc``) every ``checkpoint_every`` updates
        (default: every 30 s of wall-clock time) and when the run ends, whatever the reason.
        Where checkpoints fall never changes the results.
    config:
        Extra provenance stored in the ``config`` attribute (a preset, for example).

    Returns
    -------
    xarray.Dataset
        See the module docstring of :mod:`bioplastic.training` and the README for the variables.
        ``attrs["status"]`` is ``"complete"``, ``"diverged"`` or ``"interrupted"``.
    """
    if not isinstance(net, LeakyRNN):
        raise TypeError(f"net must be a bioplastic.LeakyRNN; got {type(net).__name__}")
    optimizer = SGD() if optimizer is None else optimizer
    if not isinstance(optimizer, (SGD, Adam)):
        raise TypeError(
            f"optimizer must be bioplastic.optim.SGD or Adam; got {type(optimizer).__name__}"
        )
    settings = Settings(
        rule=rule,
        rule_options=dict(rule_options or {}),
        feedback=feedback if isinstance(feedback, str) or feedback is None else "array",
        optimizer=_optimizer_config(optimizer),
        n_trials=n_trials,
        batch_size=batch_size,
        update=update,
        update_every=update_every,
        align_with=align_with,
        probe=[p if isinstance(p, str) else dict(p) for p in probe],
        eval_every=eval_every,
        n_eval=n_eval,
        h0=h0,
        kp_decay=kp_decay,
        teacher_forcing=teacher_forcing,
        checkpoint_every=checkpoint_every,
        loss=loss,
        mean_over_time=mean_over_time,
        seed=seed,
    )
    run = _Run(net, task, settings, optimizer, config or {})
    rngs = _streams(seed)
    fb_name = run.rule.default_feedback if feedback is None else feedback
    B = feedback_matrix(net, fb_name, rngs["feedback"])
    state = _State(net, B, optimizer.init(net.params), rngs)
    if run.continuing:
        state.stream = task.stream(batch_size, rngs["task"])
    return run.loop(state, progress, None if out is None else Path(out))


def resume(path: str | os.PathLike, *, progress: bool | None = None) -> xr.Dataset:
    """Continue the run saved at ``path`` from its last checkpoint, writing to the same file.

    The result is bitwise identical to a run that was never interrupted.  A complete run is
    returned as it is.
    """
    ds = load(path)
    if ds.attrs.get("status") == "complete":
        return ds
    cfg = config_of(ds)
    settings = Settings(**cfg["training"])
    task = _task_from(cfg)
    optimizer = _build_optimizer(settings.optimizer)
    net = _net_from(ds)
    run = _Run(net, task, settings, optimizer, cfg.get("preset", {}), initial=_initial_from(ds))
    rngs = {k: np.random.default_rng() for k in STREAMS}
    for k, st in json.loads(ds.attrs["rng_state"]).items():
        rngs[k].bit_generator.state = st
    opt_state = optimizer.init(net.params)
    if isinstance(opt_state, AdamState):
        opt_state = AdamState(
            int(ds.attrs["adam_step"]),
            {k: ds[f"adam_m_{k}"].values.copy() for k in PARAM_NAMES},
            {k: ds[f"adam_v_{k}"].values.copy() for k in PARAM_NAMES},
        )
    state = _State(net, ds["feedback"].values.copy(), opt_state, rngs, done=ds.sizes["trial"])
    if "stream_state" in ds.attrs:
        state.stream = task.stream(settings.batch_size, np.random.default_rng(0))
        state.stream.restore(json.loads(ds.attrs["stream_state"]))
        if "stream_h" in ds:
            state.h = ds["stream_h"].values.copy()
            state.rule_state = run.rule.init(net, settings.batch_size, rngs["rule"])
            _unpack_rule_state(state.rule_state, ds, json.loads(ds.attrs["rule_state"]), net)
    state.loss = list(ds["loss"].values)
    state.grad_norm = list(ds["grad_norm"].values)
    state.readout_alignment = list(ds["readout_alignment"].values)
    if "alignment" in ds:
        state.alignment = list(ds["alignment"].values)
        state.norm_ratio = list(ds["norm_ratio"].values)
    state.eval_at = list(ds["trials_seen"].values)
    state.eval_loss = list(ds["eval_loss"].values)
    state.spectral_radius = list(ds["spectral_radius"].values)
    state.weight_norm = list(ds["weight_norm"].values)
    if "probe_cosine" in ds:
        state.probe_cosine = list(ds["probe_cosine"].values)
        state.probe_pairwise = list(ds["probe_pairwise"].values)
    if "eval_alignment" in ds:
        state.eval_alignment = list(ds["eval_alignment"].values)
    return run.loop(state, progress, Path(path), eval_initial=ds)


def held_out(ds: xr.Dataset) -> tuple[LeakyRNN, Trials, np.ndarray | None]:
    """The network a saved run ends with, its held-out trials, and its initial state ``h0``
    (``(unit,)``, or None for zeros): what the run's ``eval_loss`` is computed on."""
    cfg = config_of(ds)
    settings = Settings(**cfg["training"])
    task = _task_from(cfg)
    net = _net_from(ds)
    return net, _eval_trials(task, settings), _initial_state(net, settings)


def _task_from(cfg: Mapping[str, Any]) -> Any:
    task_cfg = dict(cfg["task"])
    return TASKS[task_cfg.pop("name")](**task_cfg)


def _eval_trials(task: Any, s: Settings) -> Trials:
    """The held-out trials: one per condition when the task can list them; a continuing
    stream's own test set (``n_eval`` long streams, warm-up masked); else ``n_eval`` trials."""
    every = getattr(task, "every_condition", None)
    if every is not None:
        return every()
    test = getattr(task, "test_trials", None)
    sample = test if test is not None else task.sample
    return sample(s.n_eval, _streams(s.seed)["eval"])


def _recorded_window(task: Any) -> slice:
    """The time steps of the held-out trials whose outputs and rates the Dataset keeps: a
    stream's test set is long (``test_steps``), so only its first chunk after the warm-up."""
    if hasattr(task, "test_trials"):
        return slice(task.test_warmup, task.test_warmup + task.chunk)
    return slice(None)


def _initial_state(net: LeakyRNN, s: Settings) -> np.ndarray | None:
    if s.h0 == "zeros":
        return None
    if s.h0 == "random":
        return 0.5 * _streams(s.seed)["h0"].standard_normal(net.n_rec)
    return np.full(net.n_rec, float(s.h0))


# --------------------------------------------------------------------------------- the run
class _Run:
    """The fixed parts of a run, and the loop."""

    def __init__(
        self,
        net: LeakyRNN,
        task: Any,
        settings: Settings,
        optimizer: SGD | Adam,
        extra_config: Mapping[str, Any],
        initial: dict[str, np.ndarray] | None = None,
    ) -> None:
        s = settings
        for k in ("n_in", "n_out"):
            if getattr(task, k) != getattr(net, k):
                raise ValueError(
                    f"the task has {k}={getattr(task, k)} but the network has "
                    f"{k}={getattr(net, k)}; build the network to match the task"
                )
        positive("n_trials", s.n_trials, integer=True)
        positive("batch_size", s.batch_size, integer=True)
        positive("eval_every", s.eval_every, integer=True)
        positive("n_eval", s.n_eval, integer=True)
        one_of("update", s.update, UPDATES)
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
        self.continuing = bool(getattr(task, "continuing", False))
        if self.continuing and s.update != "online":
            raise ValueError(
                f"the {task.name!r} task is a continuing stream: train it with update='online' "
                "(and update_every), so that the network and the rule carry their state over"
            )
        if self.continuing and s.n_trials % s.batch_size:
            raise ValueError(
                f"for a continuing stream, n_trials ({s.n_trials}) counts chunks of all "
                f"batch_size ({s.batch_size}) streams together and must be a multiple of it"
            )
        if self.continuing and s.teacher_forcing:
            raise ValueError("teacher_forcing is for trial-based tasks, not continuing streams")
        self.loss = s.loss if s.loss is not None else getattr(task, "loss", "mse")
        one_of("loss", self.loss, LOSSES)
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
                "never leaves the origin: use h0='random', an input, or plastic biases"
            )
        self.rule = make_rule(s.rule, s.rule_options)
        self.exact = None if s.align_with is None else make_rule(s.align_with, {})
        self.probe = _probe_specs(s.probe)
        self.probe_labels = [rule_label(p) for p in self.probe]
        if len(set(self.probe_labels)) != len(self.probe_labels):
            raise ValueError(f"probe rules must be distinct; got {self.probe_labels}")
        if s.teacher_forcing:
            self.forced_units = _check_teacher_forcing(net, self.rule)
        self.task, self.settings, self.optimizer = task, s, optimizer
        self.eval_trials = _eval_trials(task, s)
        self.window = _recorded_window(task)
        self.h0 = _initial_state(net, s)
        self.initial = initial if initial is not None else net.params
        self.config = {
            "training": asdict(s),
            "task": task_config(task),
            "network": _net_config(net),
            "preset": dict(extra_config),
        }

    # ---- one update
    def step(self, state: _State) -> float:
        s = self.settings
        if self.continuing:
            trials = state.stream.next()
        else:
            trials = self.task.sample(
                s.seen(state.done + 1) - s.seen(state.done), state.rngs["task"]
            )
        if s.update == "trial" and not s.teacher_forcing:
            batch = prepare(state.net, trials.x, trials.target, trials.mask, self.h0, self.loss)
            if self.symmetric:
                state.B = np.ascontiguousarray(state.net.params["W_out"].T)
            value, grads = evaluate(state.net, batch, self.rule, state.B, state.rngs["rule"])
            if self.exact is not None:
                W_outT = np.ascontiguousarray(state.net.params["W_out"].T)
                _, exact = evaluate(state.net, batch, self.exact, W_outT, state.rngs["rule"])
                state.alignment.append([])
                state.norm_ratio.append([])
                for group in PARAM_GROUPS.values():
                    cos, ratio = _compare(grads, exact, group)
                    state.alignment[-1].append(cos)
                    state.norm_ratio[-1].append(ratio)
            state.grad_norm.append(self._apply(state, grads, trials.n_steps))
            return value
        return self._online_trial(state, trials)

    @property
    def symmetric(self) -> bool:
        """Whether the feedback is W_outᵀ, re-read after every update."""
        fb = self.settings.feedback
        return fb == "symmetric" or (fb is None and self.rule.default_feedback == "symmetric")

    def _apply(self, state: _State, grads: dict[str, np.ndarray], n_steps: int) -> float:
        """Apply one update; return the norm of the estimate it came from."""
        net = state.net
        scale = 1.0 / n_steps if self.settings.mean_over_time else 1.0
        plastic = {k: grads[k] * scale for k in PARAM_NAMES if k in net.plastic}
        _, norm = clip_by_global_norm(plastic, None)
        updates, opt_state = self.optimizer.update(plastic, state.opt_state)
        params = net.params
        decay = self.settings.kp_decay if self._adaptive else 0.0
        new = {}
        for k, u in updates.items():
            p = params[k] * (1.0 - decay) if (k == "W_out" and decay) else params[k]
            new[k] = np.asarray(p + u, dtype=net.dtype)
        for k, v in new.items():
            if not np.isfinite(v).all():
                raise NonFiniteError(f"the update of {k} is not finite")
        B = state.B
        if self._adaptive and "W_out" in updates:  # Kolen–Pollack: B follows W_out
            B = (1.0 - decay) * B + updates["W_out"].T
        new_net = net._evolve(net._project(new))
        if self.symmetric:
            B = np.ascontiguousarray(new_net.params["W_out"].T)
        state.net, state.B, state.opt_state = new_net, B, opt_state
        return norm

    @property
    def _adaptive(self) -> bool:
        return self.settings.feedback == "adaptive"

    def _online_trial(self, state: _State, trials: Trials) -> float:
        """One batch stepped in time, updating every ``update_every`` steps."""
        s = self.settings
        net = state.net
        x, target = trials.x, trials.target
        mask = trials.mask
        nB, T, _ = x.shape
        k = s.update_every or T
        if self.continuing and state.h is not None:  # the stream goes on
            h, rule_state = state.h, state.rule_state
        else:
            h = (
                np.zeros((nB, net.n_rec), dtype=net.dtype)
                if self.h0 is None
                else np.tile(self.h0, (nB, 1)).astype(net.dtype)
            )
            rule_state = self.rule.init(net, nB, state.rngs["rule"])
        blocks = [name for name, _ in theta_blocks(net)]
        total = 0.0
        sym = self.symmetric
        summed: dict[str, np.ndarray] = {}
        for t in range(T):
            p = net.params
            out = net.step(h, x[:, t])
            y = out.rate @ p["W_out"].T + p["b_out"]
            m_t = None if mask is None else mask[:, t]
            e, value = error_and_loss(y, target[:, t], m_t, nB, self.loss)
            total += value
            B = np.ascontiguousarray(p["W_out"].T) if sym else state.B
            q = e @ B.T
            if out.slope is not None:
                q *= out.slope
            parts = {"W_rec": out.rate_prev, "W_in": x[:, t], "b": np.ones((nB, 1))}
            pre = (
                np.concatenate([parts[b] for b in blocks], axis=1) if blocks else np.empty((nB, 0))
            )
            rule_state = self.rule.step(
                rule_state, net, Step(pre, out.gain, out.slope_prev, q, e, out.rate)
            )
            h = out.state
            if s.teacher_forcing:  # the read-out units take their targets (where not masked)
                h = h.copy()
                forced = np.zeros(h.shape, dtype=bool)
                for o, unit in enumerate(self.forced_units):
                    active = np.ones(nB, bool) if mask is None else mask[:, t, o] > 0
                    forced[:, unit] = active
                    h[active, unit] = target[active, t, o]
                self.rule.clamp(rule_state, forced)
            if (t + 1) % k == 0 or t == T - 1:
                grads = finalize(net, self.rule.read(rule_state, net))
                _reset_sums(rule_state, net)
                for name, g in grads.items():
                    summed[name] = summed[name] + g if name in summed else g
                self._apply(state, grads, T)
                net = state.net
        if not np.isfinite(total):
            raise NonFiniteError(f"the loss is {total}")
        if self.continuing:
            state.h, state.rule_state = h, rule_state
        plastic = {name: g for name, g in summed.items() if name in net.plastic}
        state.grad_norm.append(clip_by_global_norm(plastic, None)[1])
        return total

    # ---- evaluation
    def evaluate(self, state: _State, record: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Run the held-out trials; with ``record``, append their loss and the weight
        statistics to the history.  Returns the outputs and rates ``(example, time, ·)``."""
        net = state.net
        ev = self.eval_trials
        batch = prepare(net, ev.x, ev.target, ev.mask, self.h0, self.loss)
        trace = net.forward(batch.x, batch.h0)
        if record:
            p = net.params
            if self.probe:  # on a stream, on the recorded window (and its warm-up) only
                upto = slice(None, self.window.stop)
                a = alignment(
                    net,
                    ev.x[:, upto],
                    ev.target[:, upto],
                    self.probe,
                    reference="bptt",
                    mask=None if ev.mask is None else ev.mask[:, upto],
                    seed=self.settings.seed + len(state.eval_loss),
                    h0=self.h0,
                    pairwise=True,
                    loss=self.loss,
                )
                state.probe_cosine.append(a["cosine"].values)
                state.probe_pairwise.append(a["pairwise_cosine"].values)
            if self.exact is not None:
                state.eval_alignment.append(self._own_alignment(state))
            state.eval_at.append(self.settings.seen(state.done))
            state.eval_loss.append(loss_value(trace, batch))
            state.spectral_radius.append(float(np.max(np.abs(np.linalg.eigvals(p["W_rec"])))))
            state.weight_norm.append([float(np.linalg.norm(p[k])) for k in PARAM_NAMES])
        w = self.window
        return (
            trace.outputs[w].transpose(1, 0, 2).copy(),
            trace.rates[1:][w].transpose(1, 0, 2).copy(),
        )

    def _own_alignment(self, state: _State) -> list[float]:
        """The training rule's estimate, with the run's feedback of the moment, against the
        exact gradient on the held-out trials (a stream's: its recorded window and warm-up).
        Stochastic rules draw from a generator of their own, not the run's."""
        net, ev, upto = state.net, self.eval_trials, slice(None, self.window.stop)
        mask = None if ev.mask is None else ev.mask[:, upto]
        batch = prepare(net, ev.x[:, upto], ev.target[:, upto], mask, self.h0, self.loss)
        rng = np.random.default_rng(self.settings.seed + len(state.eval_loss))
        B = np.ascontiguousarray(net.params["W_out"].T) if self.symmetric else state.B
        _, grads = evaluate(net, batch, self.rule, B, rng)
        W_outT = np.ascontiguousarray(net.params["W_out"].T)
        _, exact = evaluate(net, batch, self.exact, W_outT, rng)
        return [_compare(grads, exact, group)[0] for group in PARAM_GROUPS.values()]

    # ---- the loop
    def loop(
        self,
        state: _State,
        progress: bool | None,
        out: Path | None,
        eval_initial: xr.Dataset | None = None,
    ) -> xr.Dataset:
        s = self.settings
        if out is not None and out.suffix != ".nc":
            raise ValueError(f"out must end in .nc; got {str(out)!r}")
        if eval_initial is None:
            initial_eval = self.evaluate(state)
        else:
            initial_eval = (
                eval_initial["eval_output"].sel(stage="initial").values,
                eval_initial["eval_rates"].sel(stage="initial").values,
            )
        every = s.checkpoint_every
        last_save = time.monotonic()
        show = (
            progress if progress is not None else (sys.stderr.isatty() and not os.environ.get("CI"))
        )
        bar = tqdm(
            total=s.n_trials,
            initial=s.seen(state.done),
            disable=not show,
            unit="trial",
            desc=f"{s.rule}",
        )
        final_eval = None
        state.commit()
        # overflow is checked explicitly (NonFiniteError), so numpy need not warn about it
        with bar, _stop_on_signal() as stop, np.errstate(over="ignore", invalid="ignore"):
            try:
                while state.done < s.n_updates:
                    stop.check()
                    loss = self.step(state)
                    if not np.isfinite(loss):
                        raise NonFiniteError(f"the loss is {loss}")
                    state.loss.append(loss)
                    state.readout_alignment.append(
                        _cosine(state.net.params["W_out"].T.ravel(), state.B.ravel())
                    )
                    state.done += 1
                    if state.done % s.eval_every == 0 and state.done < s.n_updates:
                        self.evaluate(state)
                    state.commit()  # the update and its evaluation, together
                    bar.update(s.seen(state.done) - s.seen(state.done - 1))
                    if state.done % 10 == 0:
                        bar.set_postfix(loss=f"{loss:.3g}", refresh=False)
                    due = (
                        state.done % every == 0
                        if every is not None
                        else time.monotonic() - last_save >= CHECKPOINT_SECONDS
                    )
                    if out is not None and due and state.done < s.n_updates:
                        save(self.dataset(state, initial_eval, None), out)
                        last_save = time.monotonic()
                state.status = "complete"
            except NonFiniteError as exc:
                state.rollback()
                trial = s.seen(state.done) + 1
                state.status = "diverged"
                state.message = (
                    f"training diverged at trial {trial} (update {state.done + 1}): {exc}. "
                    f"Try a smaller learning rate (now {self.settings.optimizer.get('lr')}) or "
                    "gradient clipping (clip_norm)."
                )
            except KeyboardInterrupt:
                state.rollback()
                state.status = "interrupted"
                state.message = (
                    f"interrupted after {s.seen(state.done)} trials; "
                    "continue with bioplastic.resume(path) or `bioplastic train --resume`"
                )
            # the final evaluation joins the history only when the run is complete, so that a
            # resumed run's history equals an uninterrupted one's
            try:
                final_eval = self.evaluate(state, record=state.status == "complete")
            except NonFiniteError:  # the last finite weights already overflow held-out trials
                shape = self.eval_trials.target[:, self.window].shape
                nan = np.full(shape, np.nan)
                final_eval = (nan, np.full(shape[:2] + (state.net.n_rec,), np.nan))
                if state.status == "complete":
                    state.status = "diverged"
                    state.message = "the held-out trials overflow with the final weights"
            ds = self.dataset(state, initial_eval, final_eval)
            if out is not None:
                save(ds, out)
        if state.status == "diverged":  # after saving: even warnings-as-errors lose nothing
            warnings.warn(state.message, RuntimeWarning, stacklevel=3)
        return ds

    # ---- the Dataset
    def dataset(self, state: _State, initial_eval, final_eval) -> xr.Dataset:
        s, net = self.settings, state.net
        n = state.done
        p = net.params
        trials_seen = np.array([s.seen(i) for i in range(1, n + 1)], dtype=np.int64)
        groups = list(PARAM_GROUPS)
        ev, w = self.eval_trials, self.window
        n_eval_records = len(state.eval_loss)
        stages = ["initial", "final"] if final_eval is not None else ["initial"]
        outputs = [initial_eval[0]] + ([final_eval[0]] if final_eval is not None else [])
        rates = [initial_eval[1]] + ([final_eval[1]] if final_eval is not None else [])
        data: dict[str, Any] = {
            "loss": (
                ("trial",),
                np.asarray(state.loss[:n], float),
                {"long_name": "training loss of each update's batch", "units": "1"},
            ),
            "grad_norm": (
                ("trial",),
                np.asarray(state.grad_norm[:n], float),
                {"long_name": "norm of the rule's estimate (plastic parameters)", "units": "1"},
            ),
            "readout_alignment": (
                ("trial",),
                np.asarray(state.readout_alignment[:n], float),
                {
                    "long_name": "cosine between vec(W_outᵀ) and vec(B) (Murray 2019 Fig. 2c)",
                    "units": "1",
                },
            ),
            "eval_loss": (
                ("evaluation",),
                np.asarray(state.eval_loss[:n_eval_records], float),
                {"long_name": "loss on the held-out evaluation trials", "units": "1"},
            ),
            "spectral_radius": (
                ("evaluation",),
                np.asarray(state.spectral_radius[:n_eval_records], float),
                {"long_name": "spectral radius of W_rec", "units": "1"},
            ),
            "weight_norm": (
                ("evaluation", "weight"),
                np.asarray(state.weight_norm[:n_eval_records], float).reshape(-1, len(PARAM_NAMES)),
                {"long_name": "Frobenius norm of each parameter", "units": "1"},
            ),
            "eval_output": (
                ("stage", "example", "time", "output"),
                np.stack(outputs),
                {"long_name": "network output on the evaluation trials"},
            ),
            "eval_rates": (
                ("stage", "example", "time", "unit"),
                np.stack(rates),
                {"long_name": "presynaptic rates on the evaluation trials"},
            ),
            "eval_target": (
                ("example", "time", "output"),
                ev.target[:, w],
                {"long_name": "target output on the evaluation trials"},
            ),
            "eval_input": (
                ("example", "time", "input"),
                ev.x[:, w],
                {"long_name": "evaluation input"},
            ),
            "feedback": (("unit", "output"), state.B, {"long_name": "feedback matrix B"}),
            "alpha": (
                ("unit",),
                np.broadcast_to(np.asarray(net.alpha, float), (net.n_rec,)).copy(),
                {"long_name": "dt / tau"},
            ),
        }
        if self.probe:
            n_p, n_g = len(self.probe), len(groups)
            data["probe_cosine"] = (
                ("evaluation", "probe", "param"),
                np.asarray(state.probe_cosine[:n_eval_records], float).reshape(-1, n_p, n_g),
                {"long_name": "cosine of each probed rule with the BPTT gradient", "units": "1"},
            )
            data["probe_pairwise"] = (
                ("evaluation", "probe", "probe_b", "param"),
                np.asarray(state.probe_pairwise[:n_eval_records], float).reshape(-1, n_p, n_p, n_g),
                {"long_name": "cosine between two probed rules' estimates", "units": "1"},
            )
        if self.exact is not None:
            data["eval_alignment"] = (
                ("evaluation", "param"),
                np.asarray(state.eval_alignment[:n_eval_records], float).reshape(-1, len(groups)),
                {
                    "long_name": f"cosine of the rule's estimate with the {s.align_with} "
                    "gradient on the held-out trials",
                    "units": "1",
                },
            )
        if self.exact is not None and s.update == "trial" and not s.teacher_forcing:
            data["alignment"] = (
                ("trial", "param"),
                np.asarray(state.alignment[:n], float).reshape(n, len(groups)),
                {"long_name": f"cosine with the {s.align_with} gradient", "units": "1"},
            )
            data["norm_ratio"] = (
                ("trial", "param"),
                np.asarray(state.norm_ratio[:n], float).reshape(n, len(groups)),
                {"long_name": f"norm / norm of the {s.align_with} gradient", "units": "1"},
            )
        dims = {
            "W_in": ("unit", "input"),
            "W_rec": ("unit", "presynaptic"),
            "b": ("unit",),
            "W_out": ("output", "unit"),
            "b_out": ("output",),
        }
        for k, d in dims.items():
            data[k] = (d, p[k].copy(), {"long_name": f"{k} at the end of the recorded trials"})
            data[f"{k}_initial"] = (
                d,
                np.asarray(self.initial[k]).copy(),
                {"long_name": f"{k} before training"},
            )
        for k, m in net.connectivity.items():
            data[f"connectivity_{k}"] = (
                dims[k],
                m.astype(np.int8),
                {"long_name": f"{k} connectivity mask"},
            )
        if net.dale is not None:
            data["dale"] = (
                ("unit",),
                net.dale.astype(float),
                {"long_name": "Dale sign of each unit"},
            )
        if isinstance(state.opt_state, AdamState):
            for k in PARAM_NAMES:
                if k in state.opt_state.m:
                    data[f"adam_m_{k}"] = (dims[k], state.opt_state.m[k])
                    data[f"adam_v_{k}"] = (dims[k], state.opt_state.v[k])
        coords = {
            "trial": ("trial", trials_seen, {"long_name": "trials seen after each update"}),
            "trials_seen": (
                "evaluation",
                np.asarray(state.eval_at[:n_eval_records], np.int64),
                {"long_name": "trials seen at each evaluation"},
            ),
            "param": groups,
            "weight": list(PARAM_NAMES),
            **({"probe": self.probe_labels, "probe_b": self.probe_labels} if self.probe else {}),
            "stage": stages,
            "time": ("time", ev.dt * np.arange(1, ev.n_steps + 1)[w], {"units": "dt"}),
        }
        attrs = {
            "bioplastic_version": __version__,
            "numpy_version": np.__version__,
            "config": json.dumps(self.config, default=_json_default),
            "seed": int(s.seed),
            "rule": s.rule,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "status": state.status,
            "message": state.message,
            "rng_state": json.dumps({k: g.bit_generator.state for k, g in state.rngs.items()}),
            "activation": net.activation.name,
            "form": net.form,
            "dt": net.dt,
            "plastic": json.dumps(sorted(net.plastic)),
            "dtype": np.dtype(net.dtype).name,
        }
        if isinstance(state.opt_state, AdamState):
            attrs["adam_step"] = int(state.opt_state.step)
        if state.stream is not None:  # a continuing stream: what carries over to the next chunk
            attrs["stream_state"] = json.dumps(state.stream.state())
            if state.h is not None:
                data["stream_h"] = (
                    ("stream", "unit"),
                    state.h.copy(),
                    {"long_name": "network state"},
                )
                arrays, kinds = _pack_rule_state(state.rule_state)
                attrs["rule_state"] = json.dumps(kinds)
                for name, arr in arrays.items():
                    data[name] = (tuple(f"{name}_d{i}" for i in range(arr.ndim)), arr)
        return xr.Dataset(data, coords=coords, attrs=attrs)


# --------------------------------------------------------------------------------- helpers
def _pack_rule_state(rule_state: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A rule's online state as arrays ``rule_state__<field>`` plus a description of each
    field, for checkpoints of continuing streams.  The rule's generator is the run's, saved
    with the others; the running sums are zero between chunks and are not stored."""
    arrays: dict[str, np.ndarray] = {}
    kinds: dict[str, Any] = {}
    for f in dataclasses.fields(rule_state):
        v = getattr(rule_state, f.name)
        key = f"rule_state__{f.name}"
        if isinstance(v, np.ndarray):
            arrays[key] = v.copy()
            kinds[f.name] = "array"
        elif isinstance(v, (list, deque)):
            kinds[f.name] = {"steps": len(v), "deque": isinstance(v, deque)}
            for sf in dataclasses.fields(Step):
                items = [getattr(st, sf.name) for st in v]
                if items and items[0] is not None:
                    arrays[f"{key}__{sf.name}"] = np.stack(items)
        else:  # Sums (zero between chunks) and the shared generator
            kinds[f.name] = "skip"
    return arrays, kinds


def _unpack_rule_state(
    rule_state: Any, ds: xr.Dataset, kinds: dict[str, Any], net: LeakyRNN
) -> None:
    """Fill a freshly initialised rule state from :func:`_pack_rule_state`'s arrays."""
    for name, kind in kinds.items():
        key = f"rule_state__{name}"
        if kind == "array":
            setattr(rule_state, name, ds[key].values.copy())
        elif isinstance(kind, dict):
            steps = []
            for i in range(kind["steps"]):
                fields = {
                    sf.name: (
                        ds[f"{key}__{sf.name}"].values[i].copy()
                        if f"{key}__{sf.name}" in ds
                        else None
                    )
                    for sf in dataclasses.fields(Step)
                }
                steps.append(Step(**fields))
            container = getattr(rule_state, name)
            container.clear()
            container.extend(steps)


def _reset_sums(rule_state: Any, net: LeakyRNN) -> None:
    """Start a new sum after an online update (and a new BPTT chunk)."""
    if hasattr(rule_state, "steps"):
        rule_state.steps.clear()
    rule_state.sums = Sums.zeros(net)


def _probe_specs(probe: Any) -> list[RuleSpec]:
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


def _check_teacher_forcing(net: LeakyRNN, rule: Any) -> list[int]:
    """The units the outputs read, checking the network is a Williams–Zipser network."""
    W = net.params["W_out"]
    rows_ok = np.all((W == 0) | (W == 1), axis=1) & (np.count_nonzero(W, axis=1) == 1)
    if (
        net.form != "rate"
        or not isinstance(net.alpha, float)
        or net.alpha != 1.0
        or not rows_ok.all()
        or np.any(net.params["b_out"] != 0)
        or {"W_out", "b_out"} & net.plastic
    ):
        raise ValueError(
            "teacher_forcing needs a Williams–Zipser network: form='rate', alpha=1, each W_out row "
            "selecting one unit with weight 1, b_out = 0, and W_out, b_out frozen (plastic without "
            "them)"
        )
    if not hasattr(rule, "clamp"):
        raise ValueError(
            f"rule {rule.name!r} has no teacher forcing; use a past-facing rule "
            "('rtrl', 'rflo', 'eprop', 'snap1', 'uoro', 'kf_rtrl', 'rkf_rtrl')"
        )
    return [int(np.argmax(row)) for row in W]


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot store {type(o).__name__} in the config")


def _net_config(net: LeakyRNN) -> dict[str, Any]:
    return {
        "n_in": net.n_in,
        "n_rec": net.n_rec,
        "n_out": net.n_out,
        "activation": net.activation.name,
        "form": net.form,
        "dt": net.dt,
        "alpha": net.alpha if isinstance(net.alpha, float) else "per-unit (see variable alpha)",
        "plastic": sorted(net.plastic),
        "connectivity": sorted(net.connectivity),
        "dale": net.dale is not None,
    }


def _net_from(ds: xr.Dataset) -> LeakyRNN:
    """Rebuild the network a results Dataset ends with."""
    alpha = ds["alpha"].values
    cfg = config_of(ds)["network"]
    conn = {
        k[len("connectivity_") :]: ds[k].values
        for k in ds.data_vars
        if k.startswith("connectivity_")
    }
    return LeakyRNN(
        ds["W_in"].values,
        ds["W_rec"].values,
        ds["W_out"].values,
        ds["b"].values,
        ds["b_out"].values,
        alpha=float(alpha[0]) if isinstance(cfg["alpha"], float) else alpha,
        dt=float(ds.attrs["dt"]),
        activation=ds.attrs["activation"],
        form=ds.attrs["form"],
        connectivity=conn or None,
        dale=ds["dale"].values if "dale" in ds else None,
        dtype=ds.attrs.get("dtype", "float64"),
        plastic=json.loads(ds.attrs["plastic"]),
    )


def _initial_from(ds: xr.Dataset) -> dict[str, np.ndarray]:
    return {k: ds[f"{k}_initial"].values for k in PARAM_NAMES}


class _StopRequest:
    """Ctrl-C or SIGTERM, noted by a handler and acted on by the loop between updates.

    The handler only sets a flag, so a signal that lands anywhere (inside numpy, a save, or a
    garbage-collection callback, where a raised KeyboardInterrupt would be swallowed) is never
    lost, and the loop stops on a committed update.  A second signal raises at once.  A signal
    that arrives after the last update (during the final evaluation or save) is delivered again
    once the run is saved, so that a sweep or script around it still stops.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.acted = False

    def __call__(self, signum, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt(f"signal {signum} (second)")
        self.signum = signum

    def check(self) -> None:
        if self.signum is not None:
            self.acted = True
            raise KeyboardInterrupt(f"signal {self.signum}")


@contextmanager
def _stop_on_signal():
    """Within the block, SIGINT and SIGTERM request a stop (main thread only)."""
    stop = _StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if stop.signum is not None and not stop.acted:
        signal.raise_signal(stop.signum)  # the run is saved; now let the signal act
