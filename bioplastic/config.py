"""Presets: TOML files parsed with tomllib into validated dataclasses, and run.

A preset has five tables::

    [network]    n_rec, tau, dt, g, activation, form, exc_fraction, init, plastic,
                 column_size (a columnar network: n_rec / column_size independent columns)
    [task]       name, then the task's own parameters (e.g. period for "periodic")
    [rule]       name, feedback, options
    [optimizer]  name ("sgd" or "adam"), lr (a number or a table per parameter), clip_norm,
                 clip_value (sgd), beta1, beta2, eps (adam)
    [training]   n_trials, batch_size, update, update_every, align_with, probe, eval_every,
                 n_eval, h0, kp_decay, teacher_forcing, checkpoint_every, loss,
                 mean_over_time, seed

An unknown key, a value of the wrong type or out of range raises a ``ValueError`` that names
``[table] key``, what was given and what is accepted.  TOML has no null: leave a key out to
get its default.  ``seed`` (in ``[training]``) also seeds the network's initialisation.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from ._validate import check_seed
from .network import PARAM_NAMES, LeakyRNN
from .optim import OPTIMIZERS
from .rules.base import make_rule
from .rules.feedback import FEEDBACKS
from .tasks import TASKS
from .training import Run, Settings, TrainingConfig, train

__all__ = ["Preset", "load_preset", "parse_override", "build", "run"]


@dataclass(frozen=True)
class NetworkConfig:
    n_rec: int = 30
    tau: float = 10.0
    dt: float = 1.0
    g: float = 1.5
    activation: str = "tanh"
    form: str = "rate"
    exc_fraction: float | None = None
    init: str = "murray"
    plastic: list[str] = field(default_factory=lambda: list(PARAM_NAMES))
    column_size: int | None = None


@dataclass(frozen=True)
class TaskConfig:
    name: str = "periodic"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleConfig:
    name: str = "bptt"
    feedback: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "sgd"
    lr: float | dict[str, float] = 0.01
    clip_norm: float | None = None
    clip_value: float | None = None  # sgd only
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8


@dataclass(frozen=True)
class Preset:
    network: NetworkConfig = field(default_factory=NetworkConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    rule: RuleConfig = field(default_factory=RuleConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: the tables a preset file must have, and what each must say at least
NEEDED = {
    "task": ("name",),
    "rule": ("name",),
    "optimizer": ("name", "lr"),
    "training": ("n_trials",),
}

SECTIONS = {
    "network": NetworkConfig,
    "task": TaskConfig,
    "rule": RuleConfig,
    "optimizer": OptimizerConfig,
    "training": TrainingConfig,
}


# ---------------------------------------------------------------------------- type checking
def _type_ok(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is Any:
        return True
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is list:
        (item,) = typing.get_args(tp)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if origin is dict:
        _, item = typing.get_args(tp)
        return isinstance(value, dict) and all(
            isinstance(k, str) and _type_ok(v, item) for k, v in value.items()
        )
    raise TypeError(f"unsupported annotation {tp!r}")  # a bug in this module, not user input


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"a table of {_type_name(typing.get_args(tp)[1])}"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return {**names, Any: "values"}.get(tp, getattr(tp, "__name__", str(tp)))


def _section(name: str, cls: type, table: Any) -> Any:
    if not isinstance(table, Mapping):
        raise ValueError(f"[{name}] must be a table; got {table!r}")
    table = dict(table)
    hints = typing.get_type_hints(cls)
    accepted = [f.name for f in dataclasses.fields(cls)]
    if cls is TaskConfig:  # the task's own parameters sit next to its name
        params = {k: v for k, v in table.items() if k != "name"}
        table = {"name": table.get("name", "periodic"), "params": params}
    if cls is RuleConfig and "options" not in table:
        extra = {k: v for k, v in table.items() if k not in accepted}
        table = {k: v for k, v in table.items() if k in accepted}
        table["options"] = extra
    unknown = sorted(set(table) - set(accepted))
    if unknown:
        raise ValueError(f"[{name}] has unknown key(s) {unknown}; accepted: {accepted}")
    for key, value in table.items():
        if not _type_ok(value, hints[key]):
            raise ValueError(
                f"[{name}] {key} must be {_type_name(hints[key])}; got {value!r} "
                f"({type(value).__name__})"
            )
    return cls(**table)


def parse(data: Mapping[str, Any]) -> Preset:
    """A validated :class:`Preset` from parsed TOML (a dict of tables)."""
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown table(s) {unknown}; accepted: {list(SECTIONS)}")
    preset = Preset(**{k: _section(k, cls, data.get(k, {})) for k, cls in SECTIONS.items()})
    if preset.optimizer.name == "sgd":
        given = data.get("optimizer", {})
        default = OptimizerConfig()
        extra = sorted(
            k for k in ("beta1", "beta2", "eps") if k in given and given[k] != getattr(default, k)
        )
        if extra:
            raise ValueError(f'[optimizer] {extra} apply to name = "adam" only, not to sgd')
    elif data.get("optimizer", {}).get("clip_value") is not None:
        raise ValueError('[optimizer] clip_value applies to name = "sgd" only, not to adam')
    check_seed(preset.training.seed, "[training] seed")
    if not (preset.network.dt > 0 and preset.network.dt < float("inf")):
        raise ValueError(f"[network] dt must be a finite number > 0; got {preset.network.dt}")
    build(preset, dry_run=True)  # range checks happen where the objects are built
    return preset


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"section.key=value"`` → (["section", "key"], value); the value is read as TOML
    (numbers, booleans, lists, quoted strings), ``none`` unsets an optional key, and anything
    else is a plain string."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ValueError(f"--set takes section.key=value, e.g. training.n_trials=200; got {text!r}")
    path, raw = text.split("=", 1)
    if raw.strip() == "none":  # TOML has no null: `none` unsets an optional key
        return path.strip().split("."), None
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return path.strip().split("."), value


def load_preset(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Preset:
    """Read a TOML preset (or the defaults when ``path`` is None) and apply ``--set`` overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no preset at {str(path)!r}")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path} is not valid TOML: {exc}") from exc
        missing = [
            f"[{t}] {k}" for t, keys in NEEDED.items() for k in keys if k not in data.get(t, {})
        ]
        if missing:
            needs = "; ".join(f"[{t}] {', '.join(keys)}" for t, keys in NEEDED.items())
            raise ValueError(
                f"{path} lacks {', '.join(missing)}: a preset must say at least {needs} "
                "(the defaults of the rest are in bioplastic.config)"
            )
    for text in overrides:
        keys, value = parse_override(text)
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ValueError(f"--set {text!r}: {k!r} is not a table")
        node[keys[-1]] = value
    return parse(data)


