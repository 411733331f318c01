"""Trials and the task interface.

A task is a seeded generator of :class:`Trials`: inputs, targets, an optional loss mask and
per-trial condition labels, all trial-major like the rest of bioplastic.  Tasks validate their
parameters when they are built and say which paper they follow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

import numpy as np
import xarray as xr

from .._validate import check_finite, check_shape, float_array

__all__ = ["Trials", "Task", "task_config"]


@dataclass(frozen=True)
class Trials:
    """A batch of trials.

    Attributes
    ----------
    x: ``(trial, time, input)`` inputs.
    target: ``(trial, time, output)`` targets.
    mask: ``(trial, time, output)`` loss weights, or None (all ones).
    conditions: ``{name: (trial,)}`` labels of each trial's condition (a period, an interval…).
    dt: the time step, in the task's time unit.
    """

    x: np.ndarray
    target: np.ndarray
    mask: np.ndarray | None = None
    conditions: Mapping[str, np.ndarray] = field(default_factory=dict)
    dt: float = 1.0

    def __post_init__(self) -> None:
        x = float_array("x", self.x, [("trial", None), ("time", None), ("input", None)], np.float64)
        B, T, _ = x.shape
        dims = [("trial", B), ("time", T), ("output", None)]
        target = float_array("target", self.target, dims, np.float64)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "target", target)
        if self.mask is not None:
            mask = float_array(
                "mask", self.mask, dims[:2] + [("output", target.shape[2])], np.float64
            )
            object.__setattr__(self, "mask", mask)
        conds = {}
        for k, v in self.conditions.items():
            v = np.asarray(v)
            check_shape(f"conditions[{k!r}]", v, [("trial", B)])
            if v.dtype.kind in "iuf":
                check_finite(f"conditions[{k!r}]", v)
            conds[k] = v
        object.__setattr__(self, "conditions", conds)

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def n_steps(self) -> int:
        return self.x.shape[1]

    def to_xarray(self) -> xr.Dataset:
        """The trials as a Dataset with dims ``trial, time, input, output``; conditions are
        coordinates along ``trial``, and ``time`` is in the task's time unit."""
        B, T, _ = self.x.shape
        coords: dict[str, Any] = {
            "trial": np.arange(B),
            "time": ("time", self.dt * np.arange(1, T + 1), {"units": "time step × dt"}),
        }
        coords.update({k: ("trial", v) for k, v in self.conditions.items()})
        data = {
            "x": (("trial", "time", "input"), self.x, {"long_name": "input"}),
            "target": (("trial", "time", "output"), self.target, {"long_name": "target output"}),
        }
        if self.mask is not None:
            data["mask"] = (("trial", "time", "output"), self.mask, {"long_name": "loss weight"})
        return xr.Dataset(data, coords=coords, attrs={"dt": self.dt})


class Task(Protocol):
    """What :func:`bioplastic.training` needs of a task."""

    name: str  # the registry name, e.g. "periodic"

    @property
    def n_in(self) -> int: ...

    @property
    def n_out(self) -> int: ...

    def sample(self, n_trials: int, rng: np.random.Generator) -> Trials: ...


def task_config(task: Any) -> dict[str, Any]:
    """A task's parameters (its dataclass fields) plus its name, for provenance."""
    out = {"name": task.name}
    out.update({f.name: getattr(task, f.name) for f in fields(task) if f.init})
    return out


def positive(name: str, value: Any, *, integer: bool = False, allow_zero: bool = False) -> None:
    """Raise a ``ValueError`` naming ``name`` unless ``value`` is a finite number > 0 (or >= 0)."""
    ok_type = (
        isinstance(value, (int, np.integer))
        if integer
        else isinstance(value, (int, float, np.integer, np.floating))
    )
    finite = ok_type and (isinstance(value, (int, np.integer)) or math.isfinite(value))
    if isinstance(value, bool) or not finite or (value < 0 if allow_zero else value <= 0):
        kind = "an int" if integer else "a finite number"
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {kind} {bound}; got {value!r}")
