r"""The continuous-time network, solved by SciPy: the reference for discretisation errors.

The ODE (τ and t in the units of ``net.dt``; module docstring of
:mod:`bioplastic.brian.network`)::

    rate form:     τ dh/dt = -h + f(W_rec h + W_in x(t) + b)
    current form:  τ dv/dt = -v + W_rec f(v) + W_in x(t) + b

with ``x(t) = x_k`` on the k-th step ``[(k-1)Δ, kΔ)``, Δ = ``net.dt``.  Its forward-Euler step
at Δ is :meth:`bioplastic.LeakyRNN.run`.  This module integrates it step by step with
``scipy.integrate.solve_ivp`` (DOP853, an 8th-order Runge–Kutta method; Hairer, Nørsett &
Wanner 1993) restarted at every step, where the input jumps.  It is independent of both
bioplastic's discrete recursion and Brian2.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.integrate import solve_ivp

from ..network import LeakyRNN

__all__ = ["ode_solution"]


def ode_solution(
    net: LeakyRNN,
    x: ArrayLike,
    h0: ArrayLike | None = None,
    *,
    rtol: float = 1e-11,
    atol: float = 1e-12,
) -> np.ndarray:
    """The states ``(trial, time, unit)`` of the ODE at t = Δ, 2Δ, …, TΔ (float64).

    ``x`` is ``(trial, time, input)`` and ``h0`` the initial state, as for ``net.run``.
    """
    xa = net.check_inputs(x).astype(np.float64)
    B, T, _ = xa.shape
    n = net.n_rec
    s = net.check_h0(h0, B).astype(np.float64).ravel()
    p = {k: v.astype(np.float64) for k, v in net.params.items()}
    tau = np.broadcast_to(np.asarray(net.tau, np.float64), n)
    f = net.activation
    drive = xa @ p["W_in"].T + p["b"]  # (trial, time, unit)
    rate = net.form == "rate"

    def rhs(_t: float, flat: np.ndarray, d: np.ndarray) -> np.ndarray:
        y = flat.reshape(B, n)
        if rate:
            return ((-y + f(y @ p["W_rec"].T + d)) / tau).ravel()
        return ((-y + f(y) @ p["W_rec"].T + d) / tau).ravel()

    out = np.empty((B, T, n))
    for k in range(T):
        sol = solve_ivp(
            rhs, (0.0, net.dt), s, method="DOP853", rtol=rtol, atol=atol, args=(drive[:, k],)
        )
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed at step {k + 1}: {sol.message}")
        s = sol.y[:, -1]
        out[:, k] = s.reshape(B, n)
    return out
