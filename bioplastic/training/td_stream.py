r"""Online TD(λ) prediction on one stream, with a gated-unit model that may grow while it learns.

Javed, Shah, Sutton & White 2023 (seed 003, sections 3, 5 and 6; Appendix A, Table 2): a
network (:class:`~bioplastic.LSTM`, or :class:`~bioplastic.LeakyRNN`) predicts the return
``G_t = Σ_k γ^k c_{t+k+1}`` of a cumulant ``c`` in the stream, learning at every step
(Sutton 1988; Sutton & Barto 2018, sec. 12.2)::

    δ_{t-1} = c_t + γ V_t − V_{t-1},      θ ← θ + η δ_{t-1} z_{t-1},      z_t = γλ z_{t-1} + ∇_θ V_t

with ``V_t = y_t`` (one output), as :mod:`bioplastic.training.td` does for the leaky RNN's
rules.  ``∇_θ V_t`` comes from the model's own credit (:mod:`bioplastic.rules.gated`):

* ``credit="traces"``: the per-unit forward-mode traces (the paper's Appendix C).  Exact on
  **columnar** networks and on the newest stage of **constructive** and **hybrid** networks;
  the **diagonal Jacobian** (SnAp-1) on a dense layer;
* ``credit="tbptt"``: the gradient of ``V_t`` carried back through the last ``truncation``
  steps as they happened (Williams & Peng 1990; the paper's T-BPTT, k = 27).

A :class:`Growth` adds a stage of ``size`` columns every ``every`` steps up to ``max_units``
(constructive: 1 unit every 400,000 steps up to 23; hybrid: 20 every 800,000 up to 108): the new
units hear the inputs, every earlier unit and themselves; the earlier ones are frozen and the
readout keeps learning (``model.grow``).  Their traces start at zero.

The learner never sees ``G_t``; the recorded error is the mean of ``(V_t − G_t)²`` over each
``record_every`` steps of the training stream (the paper's Fig. 2 y-axis), with ``G_t`` the
task's true return (:class:`~bioplastic.tasks.TracePatterning`).  The numpy path here is the
reference; an LSTM learning by traces or by T-BPTT runs a compiled kernel
(:mod:`bioplastic.kernels.lstm_td`), tested equal to it.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass

import numpy as np
import xarray as xr

from .._validate import check_seed
from ..lstm import LSTM
from ..model import Model, gated_params
from ..network import LeakyRNN
from ..results import save
from ..rules.gated import heard, learning_units, traces_exact
from .td_learner import Learner

__all__ = ["Growth", "Replacement", "learn_td", "CREDITS"]

CREDITS: tuple[str, ...] = ("traces", "tbptt")


@dataclass(frozen=True)
class Growth:
    """A constructive schedule: ``size`` new columns every ``every`` steps, up to ``max_units``."""

    every: int
    size: int
    max_units: int

    def __post_init__(self) -> None:
        for k in ("every", "size", "max_units"):
            v = getattr(self, k)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Growth.{k} must be an int >= 1; got {v!r}")


@dataclass(frozen=True)
class Replacement:
    """Generate and test (Javed et al. 2023, sec. 7): every ``every`` steps, the learning unit
    of least utility among those at least ``maturity`` steps old (when at least half of the
    learning units are) starts afresh: new incoming weights U(±``scale``), readout 0, state,
    traces and eligibility 0.  Utility is a running average, rate ``1 − decay``, of the unit's
    contribution to its outgoing weights, ``|w_out,i h_i|`` (the draft's text breaks off at
    its definition; the rate, the maturity and the half-mature rule are the authors' older
    ReLU code, ``neuron.cpp``, ``recurrent_network.cpp``).  Only units that no other unit
    hears are replaced, so the traces stay exact; in a growing network, the newest stage."""

    every: int
    maturity: int = 50_000
    decay: float = 0.9999
    scale: float = 0.1

    def __post_init__(self) -> None:
        for k in ("every", "maturity"):
            v = getattr(self, k)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Replacement.{k} must be an int >= 1; got {v!r}")
        if not 0 < self.decay < 1:
            raise ValueError(f"Replacement.decay must lie in (0, 1); got {self.decay!r}")


def _real(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v)


def _check(model, task, steps, credit, step_size, lam, truncation, record_every, keep_last) -> None:
    if not isinstance(model, (LSTM, LeakyRNN)):
        raise TypeError(f"model must be a bioplastic.LSTM or LeakyRNN; got {type(model).__name__}")
    if model.n_out != 1:
        raise ValueError(
            f"TD(λ) predicts one signal: the model needs 1 output; it has {model.n_out}"
        )
    if getattr(task, "cumulant_index", None) is None:
        raise ValueError(
            f"task {type(task).__name__} names no cumulant (task.cumulant_index); TD(λ) needs "
            "a stream task whose target is the return of one of its inputs, e.g. TracePatterning"
        )
    if model.n_in != getattr(task, "n_in", None):
        raise ValueError(
            f"the model has {model.n_in} inputs and the task {getattr(task, 'n_in', None)}; "
            f"build the model with n_in = task.n_in"
        )
    if credit not in CREDITS:
        raise ValueError(f"credit must be one of {list(CREDITS)}; got {credit!r}")
    if credit == "tbptt" and (
        not isinstance(truncation, (int, np.integer))
        or isinstance(truncation, bool)
        or truncation < 1
    ):
        raise ValueError(f"credit='tbptt' needs truncation=k, an int >= 1; got {truncation!r}")
    if credit == "traces" and truncation is not None:
        raise ValueError("truncation is an option of credit='tbptt' only")
    for name, v, lo in (
        ("steps", steps, 1),
        ("record_every", record_every, 1),
        ("keep_last", keep_last, 0),
    ):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}; got {v!r}")
    if not (_real(step_size) and step_size > 0):
        raise ValueError(f"step_size must be a number > 0; got {step_size!r}")
    if not (_real(lam) and 0 <= lam <= 1):
        raise ValueError(f"lam must be a number in [0, 1]; got {lam!r}")


def learn_td(
    model: Model,
    task,
    steps: int,
    *,
    step_size: float,
    lam: float,
    credit: str = "traces",
    truncation: int | None = None,
    growth: Growth | None = None,
    replacement: Replacement | None = None,
    seed: int = 0,
    record_every: int = 10_000,
    keep_last: int = 0,
    normalize: float | None = None,
    compiled: bool = True,
    out: str | os.PathLike | None = None,
) -> xr.Dataset:
    """Learn to predict ``task``'s return online for ``steps`` steps (module docstring).

    Parameters
    ----------
    model:
        An LSTM or leaky RNN with one output (``LSTM.columnar``, ``LSTM.dense``, ...).
    task:
        A stream task with a cumulant and the true return as its target (``TracePatterning``).
    step_size, lam:
        η and λ; γ is the task's.
    credit, truncation:
        ``"traces"`` or ``"tbptt"`` with ``truncation = k``.
    growth:
        A :class:`Growth` schedule, or None for a fixed network.
    replacement:
        Generate and test (:class:`Replacement`), for an LSTM learning by traces; None for none.
    seed:
        The stream's seed.
    record_every:
        Steps per recorded point.
    keep_last:
        Keep the predictions and true returns of the last ``keep_last`` steps (the paper's
        Fig. 2, left).
    normalize:
        None, or the rate β of an online z-scoring of every input before the network sees it
        (Javed et al.'s code at 632dbf2, ``LSTM::get_normalized_values``):
        ``x̃_t = (x_t − μ_{t-1}) / √v_{t-1}``, then ``μ_t = (1−β) μ_{t-1} + β x_t`` and
        ``v_t = (1−β) v_{t-1} + β (x_t − μ_t)²`` from ``μ_0 = 0``, ``v_0 = 1`` (``v`` floored
        at 1e-12, ours).  The cumulant for δ is the raw input.
    out:
        A ``.nc`` path: the dataset is written there (atomically) however the run ends.
    compiled:
        Use a compiled kernel where one applies (a float64 LSTM learning by traces, with whole
        rows learning; or a dense, wholly plastic float64 LSTM learning by T-BPTT); False
        forces the numpy reference.

    Returns
    -------
    xarray.Dataset
        ``error (step)``: mean ``(V_t − G_t)²`` of each recorded span, ``units (step)``, and
        the final parameters; attrs ``status`` (``"complete"`` or ``"diverged"``, the curve
        kept up to the divergence) or ``"interrupted"`` (Ctrl-C: the spans recorded so far, the
        parameters at the interruption; runs do not resume), ``credit``, ``step_size``,
        ``lam``, ``gamma``, ``seed``; with ``keep_last``, ``prediction (tail)`` and
        ``true_return (tail)``.
    """
    _check(model, task, steps, credit, step_size, lam, truncation, record_every, keep_last)
    seed = check_seed(seed)
    if credit == "traces" and growth is not None and not traces_exact(model):
        raise ValueError(
            "a growing network learns its newest stage by exact traces: start from "
            "columns (LSTM.columnar, or a LeakyRNN with a diagonal W_rec mask)"
        )
    for name, v, cls in (("growth", growth, Growth), ("replacement", replacement, Replacement)):
        if v is not None and not isinstance(v, cls):
            raise TypeError(f"{name} must be a bioplastic.{cls.__name__} or None; got {v!r}")
    if growth is not None and growth.max_units < model.n_rec:
        raise ValueError(
            f"growth.max_units ({growth.max_units}) is below the model's {model.n_rec} units"
        )
    if replacement is not None and not (isinstance(model, LSTM) and credit == "traces"):
        raise ValueError("replacement (generate and test) is for an LSTM learning by traces")
    if replacement is not None and not (learning_units(model) & ~heard(model)).any():
        raise ValueError(
            "replacement (generate and test) replaces learning units that no other unit "
            "hears, and this model has none (a dense layer?): use LSTM.columnar"
        )
    stream = task.stream(1, np.random.default_rng(seed))
    learner = Learner(model, credit, truncation, float(step_size), float(lam), float(task.gamma))
    if replacement is not None:
        learner.u_decay = float(replacement.decay)
    fresh = np.random.default_rng([seed, 1])  # the replaced units' new weights
    replaced = []
    ci = task.cumulant_index
    errors, units, status = [], [], "complete"
    tail_V, tail_G = np.empty(0), np.empty(0)
    scaler = None if normalize is None else Normalizer(model.n_in, float(normalize))
    done = 0
    try:  # Ctrl-C ends the run between spans, keeping what was recorded
        while done < steps:
            n = min(record_every - done % record_every, steps - done)  # to the next bin's end
            for sched in (growth, replacement):  # stop the span where a stage or test is due
                if sched is not None:
                    n = min(n, sched.every - done % sched.every)
            chunk = stream.next(n)
            x, G = chunk.x[0], chunk.target[0, :, 0]
            x_seen = x if scaler is None else scaler(x)
            V = learner.run(x_seen, x[:, ci], compiled)
            with np.errstate(over="ignore", invalid="ignore"):
                err = (V - G) ** 2
            ok = np.isfinite(err)
            if not ok.all():
                status = "diverged"
                err = err[: int(np.argmin(ok))]
            learner.age += len(err)
            _record(errors, units, done, err, record_every, learner.model.n_rec)
            if keep_last:
                tail_V = np.concatenate([tail_V, V[: len(err)]])[-keep_last:]
                tail_G = np.concatenate([tail_G, G[: len(err)]])[-keep_last:]
            done += n
            if status == "diverged":
                break
            if (
                growth is not None
                and done < steps
                and done % growth.every == 0
                and learner.model.n_rec < growth.max_units
            ):
                learner.grow(min(growth.size, growth.max_units - learner.model.n_rec))
            if replacement is not None and done < steps and done % replacement.every == 0:
                unit = learner.replace(replacement, fresh)
                if unit is not None:
                    replaced.append((done, unit))
    except KeyboardInterrupt:
        status = "interrupted"
    ds = _dataset(
        learner.model,
        errors,
        units,
        status,
        record_every,
        dict(
            credit=credit,
            step_size=float(step_size),
            lam=float(lam),
            gamma=float(task.gamma),
            seed=seed,
            truncation=-1 if truncation is None else int(truncation),
            model=type(model).__name__,
        ),
    )
    if replacement is not None:
        ds["replaced_unit"] = ("replacement", np.array([u for _, u in replaced], dtype=np.int64))
        ds["replaced_at"] = ("replacement", np.array([t for t, _ in replaced], dtype=np.int64))
    if keep_last:
        ds["prediction"] = ("tail", tail_V)
        ds["true_return"] = ("tail", tail_G)
    if out is not None:
        save(ds, out)
    return ds


VAR_FLOOR = 1e-12  # a constant input's variance decays to 0; its z-score stays finite (0)


class Normalizer:
    """Online z-scoring of a stream's inputs (the ``normalize`` option of :func:`learn_td`)."""

    def __init__(self, n: int, rate: float) -> None:
        if not 0 < rate < 1:
            raise ValueError(f"normalize must be a rate in (0, 1); got {rate!r}")
        self.rate, self.mean, self.var = rate, np.zeros(n), np.ones(n)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``x (time, input)`` z-scored with the statistics before each step."""
        from scipy.signal import lfilter

        b, a = [self.rate], [1.0, -(1.0 - self.rate)]
        mean, _ = lfilter(b, a, x, axis=0, zi=((1 - self.rate) * self.mean)[None])
        mean_before = np.concatenate([self.mean[None], mean[:-1]])
        var, _ = lfilter(b, a, (x - mean) ** 2, axis=0, zi=((1 - self.rate) * self.var)[None])
        var_before = np.concatenate([self.var[None], var[:-1]])
        self.mean, self.var = mean[-1], var[-1]
        return (x - mean_before) / np.sqrt(np.maximum(var_before, VAR_FLOOR))


def _record(errors: list, units: list, done: int, err: np.ndarray, every: int, n: int) -> None:
    """Append the span's squared errors to the per-``every`` bins (a span never crosses one)."""
    if errors and errors[-1][0] == done // every and done % every:
        errors[-1][1].extend(err.tolist())
        units[-1] = n
    elif len(err):
        errors.append((done // every, err.tolist()))
        units.append(n)


def _dataset(model, errors, units, status, every, attrs) -> xr.Dataset:
    step = np.array([k * every + len(e) for k, e in errors], dtype=np.int64)  # each bin's end
    ds = xr.Dataset(
        {
            "error": ("step", np.array([np.mean(e) for _, e in errors])),
            "units": ("step", np.array(units, dtype=np.int64)),
        },
        coords={"step": step},
    )
    dims = {
        "W_in": ("gate", "unit", "input"),
        "W_rec": ("gate", "unit", "pre"),
        "b": ("gate", "unit"),
        "W_out": ("output", "unit"),
        "b_out": ("output",),
    }
    for k, v in gated_params(model).items():
        ds[k] = (dims[k], np.array(v))
    ds["error"].attrs["long_name"] = "mean (V_t - G_t)^2 over the span ending at step"
    ds.attrs.update(attrs, status=status)
    return ds
