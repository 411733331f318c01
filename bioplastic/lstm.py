r"""LSTM units, and the LSTM column of Javed et al. 2023.

Each unit ``i`` has a hidden state ``h_i`` and a cell ``c_i``, and four gate currents
``u_q = W_in[q] x_t + W_rec[q] h_{t-1} + b[q]`` for q = i, f, o, g (Javed, Shah, Sutton & White
2023, seed 003, Appendix C, eqs. 8-13; Hochreiter & Schmidhuber 1997 with the forget gate of
Gers et al. 2000)::

    i_t = σ(u_i),  f_t = σ(u_f),  o_t = σ(u_o),  g_t = tanh(u_g)
    c_t = f_t c_{t-1} + i_t g_t
    h_t = o_t tanh(c_t)
    y_t = W_out h_t + b_out

Parameters carry a leading gate axis, in the order (i, f, o, g): ``W_in (4, unit, input)``,
``W_rec (4, unit, unit)``, ``b (4, unit)``; the readout ``W_out (output, unit)``, ``b_out``.

A **column** (the paper's Fig. 1) is one unit whose recurrent weights ``u_q`` connect it only
to itself: :meth:`LSTM.columnar` masks ``W_rec`` to its diagonal.  Its parameters then move
only its own ``(h, c)``, and the forward-mode traces of Appendix C (``TH = ∂h/∂θ``,
``TC = ∂c/∂θ``, kept per unit) are the exact RTRL influence: :mod:`bioplastic.rules.gated`.
:meth:`LSTM.grow` adds a constructive stage (section 5).

The LSTM is the package's second model family; the rules that are written against the gated
unit interface (:mod:`bioplastic.model`) run on it and on :class:`~bioplastic.LeakyRNN` alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ._validate import as_float_array, check_shape, float_array
from .errors import NonFiniteError
from .network import LeakyRNN, Trajectory
from .structure import (
    check_dtype,
    check_plastic,
    check_plastic_masks,
    plastic_spec,
    project,
    readonly,
    replaced_params,
)

__all__ = ["LSTM", "LSTMTrace", "GATES"]

GATES: tuple[str, ...] = ("i", "f", "o", "g")


@dataclass(frozen=True)
class LSTMTrace:
    """A forward pass kept for gradients.  Time-major; index 0 of ``h``/``c`` is t = 0."""

    inputs: np.ndarray  # (T, B, m)      x_t, t = 1..T
    h: np.ndarray  # (T+1, B, n)         h_t
    c: np.ndarray  # (T+1, B, n)         c_t
    gates: np.ndarray  # (T, B, 4, n)    i_t, f_t, o_t, g_t
    outputs: np.ndarray  # (T, B, k)     y_t


def _sigmoid(u: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * u))  # = 1/(1+e^-u), without overflow warnings


class LSTM:
    """A layer of LSTM units with a linear readout (equations in the module docstring).

    Parameters
    ----------
    W_in, W_rec, b:
        Gate weights ``(4, unit, input)``, ``(4, unit, unit)`` and biases ``(4, unit)``, gates
        in the order (i, f, o, g).  ``input`` may be 0.
    W_out, b_out:
        Readout ``(output, unit)`` and ``(output,)`` (zeros when None).
    connectivity:
        Optional ``{"W_rec": mask (unit, unit)}``, shared by the four gates; masked weights
        must be 0 and stay 0.  A diagonal mask makes every unit a column.
    plastic:
        Names of the parameters that learn (default all), or ``{name: True or 0/1 mask of the
        parameter's shape}``.
    dtype:
        ``np.float64`` (default) or ``np.float32``.
    """

    def __init__(
        self,
        W_in: ArrayLike,
        W_rec: ArrayLike,
        W_out: ArrayLike,
        b: ArrayLike | None = None,
        b_out: ArrayLike | None = None,
        *,
        connectivity: Mapping[str, ArrayLike] | None = None,
        plastic: Iterable[str] | Mapping[str, ArrayLike | bool] | None = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        self._dtype = dt = check_dtype(dtype)
        W_rec = as_float_array("W_rec", W_rec, dt)
        if W_rec.ndim != 3 or W_rec.shape[0] != 4 or W_rec.shape[1] != W_rec.shape[2]:
            raise ValueError(
                f"W_rec must be (gate, unit, unit) = (4, n, n) with gates (i, f, o, g); "
                f"got shape {W_rec.shape}"
            )
        n = W_rec.shape[1]
        W_in = as_float_array("W_in", W_in, dt)
        if W_in.ndim != 3:
            raise ValueError(f"W_in must be (gate, unit, input) = (4, {n}, *); got {W_in.shape}")
        W_out = as_float_array("W_out", W_out, dt)
        if W_out.ndim != 2 or W_out.shape[0] == 0:
            raise ValueError(f"W_out must be (output, unit) = (k >= 1, {n}); got {W_out.shape}")
        m, k = W_in.shape[2], W_out.shape[0]
        p = {
            "W_in": float_array("W_in", W_in, [("gate", 4), ("unit", n), ("input", m)], dt),
            "W_rec": float_array("W_rec", W_rec, [("gate", 4), ("unit", n), ("unit", n)], dt),
            "b": float_array(
                "b", np.zeros((4, n)) if b is None else b, [("gate", 4), ("unit", n)], dt
            ),
            "W_out": float_array("W_out", W_out, [("output", k), ("unit", n)], dt),
            "b_out": float_array(
                "b_out", np.zeros(k) if b_out is None else b_out, [("output", k)], dt
            ),
        }
        self._params = {key: readonly(v.copy()) for key, v in p.items()}
        self._n_rec, self._n_in, self._n_out = n, m, k
        self._connectivity = _check_mask(connectivity, p["W_rec"])
        if isinstance(plastic, Mapping):
            self._plastic, self._plastic_masks = check_plastic_masks(plastic, self._params)
        else:
            self._plastic, self._plastic_masks = check_plastic(plastic), {}

    # ------------------------------------------------------------------ constructors
    @classmethod
    def columnar(
        cls,
        n_in: int,
        n_columns: int,
        n_out: int,
        *,
        scale: float = 0.1,
        seed: int = 0,
        dtype: DTypeLike = np.float64,
    ) -> LSTM:
        """``n_columns`` LSTM columns of one unit each (Javed et al. 2023, Appendix C).

        Gate weights, self-recurrent weights and biases ``U(−scale, scale)``; the readout
        starts at 0.  ``scale = 0.1`` is the range of the authors' code
        (github.com/khurramjaved96/constructive_rnn; ours where it is silent: the biases).
        """
        return cls._drawn(n_in, n_columns, n_out, np.eye(n_columns, dtype=bool), scale, seed, dtype)

    @classmethod
    def dense(
        cls,
        n_in: int,
        n_units: int,
        n_out: int,
        *,
        scale: float = 0.1,
        seed: int = 0,
        dtype: DTypeLike = np.float64,
    ) -> LSTM:
        """A fully connected LSTM layer (the paper's T-BPTT and diagonal-Jacobian networks),
        drawn as :meth:`columnar`."""
        return cls._drawn(n_in, n_units, n_out, None, scale, seed, dtype)

    @classmethod
    def _drawn(cls, n_in, n, n_out, mask, scale, seed, dtype) -> LSTM:
        for name, v in (("n_in", n_in), ("n_units", n), ("n_out", n_out)):
            if (
                not isinstance(v, (int, np.integer))
                or isinstance(v, bool)
                or v < (name == "n_units" or name == "n_out")
            ):
                raise ValueError(
                    f"{name} must be a non-negative int (units, columns and outputs >= 1); "
                    f"got {v!r}"
                )
        rng = np.random.default_rng(seed)
        W_in = rng.uniform(-scale, scale, (4, n, n_in))
        W_rec = rng.uniform(-scale, scale, (4, n, n))
        b = rng.uniform(-scale, scale, (4, n))
        conn = None
        if mask is not None:
            W_rec = W_rec * mask
            conn = {"W_rec": mask}
        return cls(W_in, W_rec, np.zeros((n_out, n)), b, connectivity=conn, dtype=dtype)

    def grow(self, n_new: int, *, scale: float = 0.1, seed: int | None = None) -> LSTM:
        """The next constructive stage: ``n_new`` columns that hear the inputs and every
        existing unit's ``h_{t-1}``, each recurrent to itself only, readout 0.

        Javed et al. 2023 (section 5, Fig. 1): only the new stage's incoming weights learn (the
        earlier units are frozen); the readout learns as it did (the new units' entries too).
        No existing unit hears a new one, so the new parameters move only their own unit and
        the per-unit traces stay exact.
        ``seed`` defaults to the current size.
        """
        if not isinstance(n_new, (int, np.integer)) or isinstance(n_new, bool) or n_new < 1:
            raise ValueError(f"n_new must be an int >= 1; got {n_new!r}")
        n, N = self._n_rec, self._n_rec + n_new
        rng = np.random.default_rng(n if seed is None else seed)
        p = self._params
        W_in = np.concatenate([p["W_in"], rng.uniform(-scale, scale, (4, n_new, self._n_in))], 1)
        b = np.concatenate([p["b"], rng.uniform(-scale, scale, (4, n_new))], 1)
        mask = np.zeros((N, N), dtype=bool)
        mask[:n, :n] = self._connectivity.get("W_rec", np.ones((n, n), dtype=bool))
        mask[n:, :n] = True
        mask[n:, n:] = np.eye(n_new, dtype=bool)
        W_rec = np.zeros((4, N, N))
        W_rec[:, :n, :n] = p["W_rec"]
        W_rec[:, n:] = rng.uniform(-scale, scale, (4, n_new, N)) * mask[n:]
        W_out = np.concatenate([p["W_out"], np.zeros((self._n_out, n_new))], 1)
        rows = np.zeros((4, N), dtype=bool)
        rows[:, n:] = True
        plastic = {
            "W_in": np.repeat(rows[:, :, None], self._n_in, 2),
            "W_rec": np.repeat(rows[:, :, None], N, 2) & mask,
            "b": rows,
            "W_out": "W_out" in self._plastic,  # the readout learns as it did
            "b_out": self._plastic_masks.get("b_out", "b_out" in self._plastic),
        }
        if "W_out" in self._plastic_masks:  # a partly frozen readout: the new units' learn
            new = np.ones((self._n_out, n_new), dtype=bool)
            plastic["W_out"] = np.concatenate([self._plastic_masks["W_out"], new], 1)
        return LSTM(
            W_in,
            W_rec,
            W_out,
            b,
            p["b_out"],
            connectivity={"W_rec": mask},
            plastic=plastic,
            dtype=self._dtype,
        )

    def with_params(self, params: Mapping[str, ArrayLike]) -> LSTM:
        """A copy with some parameters replaced (validated as in ``__init__``)."""
        return LSTM(
            **replaced_params(self._params, params, self._dtype),
            connectivity=self._connectivity,
            plastic=plastic_spec(self._plastic, self._plastic_masks),
            dtype=self._dtype,
        )

    def evolve(self, params: Mapping[str, np.ndarray]) -> LSTM:
        """A copy with some parameters replaced, unvalidated (the learners' own updates)."""
        new = object.__new__(LSTM)
        new.__dict__.update(self.__dict__)
        new._params = {**self._params, **{k: readonly(v) for k, v in params.items()}}
        return new

    def project(self, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Masked recurrent weights to 0, in place on the caller's fresh arrays."""
        if "W_rec" in self._connectivity and "W_rec" in params:
            params["W_rec"][:, ~self._connectivity["W_rec"]] = 0.0
        return project(params, {}, None)

    # ------------------------------------------------------------------ properties
    @property
    def params(self) -> dict[str, np.ndarray]:
        """``{"W_in", "W_rec", "b", "W_out", "b_out"}``: read-only arrays (gate axis first)."""
        return dict(self._params)

    n_in = property(lambda self: self._n_in, doc="Number of inputs.")
    n_rec = property(lambda self: self._n_rec, doc="Number of LSTM units.")
    n_out = property(lambda self: self._n_out, doc="Number of outputs.")
    dtype = property(lambda self: self._dtype, doc="Floating-point type of all arrays.")
    plastic = property(lambda self: self._plastic, doc="Names of the parameters that learn.")

    @property
    def connectivity(self) -> dict[str, np.ndarray]:
        """``{"W_rec": mask (unit, unit)}`` shared by the four gates, or ``{}``."""
        return dict(self._connectivity)

    @property
    def plastic_masks(self) -> dict[str, np.ndarray]:
        """``{name: bool mask}`` for the parameters of which only some entries learn."""
        return dict(self._plastic_masks)

    def __repr__(self) -> str:
        kind = "columnar " if self.is_columnar else ""
        return f"LSTM({kind}{self._n_in} in, {self._n_rec} units, {self._n_out} out)"

    @property
    def is_columnar(self) -> bool:
        """Every unit's recurrent weights reach only itself (a diagonal ``W_rec`` mask)."""
        m = self._connectivity.get("W_rec")
        return m is not None and not (m & ~np.eye(self._n_rec, dtype=bool)).any()

    # ------------------------------------------------------------------ simulation
    check_inputs = LeakyRNN.check_inputs  # the same checks: (trial, time, input), finite
    check_h0 = LeakyRNN.check_h0  # (trial, unit) or (unit,), finite

    def run(self, x: ArrayLike, h0: ArrayLike | None = None) -> Trajectory:
        """Simulate ``x (trial, time, input)`` from ``h0`` (and ``c0 = 0``).

        ``states`` are ``h_t`` ``(trial, time, unit)``, ``outputs`` ``y_t``.
        """
        x = self.check_inputs(x)
        tr = self.forward(x, self.check_h0(h0, x.shape[0]))
        return Trajectory(tr.h[1:].transpose(1, 0, 2).copy(), tr.outputs.transpose(1, 0, 2).copy())

    def forward(self, x: np.ndarray, h0: np.ndarray, c0: np.ndarray | None = None) -> LSTMTrace:
        """The forward pass kept for gradients, from validated ``x (trial, time, input)`` and
        ``h0``, ``c0`` ``(trial, unit)`` (``c0 = 0`` if None).

        Raises :class:`~bioplastic.NonFiniteError` if a state overflows.
        """
        B, T, _ = x.shape
        n, p = self._n_rec, self._params
        xs = np.ascontiguousarray(x.transpose(1, 0, 2))
        h = np.empty((T + 1, B, n), dtype=self._dtype)
        c = np.empty_like(h)
        h[0] = h0
        c[0] = 0.0 if c0 is None else c0
        gates = np.empty((T, B, 4, n), dtype=self._dtype)
        Wx = p["W_in"].reshape(4 * n, self._n_in).T
        Wh = p["W_rec"].reshape(4 * n, n).T
        drive = (xs.reshape(T * B, -1) @ Wx).reshape(T, B, 4, n) + p["b"]
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(T):
                u = drive[t] + (h[t] @ Wh).reshape(B, 4, n)
                gt = gates[t]
                gt[:, :3] = _sigmoid(u[:, :3])
                np.tanh(u[:, 3], out=gt[:, 3])
                c[t + 1] = gt[:, 1] * c[t] + gt[:, 0] * gt[:, 3]
                h[t + 1] = gt[:, 2] * np.tanh(c[t + 1])
        if not (np.isfinite(c[-1]).all() and np.isfinite(h).all()):
            raise NonFiniteError("the LSTM's state overflowed to inf/NaN; rescale the weights")
        y = (h[1:].reshape(T * B, n) @ p["W_out"].T).reshape(T, B, -1) + p["b_out"]
        return LSTMTrace(xs, h, c, gates, y)


def _check_mask(connectivity, W_rec: np.ndarray) -> dict[str, np.ndarray]:
    if connectivity is None:
        return {}
    if not isinstance(connectivity, Mapping) or set(connectivity) - {"W_rec"}:
        raise ValueError(
            f"an LSTM's connectivity is {{'W_rec': mask (unit, unit)}}; got {connectivity!r}"
        )
    if "W_rec" not in connectivity:
        return {}
    m = as_float_array("connectivity['W_rec']", connectivity["W_rec"], np.float64, allow_bool=True)
    n = W_rec.shape[1]
    check_shape("connectivity['W_rec']", m, [("post", n), ("pre", n)])
    if not np.isin(m, (0.0, 1.0)).all():
        raise ValueError("connectivity['W_rec'] must hold only 0 and 1")
    mask = m.astype(bool)
    leak = int(np.count_nonzero(W_rec[:, ~mask]))
    if leak:
        raise ValueError(
            f"W_rec has {leak} nonzero weight(s) where connectivity['W_rec'] is 0; "
            "multiply each gate's W_rec by the mask before building the LSTM"
        )
    return {"W_rec": readonly(mask)}
