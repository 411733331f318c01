r"""The gated-unit model interface: what the model-agnostic rules need of a recurrent network.

A layer of n units; unit i has a state ``s_t[i] ∈ R^d`` and q gate currents

    u_t[q] = W_in[q] x_t + W_rec[q] ρ(s_{t-1}) + b[q]           (q = 1..Q)
    s_t[i] = F(s_{t-1}[i], u_t[:, i])                           (a unit's own state and gates)
    y_t    = W_out ρ(s_t) + b_out

so the whole network talks only through the rates ``ρ(s)``.  The chain rule then needs, per
step and unit, four local factors (:class:`Local`):

* ``gate  = ∂s_t[i]/∂u_t[q, i]``           ``(T, B, n, Q, d)``
* ``hold  = ∂s_t[i]/∂s_{t-1}[i]`` with the gate currents held fixed ``(T, B, n, d, d)``
* ``slope = ∂ρ(s_t)[i]/∂s_t[i]``           ``(T+1, B, n, d)``
* the presynaptic vector ``â_t = [x_t, ρ(s_{t-1}), 1]`` that every gate of every unit sees,

from which :mod:`bioplastic.rules.gated` writes BPTT, truncated BPTT and the per-unit
(diagonal) forward-mode traces once.  The two families:

* :class:`~bioplastic.LeakyRNN`: d = 1, Q = 1, ``F = (1-α) s + α φ(u)`` (``φ = f``, ``ρ = id``
  in the rate form; ``φ = id``, ``ρ = f`` in the current form), so ``gate = α φ'(u)``,
  ``hold = 1 - α``, ``slope = ρ'(s)``;
* :class:`~bioplastic.LSTM`: d = 2 (h, c), Q = 4 (i, f, o, g), ``ρ(h, c) = h`` (Javed et al.
  2023, Appendix C; :mod:`bioplastic.lstm`).

Parameters are seen with a leading gate axis (``W_in (Q, n, m)``, ``W_rec (Q, n, n)``,
``b (Q, n)``): the LSTM's own layout, and the leaky RNN's with Q = 1 (:func:`gated_params`,
:func:`model_layout`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .lstm import LSTM
from .network import LeakyRNN

__all__ = ["Local", "local", "gated_params", "model_layout", "Model"]

Model = LeakyRNN | LSTM


class Local(NamedTuple):
    """A forward pass as the gated-unit rules see it.  Time-major; ``rates[0]`` is t = 0."""

    inputs: np.ndarray  # (T, B, m)        x_t
    rates: np.ndarray  # (T+1, B, n)       ρ(s_t)
    slope: np.ndarray  # (T+1, B, n, d)    ∂ρ(s_t)[i]/∂s_t[i]
    gate: np.ndarray  # (T, B, n, Q, d)    ∂s_t[i]/∂u_t[q, i]
    hold: np.ndarray  # (T, B, n, d, d)    ∂s_t[i]/∂s_{t-1}[i] at fixed u_t
    outputs: np.ndarray  # (T, B, k)       y_t
    states: np.ndarray  # (T+1, B, n, d)   s_t (the LSTM's (h, c); the leaky RNN's h or v)


def local(model: Model, x: np.ndarray, h0: np.ndarray, c0: np.ndarray | None = None) -> Local:
    """Simulate validated ``x (trial, time, input)`` from ``h0 (trial, unit)`` (and an LSTM's
    cells ``c0``, 0 if None) and return the local factors of every step."""
    if isinstance(model, LSTM):
        return _lstm_local(model, x, h0, c0)
    if isinstance(model, LeakyRNN):
        return _leaky_local(model, x, h0)
    raise TypeError(f"model must be a bioplastic.LeakyRNN or LSTM; got {type(model).__name__}")


def gated_params(model: Model) -> dict[str, np.ndarray]:
    """The parameters with a leading gate axis (the leaky RNN's get one of size 1)."""
    p = model.params
    if isinstance(model, LeakyRNN):
        for k in ("W_in", "W_rec", "b"):
            p[k] = p[k][None]
    return p


def model_layout(model: Model, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Gradients in gate layout back in the model's own (drops the leaky RNN's gate axis)."""
    if isinstance(model, LeakyRNN):
        return {k: (g[0] if k in ("W_in", "W_rec", "b") else g) for k, g in grads.items()}
    return grads


def _leaky_local(net: LeakyRNN, x: np.ndarray, h0: np.ndarray) -> Local:
    tr = net.forward(x, h0, derivatives=True)
    T, B, n = tr.gain.shape
    slope = np.ones((T + 1, B, n, 1)) if tr.slope is None else tr.slope[..., None]
    hold = np.broadcast_to(
        np.asarray(1.0 - net.alpha, dtype=net.dtype)[..., None, None], (T, B, n, 1, 1)
    )
    gate = tr.gain[..., None, None]
    return Local(
        tr.inputs, tr.rates, slope.astype(net.dtype), gate, hold, tr.outputs, tr.states[..., None]
    )


def _lstm_local(net: LSTM, x: np.ndarray, h0: np.ndarray, c0: np.ndarray | None) -> Local:
    """The LSTM's factors (Javed et al. 2023, Appendix C, the terms of TH and TC)."""
    tr = net.forward(x, h0, c0)
    i, f, o, g = (tr.gates[:, :, q] for q in range(4))  # (T, B, n)
    c_prev, c = tr.c[:-1], tr.c[1:]
    th = np.tanh(c)
    d_tanh = o * (1.0 - th**2)  # ∂h_t/∂c_t
    T, B, n = i.shape
    gate = np.zeros((T, B, n, 4, 2), dtype=net.dtype)
    dc = gate[..., 1]  # ∂c_t/∂u_q
    dc[..., 0] = g * i * (1.0 - i)
    dc[..., 1] = c_prev * f * (1.0 - f)
    dc[..., 3] = i * (1.0 - g**2)
    gate[..., 0] = d_tanh[..., None] * dc  # ∂h_t/∂u_q through c_t ...
    gate[..., 2, 0] = th * o * (1.0 - o)  # ... and the output gate's own term
    hold = np.zeros((T, B, n, 2, 2), dtype=net.dtype)
    hold[..., 0, 1] = d_tanh * f  # ∂h_t/∂c_{t-1}
    hold[..., 1, 1] = f  # ∂c_t/∂c_{t-1}
    slope = np.zeros((T + 1, B, n, 2), dtype=net.dtype)
    slope[..., 0] = 1.0  # ρ(h, c) = h
    return Local(tr.inputs, tr.h, slope, gate, hold, tr.outputs, np.stack([tr.h, tr.c], -1))
