"""A saved run read back: its network, its held-out trials, and everything needed to continue
it (the generators, the optimizer's and the rule's state, the stream) bitwise identically."""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from ..network import PARAM_NAMES, LeakyRNN
from ..optim import AdamState
from ..results import config_of
from ..rules.base import Step
from ..rules.reward import Baseline
from ..tasks import TASKS
from ..tasks.base import Trials
from .records import History
from .run import Run, eval_trials, initial_state
from .settings import STREAMS, Settings, build_optimizer
from .state import RunState

__all__ = ["held_out", "restore", "pack_rule_state", "unpack_rule_state", "net_from"]


def held_out(ds: xr.Dataset) -> tuple[LeakyRNN, Trials, np.ndarray | None]:
    """The network a saved run ends with, its held-out trials, and its initial state ``h0``
    (``(unit,)``, or None for zeros): what the run's ``eval_loss`` is computed on."""
    cfg = config_of(ds)
    settings = Settings(**cfg["training"])
    net = net_from(ds)
    return net, eval_trials(task_from(cfg), settings), initial_state(net, settings)


def restore(ds: xr.Dataset) -> tuple[Run, RunState]:
    """The :class:`~.run.Run` and :class:`~.state.RunState` a checkpoint holds."""
    cfg = config_of(ds)
    settings = Settings(**cfg["training"])
    task = task_from(cfg)
    optimizer = build_optimizer(settings.optimizer)
    net = net_from(ds)
    initial = {k: ds[f"{k}_initial"].values for k in PARAM_NAMES}
    run = Run(net, task, settings, optimizer, cfg.get("preset", {}), initial=initial)
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
    state = RunState(net, ds["feedback"].values.copy(), opt_state, rngs, done=ds.sizes["trial"])
    state.history = History.from_dataset(ds)
    if "reward_baseline" in ds.attrs:
        state.baseline = Baseline.from_dict(json.loads(ds.attrs["reward_baseline"]))
    if "stream_state" in ds.attrs:
        state.stream = task.stream(settings.batch_size, np.random.default_rng(0))
        state.stream.restore(json.loads(ds.attrs["stream_state"]))
        if "stream_h" in ds:
            state.h = ds["stream_h"].values.copy()
            state.rule_state = run.rule.init(net, settings.batch_size, rngs["rule"])
            unpack_rule_state(state.rule_state, ds, json.loads(ds.attrs["rule_state"]))
        if "td_prev" in ds.attrs:
            z = {k: ds[f"td_z_{k}"].values.copy() for k in PARAM_NAMES}
            state.td = {"z": z, "prev": json.loads(ds.attrs["td_prev"])}
    return run, state


def task_from(cfg: Mapping[str, Any]) -> Any:
    task_cfg = dict(cfg["task"])
    return TASKS[task_cfg.pop("name")](**task_cfg)


def net_from(ds: xr.Dataset) -> LeakyRNN:
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
        plastic={
            k: (ds[f"plastic_{k}"].values.astype(bool) if f"plastic_{k}" in ds else True)
            for k in json.loads(ds.attrs["plastic"])
        },
    )


def pack_rule_state(rule_state: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
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
        elif isinstance(v, (list, deque)) and not all(isinstance(m, Step) for m in v):
            # teacher forcing's cuts: per step a boolean (trial, unit) mask, or None
            kinds[f.name] = {"masks": len(v)}
            shape = next((m.shape for m in v if m is not None), None)
            if shape is not None:
                empty = np.zeros(shape, bool)
                arrays[key] = np.stack([empty if m is None else m for m in v])
        elif isinstance(v, (list, deque)):
            kinds[f.name] = {"steps": len(v), "deque": isinstance(v, deque)}
            for sf in dataclasses.fields(Step):
                items = [getattr(st, sf.name) for st in v]
                if items and items[0] is not None:
                    arrays[f"{key}__{sf.name}"] = np.stack(items)
        else:  # Sums (zero between chunks) and the shared generator
            kinds[f.name] = "skip"
    return arrays, kinds


def unpack_rule_state(rule_state: Any, ds: xr.Dataset, kinds: dict[str, Any]) -> None:
    """Fill a freshly initialised rule state from :func:`pack_rule_state`'s arrays."""
    for name, kind in kinds.items():
        key = f"rule_state__{name}"
        if kind == "array":
            saved, fresh = ds[key].values, getattr(rule_state, name)
            if isinstance(fresh, np.ndarray) and saved.shape != fresh.shape:
                raise ValueError(
                    f"the checkpoint's rule state {name!r} has shape {saved.shape}, but this "
                    f"version keeps it as {fresh.shape} (a checkpoint of an older bioplastic?): "
                    "start the run again"
                )
            setattr(rule_state, name, saved.copy())
        elif isinstance(kind, dict) and "masks" in kind:
            container = getattr(rule_state, name)
            container.clear()
            saved = ds[key].values.astype(bool) if key in ds else [None] * kind["masks"]
            container.extend(None if m is None else m.copy() for m in saved)
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
    cut = getattr(rule_state, "cut", None)
    if cut is not None:  # a checkpoint from before teacher forcing's cuts: none to restore
        steps = getattr(rule_state, "window", getattr(rule_state, "steps", ()))
        padded = [None] * (len(steps) - len(cut)) + list(cut)
        cut.clear()
        cut.extend(padded)
