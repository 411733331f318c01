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
from collections import deque
from dataclasses import dataclass

import numpy as np
import xarray as xr

from .. import kernels
from .._validate import check_seed
from ..errors import NonFiniteError
from ..lstm import LSTM
from ..model import Model, gated_params, local, model_layout
from ..network import PARAM_NAMES, LeakyRNN
from ..rules.base import finalize
from ..rules.gated import back, learning_units, trace_step, traces_exact

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
    compiled:
        Use a compiled kernel where one applies (a float64 LSTM learning by traces, with whole
        rows learning; or a dense, wholly plastic float64 LSTM learning by T-BPTT); False
        forces the numpy reference.

    Returns
    -------
    xarray.Dataset
        ``error (step)``: mean ``(V_t − G_t)²`` of each recorded span, ``units (step)``, and
        the final parameters; attrs ``status`` (``"complete"`` or ``"diverged"``, the curve
        kept up to the divergence), ``credit``, ``step_size``, ``lam``, ``gamma``, ``seed``;
        with ``keep_last``, ``prediction (tail)`` and ``true_return (tail)``.
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
    if replacement is not None and not (learning_units(model) & ~_heard(model)).any():
        raise ValueError(
            "replacement (generate and test) replaces learning units that no other unit "
            "hears, and this model has none (a dense layer?): use LSTM.columnar"
        )
    stream = task.stream(1, np.random.default_rng(seed))
    learner = _Learner(model, credit, truncation, float(step_size), float(lam), float(task.gamma))
    if replacement is not None:
        learner.u_decay = float(replacement.decay)
    fresh = np.random.default_rng([seed, 1])  # the replaced units' new weights
    replaced = []
    ci = task.cumulant_index
    errors, units, status = [], [], "complete"
    tail_V, tail_G = np.empty(0), np.empty(0)
    scaler = None if normalize is None else Normalizer(model.n_in, float(normalize))
    done = 0
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


def _heard(model) -> np.ndarray:
    """Bool ``(unit,)``: units that another unit hears (by the ``W_rec`` mask)."""
    n = model.n_rec
    conn = model.connectivity.get("W_rec", np.ones((n, n), dtype=bool))
    return (conn & ~np.eye(n, dtype=bool)).any(axis=0)


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


def kernel_layout(model: LSTM):
    """The compiled kernel's view of an LSTM, or None where it does not apply: the ``W_rec``
    mask as CSR ``(ptr, idx)``, the learning units, and whether the readout learns.  Each
    learning unit must learn its whole incoming row (W_in, b and every W_rec entry it hears);
    other patterns run the numpy path."""
    n, P, masks = model.n_rec, model.params, model.plastic_masks
    conn = model.connectivity.get("W_rec", np.ones((n, n), dtype=bool))
    ptr = np.concatenate([[0], np.cumsum(conn.sum(axis=1))]).astype(np.int64)
    idx = np.nonzero(conn)[1].astype(np.int64)
    learns = {}
    for k in ("W_in", "W_rec", "b"):
        full = (
            np.ones(P[k].shape, dtype=bool)
            if k in model.plastic
            else np.zeros(P[k].shape, dtype=bool)
        )
        learns[k] = masks.get(k, full)
    rows = learns["b"].all(axis=0)
    if not (learns["b"] == rows).all() or model.dtype != np.float64:
        return None
    for k in ("W_in", "W_rec"):
        want = np.broadcast_to(rows[None, :, None], P[k].shape)
        got = learns[k] & (conn if k == "W_rec" else True)
        if not (got == (want & (conn if k == "W_rec" else True))).all():
            return None
    learn_out = {"W_out", "b_out"} <= model.plastic
    if learn_out != bool({"W_out", "b_out"} & model.plastic) or "W_out" in masks:
        return None
    return ptr, idx, np.nonzero(rows)[0].astype(np.int64), learn_out


def _all_learn(model) -> bool:
    """Every parameter learns, whole, and the layer is dense (the T-BPTT kernel's case)."""
    return (
        model.plastic == frozenset(PARAM_NAMES)
        and not model.plastic_masks
        and not model.connectivity
        and model.dtype == np.float64
    )