def build(preset: Preset, *, dry_run: bool = False):
    """The network, task and optimizer a preset describes (errors name the table and key)."""
    n, t, o = preset.network, preset.task, preset.optimizer
    if t.name not in TASKS:
        raise ValueError(f"[task] name must be one of {sorted(TASKS)}; got {t.name!r}")
    task_cls = TASKS[t.name]
    fields = [f.name for f in dataclasses.fields(task_cls) if f.init]
    unknown = sorted(set(t.params) - set(fields))
    if unknown:
        raise ValueError(f"[task] has unknown key(s) {unknown} for {t.name!r}; accepted: {fields}")
    params = dict(t.params)
    if "tau" in fields and "tau" not in params:
        params["tau"] = n.tau / n.dt  # the task's time unit is the network's τ, in steps
    try:
        task = task_cls(**params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"[task] {exc}") from exc
    if o.name not in OPTIMIZERS:
        raise ValueError(f"[optimizer] name must be one of {sorted(OPTIMIZERS)}; got {o.name!r}")
    opt_args = {"lr": o.lr, "clip_norm": o.clip_norm}
    if o.name == "adam":
        opt_args.update(beta1=o.beta1, beta2=o.beta2, eps=o.eps)
    else:
        opt_args["clip_value"] = o.clip_value
    try:
        optimizer = OPTIMIZERS[o.name](**opt_args)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"[optimizer] {exc}") from exc
    try:
        common = dict(
            tau=n.tau,
            dt=n.dt,
            g=n.g,
            activation=n.activation,
            form=n.form,
            seed=preset.training.seed,
            init=n.init,
        )
        if n.column_size is None:
            net = LeakyRNN.random(
                task.n_in, n.n_rec, task.n_out, exc_fraction=n.exc_fraction, **common
            )
        else:
            size = n.column_size
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"column_size must be an int >= 1; got {size!r}")
            if n.exc_fraction is not None or n.n_rec % n.column_size:
                raise ValueError(
                    f"a columnar network (column_size = {n.column_size}) needs n_rec a multiple "
                    f"of column_size (got n_rec = {n.n_rec}) and no exc_fraction"
                )
            net = LeakyRNN.columnar(
                task.n_in, n.n_rec // n.column_size, n.column_size, task.n_out, **common
            )
        net = LeakyRNN(
            **net.params,
            alpha=net.alpha,
            dt=n.dt,
            activation=n.activation,
            form=n.form,
            connectivity=net.connectivity,
            dale=net.dale,
            plastic=n.plastic,
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"[network] {exc}") from exc
    r = preset.rule
    try:
        rule = make_rule(r.name, r.options)
        if r.feedback is not None and r.feedback not in FEEDBACKS:
            raise ValueError(f"feedback must be one of {list(FEEDBACKS)}; got {r.feedback!r}")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"[rule] {exc}") from exc
    if dry_run:
        try:
            settings = Settings(
                rule=rule.name,
                rule_options=dict(r.options),
                feedback=r.feedback,
                **dataclasses.asdict(preset.training),
            )
            Run(net, task, settings, optimizer, {})
        except (TypeError, ValueError) as exc:
            raise ValueError(f"[training] {exc}") from exc
    return net, task, optimizer


def run(
    preset: Preset,
    *,
    out: str | Path | None = None,
    progress: bool | None = None,
    overwrite: bool = False,
) -> xr.Dataset:
    """Train what a preset describes; see :func:`bioplastic.train`."""
    net, task, optimizer = build(preset)
    r, tr = preset.rule, preset.training
    return train(
        net,
        task,
        r.name,
        rule_options=r.options,
        feedback=r.feedback,
        optimizer=optimizer,
        **dataclasses.asdict(tr),
        progress=progress,
        out=out,
        overwrite=overwrite,
        config=preset.to_dict(),
    )
