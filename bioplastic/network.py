r"""The leaky recurrent network, in its two standard forms.

With α = dt/τ (a scalar, or one value per unit, 0 < α ≤ 1), weights stored as ``W[post, pre]``:

**rate form** (Murray 2019, eLife 8:e43299, eq. 1; Marschall et al. 2020, JMLR 21, eq. 1)::

    u_t = W_rec h_{t-1} + W_in x_t + b
    h_t = (1 - α) h_{t-1} + α f(u_t)
    y_t = W_out h_t + b_out

**current form** (Song, Yang & Wang 2016, PLoS Comput Biol 12:e1004792, eqs. 1-3)::

    v_t = (1 - α) v_{t-1} + α (W_rec f(v_{t-1}) + W_in x_t + b)
    r_t = f(v_t)
    y_t = W_out r_t + b_out

Both are one recursion ``s_t = (1-α) s_{t-1} + α φ(W_rec ρ(s_{t-1}) + W_in x_t + b)`` with
``y_t = W_out ρ(s_t) + b_out``: the rate form has ``φ = f, ρ = id``, the current form
``φ = id, ρ = f``.  Gradient code is written once against ``φ`` and ``ρ``:

* ``gain``  = α ⊙ φ'(u_t), the factor between a unit's state change and its input current;
* ``slope`` = ρ'(s_t), the factor between a unit's state and the rate it sends on
  (1 in the rate form, so it is ``None`` there).

The Williams & Zipser (1989) network is the rate form at α = 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import _scratch, kernels
from ._threads import blas_threads_for, over_ranges, split_ranges
from ._validate import as_float_array, check_finite, check_shape, one_of
from .activations import ACTIVATIONS, Activation, get_activation
from .errors import NonFiniteError
from .init import INITS, random_weights
from .structure import (
    PARAM_NAMES,
    check_connectivity,
    check_dale,
    check_dtype,
    check_params,
    check_plastic,
    check_plastic_masks,
    plastic_spec,
    project,
    readonly,
    replaced_params,
    resolve_alpha,
)

__all__ = ["LeakyRNN", "Trajectory", "Trace", "StepOut", "PARAM_NAMES", "FORMS", "INITS"]

FORMS: tuple[str, ...] = ("rate", "current")


class Trajectory(NamedTuple):
    """What :meth:`LeakyRNN.run` returns; unpack as ``states, outputs = net.run(x)``."""

    states: np.ndarray
    """``(trial, time, unit)``: h_t (rate form) or v_t (current form), t = 1..T."""
    outputs: np.ndarray
    """``(trial, time, output)``: y_t, t = 1..T."""


class StepOut(NamedTuple):
    """One step of :meth:`LeakyRNN.step`; arrays are ``(trial, unit)``."""

    state: np.ndarray  # s_t
    rate: np.ndarray  # ρ(s_t)
    rate_prev: np.ndarray  # ρ(s_{t-1}), the presynaptic rates of this step
    gain: np.ndarray  # α φ'(u_t)
    slope_prev: np.ndarray | None  # ρ'(s_{t-1}); None in the rate form
    slope: np.ndarray | None  # ρ'(s_t); None in the rate form


@dataclass(frozen=True)
class Trace:
    """A forward pass kept for gradient computation.  Arrays are **time-major**.

    Index 0 along time is t = 0 (the initial state); ``inputs``, ``gain`` and ``outputs``
    start at t = 1, so ``inputs[t-1]`` is x_t.
    """

    inputs: np.ndarray  # (T, B, n_in)     x_t
    states: np.ndarray  # (T+1, B, n)      s_t (h or v)
    rates: np.ndarray  # (T+1, B, n)       ρ(s_t), the presynaptic rates
    outputs: np.ndarray  # (T, B, n_out)   y_t
    gain: np.ndarray | None  # (T, B, n)   α φ'(u_t)
    slope: np.ndarray | None  # (T+1, B, n) ρ'(s_t); None in the rate form (ρ' = 1)


class LeakyRNN:
    """A leaky rate RNN (see the module docstring for the equations).

    Parameters
    ----------
    W_in, W_rec, W_out:
        Weights ``(n_rec, n_in)``, ``(n_rec, n_rec)``, ``(n_out, n_rec)``, stored ``[post, pre]``.
        ``n_in`` may be 0 (a network with no input).
    b, b_out:
        Biases ``(n_rec,)`` and ``(n_out,)``; zeros when ``None``.
    tau, alpha, dt:
        Give either ``alpha`` or ``tau`` (with ``dt``; α = dt/τ).  Each is a scalar or one value
        per unit ``(n_rec,)``, with 0 < α ≤ 1 (so τ ≥ dt).
    activation:
        ``"tanh"``, ``"relu"``, ``"softplus"``, ``"sigmoid"`` or ``"linear"``.
    form:
        ``"rate"`` (h-state) or ``"current"`` (v-state with r = f(v)).
    connectivity:
        Optional ``{name: mask}`` for ``"W_in"``, ``"W_rec"``, ``"W_out"``; a mask has the
        weight's shape and entries 0/1.  Masked weights must be 0 and stay exactly 0 in every
        gradient.
    dale:
        Optional sign per recurrent unit ``(n_rec,)`` of +1 (excitatory) or -1 (inhibitory):
        column j of ``W_rec`` must have sign ``dale[j]`` (or be 0).
    plastic:
        Names of the parameters that learn (default: all of :data:`PARAM_NAMES`), or
        ``{name: True or mask}`` where a 0/1 mask of the parameter's shape selects the entries
        that learn (a constructive network's newest rows: :meth:`grow`).  The others get
        exactly-zero gradients and updates.
    dtype:
        ``np.float64`` (default) or ``np.float32``.  Everything the network computes with is
        converted to this dtype on the way in: inputs, targets, masks and initial states given
        in the other precision are cast (float64 data on a float32 network lose precision;
        float32 data on a float64 network are exact), never refused.
    """

    def __init__(
        self,
        W_in: ArrayLike,
        W_rec: ArrayLike,
        W_out: ArrayLike,
        b: ArrayLike | None = None,
        b_out: ArrayLike | None = None,
        *,
        tau: float | ArrayLike | None = None,
        alpha: float | ArrayLike | None = None,
        dt: float = 1.0,
        activation: str | Activation = "tanh",
        form: str = "rate",
        connectivity: Mapping[str, ArrayLike] | None = None,
        dale: ArrayLike | None = None,
        plastic: Iterable[str] | Mapping[str, ArrayLike | bool] | None = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        self._dtype = check_dtype(dtype)
        self._params = check_params(W_in, W_rec, W_out, b, b_out, self._dtype)
        self._n_rec, self._n_in = self._params["W_in"].shape
        self._n_out = self._params["W_out"].shape[0]
        self._alpha, self._dt = resolve_alpha(tau, alpha, dt, self._n_rec)
        # α in the computing dtype, so float32 arithmetic is never promoted to float64.
        self._alpha_c = (
            self._alpha
            if isinstance(self._alpha, float)
            else readonly(self._alpha.astype(self._dtype))
        )
        self._activation = get_activation(activation)
        self._form = one_of("form", form, FORMS)
        self._connectivity = check_connectivity(connectivity, self._params)
        self._dale = check_dale(dale, self._params["W_rec"])
        if isinstance(plastic, Mapping):
            self._plastic, self._plastic_masks = check_plastic_masks(plastic, self._params)
        else:
            self._plastic, self._plastic_masks = check_plastic(plastic), {}

    @classmethod
    def random(
        cls,
        n_in: int,
        n_rec: int,
        n_out: int,
        *,
        tau: float | ArrayLike,
        dt: float = 1.0,
        g: float = 1.5,
        activation: str = "tanh",
        form: str = "rate",
        seed: int = 0,
        exc_fraction: float | None = None,
        init: str = "murray",
        dtype: DTypeLike = np.float64,
    ) -> LeakyRNN:
        """A randomly initialised network; ``init`` names the paper whose set-up it follows.

        ``init="murray"``: W_rec and W_out as in Murray 2019's published code (the RFLO
        notebook); W_in ours (the notebook's, ``0.1 · (U(0, 1) − 1)``, drives an input held
        at 0):

        * ``W_rec = g · N(0, 1) / √n_rec`` (spectral radius ≈ g; g = 1.5 is weakly chaotic);
        * ``W_in  = U(-1, 1) / √n_in``;
        * ``W_out = 0.1 · U(-1, 1) / √n_rec``;
        * biases 0.

        ``init="murray_methods"``: Murray 2019's Methods ("Simulation details"): as above, but
        ``W_in = U(-1, 1)`` and ``W_out = U(-1, 1) / √n_rec`` (ten times the notebook's).

        ``init="marschall"``: the code of Marschall, Cho & Savin 2020 (their Add and Mimic
        runs): ``W_rec = g · Q`` with Q a uniformly random orthogonal matrix (they use g = 1),
        ``W_in = N(0, 1) / √n_in``, ``W_out = N(0, 1) / √n_rec``, biases 0.

        With ``exc_fraction`` (e.g. 0.5) the network obeys Dale's law: the first
        ``round(exc_fraction · n_rec)`` units are excitatory and each column of ``W_rec`` takes
        its unit's sign, ``W_ij ← ξ_j |W_ij|`` (Murray 2019, Methods, Fig. 2 – supplement 1).
        For ``init="murray"`` the inhibitory columns are then scaled by n_E/n_I, so that each
        row's expected input is balanced, and the matrix is rescaled to spectral radius g
        (after Song, Yang & Wang 2016).

        ``init="miconi"``: Miconi 2017 (eLife 6:e20899, Methods, "Network models", and his
        code ``dnms/net.cpp``): ``W_rec = g · N(0, 1) / √n_rec`` (g = 1.5), ``W_in = U(-1, 1)``
        except that the output units (0 … n_out − 1) get no input, ``W_out`` the identity on
        those units (output k is the rate of unit k), and the bias ``b`` the drive of the
        code's three clamped units (x = 1, 1, −1) through their random weights,
        ``b_i = Σ_k J_ik tanh(x_k) ~ N(0, 3 g² tanh²(1) / n_rec)``.

        ``init="williams_zipser"``: the network of Williams & Zipser 1989 (Neural Computation
        1:270), whose outputs are units: ``W_out`` the identity on units 0 … n_out − 1, and
        ``W_rec``, ``W_in`` and ``b`` (their bias line) all ``U(-g, g)``; ``g`` is the
        half-width (their range was not available to us; ``models/williams_zipser1989_*.toml``
        use ours).  Use it with ``activation="sigmoid"``, ``tau = dt`` (α = 1) and ``W_out``,
        ``b_out`` frozen, as teacher forcing requires.

        Randomness comes only from ``np.random.default_rng(seed)``.
        """
        W_in, W_rec, W_out, dale, b = random_weights(
            n_in, n_rec, n_out, g=g, seed=seed, exc_fraction=exc_fraction, init=init
        )
        return cls(
            W_in,
            W_rec,
            W_out,
            b,
            tau=tau,
            dt=dt,
            activation=activation,
            form=form,
            dale=dale,
            dtype=dtype,
        )

    @classmethod
    def columnar(
        cls,
        n_in: int,
        n_columns: int,
        column_size: int,
        n_out: int,
        *,
        tau: float | ArrayLike,
        dt: float = 1.0,
        g: float = 1.5,
        activation: str = "tanh",
        form: str = "rate",
        seed: int = 0,
        init: str = "murray",
        dtype: DTypeLike = np.float64,
    ) -> LeakyRNN:
        """A columnar network: ``n_columns`` independent columns of ``column_size`` units.

        Javed, Shah, Sutton & White 2023 (seed 003, section 5, Fig. 1): no connection between
        columns, so a column's parameters move only its own states and exact RTRL costs
        O(parameters) per step (:mod:`bioplastic.rules.influence`); every column sees all the
        inputs and feeds the readout.  ``W_rec`` is block-diagonal, held so by the
        ``connectivity`` mask ``{"W_rec": blocks}`` through training; unit ``i`` is in column
        ``i // column_size``.

        Weights as :meth:`random` with ``init="murray"`` or ``"murray_methods"``, except that
        each column's block of ``W_rec`` is ``g · N(0, 1) / √column_size`` (spectral radius
        ≈ g per column; a column of one unit has a self-connection of that scale).
        """
        for name, v in (("n_columns", n_columns), ("column_size", column_size)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an int >= 1; got {v!r}")
        if init not in ("murray", "murray_methods"):
            raise ValueError(
                f"a columnar network takes init='murray' or 'murray_methods'; got {init!r} "
                "(an orthogonal W_rec, init='marschall', has no block-diagonal form)"
            )
        n_rec = n_columns * column_size
        W_in, W_rec, W_out, _, _ = random_weights(n_in, n_rec, n_out, g=g, seed=seed, init=init)
        blocks = np.kron(np.eye(n_columns, dtype=bool), np.ones((column_size,) * 2, dtype=bool))
        W_rec = np.where(blocks, W_rec * np.sqrt(n_rec / column_size), 0.0)
        return cls(
            W_in,
            W_rec,
            W_out,
            tau=tau,
            dt=dt,
            activation=activation,
            form=form,
            connectivity={"W_rec": blocks},
            dtype=dtype,
        )

    def grow(
        self,
        n_new: int,
        *,
        column_size: int | None = None,
        tau: float | ArrayLike | None = None,
        g: float = 1.0,
        seed: int | None = None,
    ) -> LeakyRNN:
        """The next stage of a constructive network: this one with ``n_new`` units added.

        Javed, Shah, Sutton & White 2023 (seed 003, section 5, Fig. 1): a new feature receives
        the inputs and the earlier features' activity, and its incoming weights are the only
        recurrent parameters that learn; the earlier features are frozen and the readout keeps
        learning.  Here:

        * the new units receive every input and every existing unit, and each other within
          columns of ``column_size`` (default: the whole stage; 1 gives Javed et al.'s
          independent features, a stage of several columns their hybrid network); existing
          units receive nothing from the new ones (``W_rec``'s mask);
        * new weights: ``W_in`` ``U(-1, 1) / √n_in``, ``W_rec`` ``g · N(0, 1) / √(fan-in)``,
          ``b = 0``; the new units' readout ``W_out`` starts at 0 (as in the authors' code), so
          the network's output is unchanged;
        * ``plastic``: only the new rows of ``W_rec``, ``W_in`` and ``b`` (of those that were
          plastic), and the readout as it was, extended to the new units (all of ``W_out``
          and ``b_out`` by default), so exact RTRL carries only the newest stage's influence
          (:mod:`bioplastic.rules.influence`);
        * α: unchanged if scalar and ``tau`` is None; otherwise the new units take ``tau``.

        Randomness comes only from ``np.random.default_rng(seed)``; ``seed=None`` takes the
        current number of units, so that each stage of a growing network draws anew.
        """
        if not isinstance(n_new, (int, np.integer)) or isinstance(n_new, bool) or n_new < 1:
            raise ValueError(f"n_new must be an int >= 1; got {n_new!r}")
        c = n_new if column_size is None else column_size
        if not isinstance(c, (int, np.integer)) or isinstance(c, bool) or c < 1 or n_new % c:
            raise ValueError(f"column_size must be an int >= 1 that divides n_new; got {c!r}")
        if self._dale is not None:
            raise ValueError("grow does not keep Dale's law: build the network without dale")
        n, N, p = self._n_rec, self._n_rec + n_new, self._params
        rng = np.random.default_rng(n if seed is None else seed)
        stage = np.kron(np.eye(n_new // c, dtype=bool), np.ones((c, c), dtype=bool))
        old = self._connectivity.get("W_rec", np.ones((n, n), dtype=bool))
        mask = np.block([[old, np.zeros((n, n_new), bool)], [np.ones((n_new, n), bool), stage]])
        W_rec = np.zeros((N, N))
        W_rec[:n, :n] = p["W_rec"]
        W_rec[n:] = mask[n:] * g * rng.standard_normal((n_new, N)) / np.sqrt(n + c)
        W_in = np.vstack([p["W_in"], rng.uniform(-1, 1, (n_new, self._n_in))])
        W_in[n:] /= np.sqrt(max(self._n_in, 1))
        connectivity = {"W_rec": mask}
        if "W_in" in self._connectivity:
            connectivity["W_in"] = np.vstack(
                [self._connectivity["W_in"], np.ones((n_new, self._n_in), bool)]
            )
        if "W_out" in self._connectivity:
            connectivity["W_out"] = np.hstack(
                [self._connectivity["W_out"], np.ones((self._n_out, n_new), bool)]
            )
        rows = np.arange(N) >= n  # the new units: only their incoming parameters learn
        learn = {
            "W_rec": np.repeat(rows[:, None], N, axis=1),
            "W_in": np.repeat(rows[:, None], self._n_in, axis=1),
            "b": rows,
            "W_out": True,
            "b_out": self._plastic_masks.get("b_out", True),
        }
        if "W_out" in self._plastic_masks:  # a readout frozen in part stays so
            learn["W_out"] = np.hstack(
                [self._plastic_masks["W_out"], np.ones((self._n_out, n_new), bool)]
            )
        plastic = {k: v for k, v in learn.items() if k in self._plastic}
        if tau is None and isinstance(self._alpha, float):
            alpha = self._alpha
        else:
            if tau is None:
                raise ValueError("this network has one α per unit: give the new units' tau")
            new = resolve_alpha(tau, None, self._dt, n_new)[0]
            alpha = np.concatenate(
                [np.broadcast_to(self._alpha, (n,)), np.broadcast_to(new, (n_new,))]
            )
        return LeakyRNN(
            W_in,
            W_rec,
            np.hstack([p["W_out"], np.zeros((self._n_out, n_new))]),
            np.concatenate([p["b"], np.zeros(n_new)]),
            p["b_out"],
            alpha=alpha,
            dt=self._dt,
            activation=self._activation,
            form=self._form,
            connectivity=connectivity,
            plastic=plastic,
            dtype=self._dtype,
        )

    def with_params(self, params: Mapping[str, ArrayLike]) -> LeakyRNN:
        """A copy of this network with some parameters replaced (validated as in ``__init__``)."""
        new = replaced_params(self._params, params, self._dtype)
        return LeakyRNN(**new, **self._structure(), dtype=self._dtype)

    def _structure(self) -> dict:
        """The constructor's keyword arguments other than the parameters and the dtype."""
        return dict(
            alpha=self._alpha,
            dt=self._dt,
            activation=self._activation,
            form=self._form,
            connectivity=self._connectivity,
            dale=self._dale,
            plastic=plastic_spec(self._plastic, self._plastic_masks),
        )

    def evolve(self, params: Mapping[str, np.ndarray]) -> LeakyRNN:
        """A copy with some parameters replaced, for the training loop's own updates.

        Unlike :meth:`with_params` this skips validation: the caller passes finite arrays of
        the right shapes and dtype, already projected by :meth:`project`.
        """
        new = object.__new__(LeakyRNN)
        new.__dict__.update(self.__dict__)
        new._params = {**self._params, **{k: readonly(v) for k, v in params.items()}}
        return new

    def project(self, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """:meth:`constrain` without the checks, in place on the caller's fresh arrays."""
        return project(params, self._connectivity, self._dale)

    def astype(self, dtype: DTypeLike) -> LeakyRNN:
        """The same network computing in ``dtype`` (``np.float32`` or ``np.float64``)."""
        return LeakyRNN(**self._params, **self._structure(), dtype=dtype)

    def constrain(self, params: Mapping[str, ArrayLike]) -> dict[str, np.ndarray]:
        """Project ``params`` onto the network's constraints.

        Masked weights are set to 0, and recurrent weights whose sign breaks Dale's law are set
        to 0 (the projection used by Song et al. 2016 after each update).  Returns a new dict.
        """
        unknown = set(params) - set(PARAM_NAMES)
        if unknown:
            raise ValueError(
                f"unknown parameter name(s) {sorted(unknown)}; accepted: {list(PARAM_NAMES)}"
            )
        out = {}
        for k, v in params.items():
            out[k] = np.array(as_float_array(k, v, self._dtype))
            if out[k].shape != self._params[k].shape:
                raise ValueError(f"{k} must have shape {self._params[k].shape}; got {out[k].shape}")
        for k, m in self._connectivity.items():
            if k in out:
                out[k] = np.where(m, out[k], 0.0).astype(self._dtype)
        if self._dale is not None and "W_rec" in out:
            w = out["W_rec"]
            out["W_rec"] = np.where(w * self._dale >= 0, w, 0.0).astype(self._dtype)
        return out

    # ------------------------------------------------------------------ properties
    @property
    def params(self) -> dict[str, np.ndarray]:
        """``{"W_in", "W_rec", "b", "W_out", "b_out"}``: read-only arrays, ``W[post, pre]``."""
        return dict(self._params)

    n_in = property(lambda self: self._n_in, doc="Number of inputs.")
    n_rec = property(lambda self: self._n_rec, doc="Number of recurrent units.")
    n_out = property(lambda self: self._n_out, doc="Number of outputs.")
    dt = property(lambda self: self._dt, doc="Time step (same units as tau).")
    dtype = property(lambda self: self._dtype, doc="Floating-point type of all arrays.")
    form = property(lambda self: self._form, doc='"rate" or "current".')
    activation = property(lambda self: self._activation, doc="The activation f.")

    @property
    def alpha(self) -> float | np.ndarray:
        """α = dt/τ: a float, or a read-only ``(n_rec,)`` array in the network's dtype."""
        return self._alpha_c

    @property
    def tau(self) -> float | np.ndarray:
        """τ = dt/α."""
        return self._dt / self._alpha

    @property
    def connectivity(self) -> dict[str, np.ndarray]:
        """``{name: bool mask}`` for the masked weights (empty when fully connected)."""
        return dict(self._connectivity)

    @property
    def dale(self) -> np.ndarray | None:
        """Sign (+1/-1) of each recurrent unit's outgoing weights, or ``None``."""
        return self._dale

    @property
    def plastic(self) -> frozenset[str]:
        """Names of the parameters that learn (some of their entries, where masked)."""
        return self._plastic

    @property
    def plastic_masks(self) -> dict[str, np.ndarray]:
        """``{name: bool mask}`` of the entries that learn, for parameters of which only some
        do (empty when every plastic parameter learns whole)."""
        return dict(self._plastic_masks)

    def __repr__(self) -> str:
        a = self._alpha
        alpha = f"{a:g}" if isinstance(a, float) else f"per-unit [{a.min():g}, {a.max():g}]"
        extras = []
        if self._connectivity:
            extras.append(f"connectivity={sorted(self._connectivity)}")
        if self._dale is not None:
            extras.append(
                f"dale: {int((self._dale > 0).sum())} E / {int((self._dale < 0).sum())} I"
            )
        if self._plastic != frozenset(PARAM_NAMES):
            extras.append(f"plastic={sorted(self._plastic)}")
        if self._plastic_masks:
            extras.append(f"plastic in part: {sorted(self._plastic_masks)}")
        return (
            f"LeakyRNN(n_in={self._n_in}, n_rec={self._n_rec}, n_out={self._n_out}, "
            f"alpha={alpha}, activation={self._activation.name!r}, form={self._form!r}, "
            f"dtype={np.dtype(self._dtype).name}" + "".join(", " + e for e in extras) + ")"
        )

    # ------------------------------------------------------------------ simulation
    def rate(self, states: np.ndarray) -> np.ndarray:
        """The rates a unit sends on: ``h`` itself (rate form) or ``f(v)`` (current form)."""
        states = np.asarray(states, dtype=self._dtype)
        return states.copy() if self._form == "rate" else self._activation(states)

    def step(self, state: np.ndarray, x_t: np.ndarray) -> StepOut:
        """Advance validated ``state`` ``(trial, unit)`` by one step with input ``x_t``.

        For online learning, where the weights may change between steps.  Returns the new state
        and what a learning rule needs of this step (see :class:`StepOut`).  Equal to
        :meth:`forward` step by step (tested).
        """
        p, a, act = self._params, self._alpha_c, self._activation
        if self._form == "rate":
            r_prev = state
            fu = act.forward(state @ p["W_rec"].T + x_t @ p["W_in"].T + p["b"], None)
            new = state + a * (fu - state)
            gain = act.slope_from_value(fu, fu)
            gain *= a
            return StepOut(new, new, r_prev, gain, None, None)
        r_prev = act.forward(state, None)
        new = state + a * (r_prev @ p["W_rec"].T + x_t @ p["W_in"].T + p["b"] - state)
        r = act.forward(new, None)
        gain = np.broadcast_to(np.asarray(a, dtype=self._dtype), new.shape)
        return StepOut(
            new, r, r_prev, gain, act.slope_from_value(r_prev, None), act.slope_from_value(r, None)
        )

    def run(self, x: ArrayLike, h0: ArrayLike | None = None) -> Trajectory:
        """Simulate trials.

        Parameters
        ----------
        x:
            Inputs ``(trial, time, input)``.
        h0:
            Initial state ``(trial, unit)``, or ``(unit,)`` shared by all trials; zeros if None.

        Returns
        -------
        Trajectory
            ``states (trial, time, unit)`` and ``outputs (trial, time, output)``, t = 1..T.
        """
        trace = self.forward(self.check_inputs(x), self.check_h0(h0, np.shape(x)[0]), scratch=True)
        # always copies: the trace lives in scratch memory that the next call reuses
        return Trajectory(
            trace.states[1:].transpose(1, 0, 2).copy(),
            trace.outputs.transpose(1, 0, 2).copy(),
        )

    def check_inputs(self, x: ArrayLike) -> np.ndarray:
        """Validate ``x`` ``(trial, time, input)``; return it in this network's dtype."""
        x = as_float_array("x", x, self._dtype, allow_bool=True)
        check_shape("x", x, [("trial", None), ("time", None), ("input", self._n_in)])
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(
                f"x must have at least one trial and one time step; got shape {x.shape}"
            )
        check_finite("x", x)
        return x

    def check_h0(self, h0: ArrayLike | None, n_trials: int) -> np.ndarray:
        """Validate ``h0``; return it as ``(trial, unit)``."""
        if h0 is None:
            return np.zeros((n_trials, self._n_rec), dtype=self._dtype)
        h0 = as_float_array("h0", h0, self._dtype)
        if h0.ndim == 1:
            check_shape("h0", h0, [("unit", self._n_rec)])
            h0 = np.broadcast_to(h0, (n_trials, self._n_rec))
        check_shape("h0", h0, [("trial", n_trials), ("unit", self._n_rec)])
        check_finite("h0", h0)
        return np.array(h0)

    def forward(
        self,
        x: np.ndarray,
        h0: np.ndarray,
        *,
        derivatives: bool = False,
        scratch: bool = False,
        noise: np.ndarray | None = None,
    ) -> Trace:
        """Simulate already-validated ``x (trial, time, input)`` from ``h0 (trial, unit)``.

        One matmul per time step; everything that does not depend on the previous state (the
        input drive, the readout, the derivatives when ``derivatives=True``) is computed for
        all time steps at once.  With ``scratch=True`` the large arrays of the trace live in
        reusable per-thread memory (:mod:`bioplastic._scratch`): only for a caller that lets
        no part of the trace escape.

        ``noise`` ``(trial, time, unit)``: an exploratory perturbation ξ_t added to each unit's
        input current, ``u_t = W_rec ρ(s_{t-1}) + W_in x_t + b + ξ_t``, in both forms (the
        reward-based rules of :mod:`bioplastic.rules.reward`).
        """
        if noise is not None:
            noise = as_float_array("noise", noise, self._dtype)
            dims = [("trial", x.shape[0]), ("time", x.shape[1]), ("unit", self._n_rec)]
            check_shape("noise", noise, dims)
            check_finite("noise", noise)
            noise = kernels.time_major(noise)
        alloc = _scratch.empty if scratch else (lambda role, shape, dtype: np.empty(shape, dtype))
        with np.errstate(over="ignore", invalid="ignore"), blas_threads_for(self._n_rec):
            return self._forward(x, h0, derivatives, alloc, noise)

    def _compiled_loops(self):
        """The compiled time loops and this network's activation code, or ``(None, None)``
        where they do not apply (kernels off, or an activation they do not know)."""
        loops = kernels.recurrence_loops()
        if loops is None or ACTIVATIONS.get(self._activation.name) is not self._activation:
            return None, None
        return loops, loops.ACTIVATION_CODES[self._activation.name]

    def _forward(self, x, h0, derivatives, alloc, noise=None) -> Trace:
        p, a, f = self._params, self._alpha_c, self._activation.forward
        B, T, _ = x.shape
        n, dtype = self._n_rec, self._dtype
        lk = 1.0 - a  # the leak
        xs = kernels.time_major(x)  # (T, B, n_in)
        S = alloc("states", (T + 1, B, n), dtype)
        S[0] = h0
        buf = np.empty((B, n), dtype=dtype)
        loops, code = self._compiled_loops()
        if noise is not None and self._form == "rate":
            loops = None  # the compiled rate loop forms the input drive itself
        if loops is not None:
            per_unit = (np.full(n, a, dtype), np.full(n, lk, dtype))  # α, 1-α: (n,) each
        if self._form == "rate":
            # F[t]: the input drive, then u_t, then f(u_t) or the gain (compiled: all in the loop)
            F = alloc("drive", (T, B, n), dtype)
            W_rec_T = p["W_rec"].T
            if loops is not None:  # F leaves holding f(u_t), or the gain α f'(u_t)
                W_in_T, W_rec_T = (np.ascontiguousarray(p[k].T, dtype) for k in ("W_in", "W_rec"))
                args = (xs, W_in_T, F, S, W_rec_T, p["b"], *per_unit, code, derivatives)
                over_ranges(loops.rate_loop, args, split_ranges(B, 2.0 * T * B * n * n))
            else:
                np.matmul(xs.reshape(T * B, -1), p["W_in"].T, out=F.reshape(T * B, n))
                F += p["b"]
                if noise is not None:
                    F += noise
                for t in range(T):
                    u = F[t]
                    u += np.matmul(S[t], W_rec_T, out=buf)
                    f(u, u)
                    s = np.multiply(u, a, out=S[t + 1])
                    s += np.multiply(S[t], lk, out=buf)
            R = S
        else:
            # α is folded into the weights: S[t+1] first holds α (W_in x_t + b)
            a_post = np.reshape(a, (-1, 1))
            np.matmul(xs.reshape(T * B, -1), (p["W_in"] * a_post).T, out=S[1:].reshape(T * B, n))
            S[1:] += np.multiply(p["b"], a, dtype=dtype)
            if noise is not None:
                S[1:] += noise * np.asarray(a, dtype=dtype)
            aW_rec_T = (p["W_rec"] * a_post).T
            R = alloc("rates", (T + 1, B, n), dtype)  # r_t = f(v_t)
            f(S[0], R[0])
            if loops is not None:
                args = (S, R, np.ascontiguousarray(aW_rec_T, dtype), per_unit[1], code)
                over_ranges(loops.current_loop, args, split_ranges(B, 2.0 * T * B * n * n))
            else:
                for t in range(T):
                    v = S[t + 1]
                    v += np.matmul(R[t], aW_rec_T, out=buf)
                    v += np.multiply(S[t], lk, out=buf)
                    f(v, R[t + 1])
        Y = (R[1:].reshape(T * B, n) @ p["W_out"].T).reshape(T, B, self._n_out)
        Y += p["b_out"]
        if not np.isfinite(Y).all():
            _raise_overflow(S, R)
        gain = slope = None
        if derivatives:
            df = self._activation.slope_from_value
            if self._form == "rate":
                if loops is None:
                    gain = df(F, F)  # F is not needed any more: overwrite it
                    gain *= a
                else:
                    gain = F
            else:
                gain = np.broadcast_to(np.asarray(a, dtype=dtype), (T, B, n))
                slope = df(R, alloc("slope", (T + 1, B, n), dtype))
        return Trace(xs, S, R, Y, gain, slope)


def _raise_overflow(S: np.ndarray, R: np.ndarray) -> None:

    bad = ~(np.isfinite(S).all(axis=(1, 2)) & np.isfinite(R).all(axis=(1, 2)))
    where = f"first at time step {int(np.argmax(bad))}" if bad.any() else "in the readout"
    raise NonFiniteError(
        f"the simulation overflowed to inf/NaN ({where}) although inputs and weights are "
        "finite: the dynamics are unstable (for relu/linear units, W_rec's spectral radius is "
        "too large) or the weights are too large; scale them down"
    )