class _Learner:
    """The TD(λ) state of one stream: the model, its state, credit and eligibility."""

    def __init__(self, model, credit, truncation, step_size, lam, gamma) -> None:
        self.model, self.credit, self.k = model, credit, truncation
        self.eta, self.lam, self.gamma = step_size, lam, gamma
        n, d = model.n_rec, 2 if isinstance(model, LSTM) else 1
        self.state = np.zeros((1, n, d), dtype=model.dtype)
        self.prev: float | None = None
        self._reset_credit()
        self.z = {k: np.zeros_like(v) for k, v in model.params.items()}
        self.compiled = isinstance(model, LSTM) and kernels.available()
        self.utility, self.age, self.u_decay = np.zeros(n), np.zeros(n, dtype=np.int64), 0.9999

    def _reset_credit(self) -> None:
        P = gated_params(self.model)
        Q, n, m = P["W_in"].shape
        d = self.state.shape[2]
        self.trace = np.zeros((1, Q, n, m + n + 1, d), dtype=self.model.dtype)
        self.window: deque = deque(maxlen=self.k or 1)
        self.layout = None
        if isinstance(self.model, LSTM) and self.credit == "tbptt" and _all_learn(self.model):
            k = self.k
            self.layout = "tbptt"
            self.ring = (
                np.zeros((k, m)),
                np.zeros((k, n)),
                np.zeros((k, n)),
                np.zeros((k, 4, n)),
                np.zeros((k, 4, n, n)),
                np.zeros(2, dtype=np.int64),
            )
        elif isinstance(self.model, LSTM) and self.credit == "traces":
            self.layout = kernel_layout(self.model)
        if self.layout is not None and self.credit == "traces":
            heard_ptr, _, learners, _ = self.layout
            K = m + 1 + int(np.diff(heard_ptr).max(initial=0))
            self.kernel_z = np.zeros((3, len(learners), 4, K))  # TH, TC, z

    def grow(self, n_new: int) -> None:
        """Add a stage; earlier units freeze, their eligibility with them; new state is 0."""
        m = self.model
        self.model = m.grow(n_new) if isinstance(m, LSTM) else m.grow(n_new, column_size=1)
        pad = np.zeros((1, n_new, self.state.shape[2]), dtype=self.state.dtype)
        self.state = np.concatenate([self.state, pad], axis=1)
        z_out = np.concatenate([self.z["W_out"], np.zeros((1, n_new), self.z["W_out"].dtype)], 1)
        z_bout = self.z["b_out"]
        self.z = {k: np.zeros_like(v) for k, v in self.model.params.items()}
        self.z["W_out"], self.z["b_out"] = z_out, z_bout  # the readout keeps its eligibility
        self.utility = np.concatenate([self.utility, np.zeros(n_new)])
        self.age = np.concatenate([self.age, np.zeros(n_new, dtype=np.int64)])
        self._reset_credit()

    def replace(self, r: Replacement, rng: np.random.Generator) -> int | None:
        """Generate and test: start the least useful mature replaceable unit afresh."""
        model = self.model
        learning = learning_units(model)
        conn = model.connectivity.get("W_rec", np.ones((model.n_rec,) * 2, dtype=bool))
        heard = _heard(model)
        mature = learning & (self.age >= r.maturity)
        if 2 * mature.sum() < learning.sum() or not (mature & ~heard).any():
            return None
        i = int(np.flatnonzero(mature & ~heard)[np.argmin(self.utility[mature & ~heard])])
        p = {k: np.array(v) for k, v in model.params.items()}
        p["W_in"][:, i] = rng.uniform(-r.scale, r.scale, p["W_in"][:, i].shape)
        p["b"][:, i] = rng.uniform(-r.scale, r.scale, 4)
        p["W_rec"][:, i] = rng.uniform(-r.scale, r.scale, p["W_rec"][:, i].shape) * conn[i]
        p["W_out"][:, i] = 0.0
        self.model = model.evolve(model.project(p))
        self.state[:, i] = 0.0
        for k in ("W_in", "W_rec", "b"):
            self.z[k][:, i] = 0.0
        self.z["W_out"][:, i] = 0.0
        self.trace[:, :, i] = 0.0
        if self.layout is not None and not isinstance(self.layout, str):
            self.kernel_z[:, np.flatnonzero(self.layout[2] == i)] = 0.0
        self.utility[i], self.age[i] = 0.0, 0
        return i

    def run(self, x: np.ndarray, cumulant: np.ndarray, compiled: bool) -> np.ndarray:
        """Learn on ``x (time, input)``; returns the predictions ``V_t`` (NaN once diverged)."""
        if compiled and self.compiled and self.layout is not None:
            return self._run_compiled(x, cumulant)
        pred = np.full(len(x), np.nan)
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(len(x)):
                try:
                    V = self.step(x[t], cumulant[t])
                except NonFiniteError:  # the state overflowed: diverged
                    break
                pred[t] = V
                if not np.isfinite(V):
                    break
        return pred

    def _run_compiled(self, x, cumulant) -> np.ndarray:
        from ..kernels.lstm_td import lstm_td_chunk

        p = {k: np.array(v, dtype=np.float64) for k, v in self.model.params.items()}
        h, c = self.state[0, :, 0].copy(), self.state[0, :, 1].copy()
        prev = np.array([0.0 if self.prev is None else 1.0, self.prev or 0.0])
        pred = np.empty(len(x))
        x, cumulant = (np.ascontiguousarray(a, dtype=np.float64) for a in (x, cumulant))
        if self.layout == "tbptt":
            from ..kernels.lstm_td import lstm_tbptt_chunk

            z = self.z
            lstm_tbptt_chunk(
                x,
                cumulant,
                p["W_in"],
                p["W_rec"],
                p["b"],
                p["W_out"][0],
                p["b_out"],
                h,
                c,
                *self.ring,
                z["W_in"],
                z["W_rec"],
                z["b"],
                z["W_out"][0],
                z["b_out"],
                prev,
                self.eta,
                self.gamma,
                self.lam,
                pred,
            )
            return self._finish(p, h, c, prev, pred)
        heard_ptr, heard_idx, learners, learn_out = self.layout
        TH, TC, z = self.kernel_z
        lstm_td_chunk(
            x,
            cumulant,
            p["W_in"],
            p["W_rec"],
            p["b"],
            p["W_out"][0],
            p["b_out"],
            heard_ptr,
            heard_idx,
            learners,
            learn_out,
            h,
            c,
            TH,
            TC,
            z,
            self.z["W_out"][0],
            self.z["b_out"],
            self.utility,
            self.u_decay,
            prev,
            self.eta,
            self.gamma,
            self.lam,
            pred,
        )
        return self._finish(p, h, c, prev, pred)

    def _finish(self, p, h, c, prev, pred) -> np.ndarray:
        self.model = self.model.evolve(p)
        self.state = np.stack([h, c], axis=-1)[None]
        self.prev = float(prev[1]) if prev[0] else None
        return pred

    def step(self, x_t: np.ndarray, c_t: float) -> float:
        model, P = self.model, gated_params(self.model)
        s = self.state
        L = local(model, x_t[None, None], s[..., 0], s[..., 1] if s.shape[2] == 2 else None)
        V = float(L.outputs[0, 0, 0])
        if not np.isfinite(V):
            return V
        if self.prev is not None:  # δ_{t-1}, and the update along z_{t-1}
            delta = model.dtype.type(self.eta * (c_t + self.gamma * V - self.prev))  # η δ_{t-1}
            new = {k: model.params[k] + delta * self.z[k] for k in model.plastic}
            self.model = model.evolve(model.project(new))
        grad = model_layout(model, self.gradient(P, L))
        grad = finalize(model, grad)
        for k in self.z:
            self.z[k] *= self.gamma * self.lam
            self.z[k] += grad[k]
        self.utility *= self.u_decay
        self.utility += (1.0 - self.u_decay) * np.abs(P["W_out"][0] * L.rates[1][0])
        self.prev, self.state = V, L.states[1]
        return V

    def gradient(self, P: dict, L) -> dict[str, np.ndarray]:
        """``∇_θ V_t`` in gate layout, from this step's factors ``L`` (and the window)."""
        q = P["W_out"][0][None, :, None] * L.slope[1]  # ∂V/∂s_t (1, n, d)
        out = {"W_out": L.rates[1].copy(), "b_out": np.ones(1)}
        if self.credit == "traces":
            self.trace = trace_step(P, L, 0, self.trace)
            total = np.einsum("bqnpd,bnd->qnp", self.trace, q)
            m, n = P["W_in"].shape[2], P["W_in"].shape[1]
            out.update(W_in=total[..., :m], W_rec=total[..., m : m + n], b=total[..., -1])
            return out
        self.window.append((P, L))
        g = {k: np.zeros_like(P[k]) for k in ("W_in", "W_rec", "b")}
        for Pj, Lj in reversed(self.window):
            delta, q = back(Pj["W_rec"], Lj, q, 0)
            g["W_in"] += np.einsum("bqn,bm->qnm", delta, Lj.inputs[0])
            g["W_rec"] += np.einsum("bqn,bj->qnj", delta, Lj.rates[0])
            g["b"] += delta.sum(0)
        out.update(g)
        return out
