r"""The network as a map, for analysis: one step ``F`` at a fixed input, and its Jacobian.

With the input held at ``x`` (Sussillo & Barak 2013, Neural Computation 25:626, eq. 1 in
discrete time), both forms of :class:`~bioplastic.LeakyRNN` are a map of the state ``s``:

* rate form:    ``F(h) = (1-α) h + α f(W_rec h + W_in x + b)``,
  ``∂F/∂h = (1-α) I + α diag(f'(u)) W_rec``;
* current form: ``F(v) = (1-α) v + α (W_rec f(v) + W_in x + b)``,
  ``∂F/∂v = (1-α) I + α W_rec diag(f'(v))``.

Everything here is batched over states: ``s`` is ``(point, unit)``, and ``x`` one input
``(n_in,)`` for all, or one per point ``(point, n_in)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..network import LeakyRNN

__all__ = ["held_input", "step_map", "jacobian", "residual_and_gradient"]


def held_input(net: LeakyRNN, x: ArrayLike | None) -> np.ndarray:
    """The input held constant, ``(n_in,)``; zero if ``x`` is None."""
    if x is None:
        return np.zeros(net.n_in)
    x = np.asarray(x, dtype=float)
    if x.shape != (net.n_in,):
        raise ValueError(
            f"the held input must have shape (n_in,) = ({net.n_in},); got {x.shape}: give one "
            "value per input channel"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("the held input has NaN or inf entries")
    return x


def _alpha(net: LeakyRNN) -> np.ndarray:
    return np.broadcast_to(np.asarray(net.alpha, float), (net.n_rec,))


def _drive(net: LeakyRNN, x: np.ndarray) -> np.ndarray:
    """``W_in x + b`` for one input ``(n_in,)`` or one per point ``(point, n_in)``."""
    p = net.params
    return np.asarray(x, dtype=float) @ p["W_in"].T + p["b"]


def step_map(net: LeakyRNN, s: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``F(s)`` for states ``s`` ``(point, unit)`` at the held input ``x``."""
    a, W, f = _alpha(net), net.params["W_rec"], net.activation
    if net.form == "rate":
        return (1 - a) * s + a * f(s @ W.T + _drive(net, x))
    return (1 - a) * s + a * (f(s) @ W.T + _drive(net, x))


def jacobian(net: LeakyRNN, s: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``∂F/∂s`` at each state, ``(point, unit, unit)``."""
    a, W, f = _alpha(net), net.params["W_rec"], net.activation
    n = net.n_rec
    if net.form == "rate":
        slope = f.derivative(s @ W.T + _drive(net, x))  # (point, unit)
        J = (a * slope)[:, :, None] * W[None]
    else:
        slope = f.derivative(s)
        J = a[None, :, None] * W[None] * slope[:, None, :]
    J += np.diag(1 - a)[None]
    return J.reshape(s.shape[0], n, n)


def residual_and_gradient(
    net: LeakyRNN, s: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``r = F(s) - s``, ``q = ½‖r‖²`` per point and ``∇q = (∂F/∂s - I)ᵀ r``, batched:
    one matmul of the points with ``W_rec``, no Jacobian built."""
    a, W, f = _alpha(net), net.params["W_rec"], net.activation
    if net.form == "rate":
        u = s @ W.T + _drive(net, x)
        fu = f(u)
        r = a * (fu - s)
        grad = ((f.slope_from_value(fu, None) * a * r) @ W) - a * r
    else:
        fs = f(s)
        r = a * (fs @ W.T + _drive(net, x) - s)
        grad = f.slope_from_value(fs, None) * ((a * r) @ W) - a * r
    return r, 0.5 * np.sum(r * r, axis=1), grad
