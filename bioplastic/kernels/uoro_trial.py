r"""UORO's per-trial loop, compiled (Tallec & Ollivier 2018, Algorithm 1).

The recursion of :meth:`bioplastic.rules.uoro.UORO._loop`, given the signs ``ν``, the
presynaptic vectors ``â`` and the direct credit ``q`` of every step.  Per step of one trial,
with ``ρ1 = (‖gain‖ ‖â‖ / √n)^½``, ``V = ρ1 ν`` and ``U = ν ⊙ gain / ρ1``:

    y = (1-α) ã + gain ⊙ W_rec (slope ⊙ ã),   ρ0 = (‖b̃‖² / ‖y‖²)^¼ (1 where undefined)
    ã ← ρ0 y + V,   b̃ ← b̃ / ρ0 + U âᵀ,   w = q · ã,   Θ += w b̃

Θ is not summed step by step: unrolling ``b̃_t = Σ_{s≤t} (Π_{s<r≤t} 1/ρ0_r) U_s â_sᵀ`` gives

    Θ = Σ_s k_s U_s â_sᵀ,   k_s = w_s + k_{s+1} / ρ0_{s+1},   k_{T+1} = 0,

one backward pass over two scalars per step, then one matrix product over all steps and trials
(:func:`theta_from_coefficients`).  The loop itself only updates ``b̃`` for its norm, the next
step's ``ρ0``: one vectorised pass over its ``n × m`` entries per step, with the trial's ``ã``
and ``b̃`` held in cache for the whole trial.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["uoro_loop", "theta_from_coefficients"]


@njit(cache=True, error_model="numpy")
def uoro_loop(gain, slope, has_slope, leak, W_rec_T, nu, pre, q):
    """``k_s U_s`` ``(T, trial, unit)`` for Θ = Σ k_s U_s â_sᵀ (module docstring).

    ``gain, nu, q`` ``(T, trial, unit)`` (``nu`` the signs); ``slope`` ``(T, trial, unit)``
    when ``has_slope``; ``pre`` ``(T, trial, m)``; ``W_rec_T`` is ``W_recᵀ`` in C order;
    ``leak`` ``(unit,)``.  ``ρ1 = (‖gain‖ ‖â‖ / √n)^½`` (1 where 0), ``V = ρ1 ν`` and
    ``U = ν ⊙ gain / ρ1`` are formed step by step.
    """
    T, nB, n = gain.shape
    m = pre.shape[2]
    KU = np.empty((T, nB, n))
    w = np.empty((T, nB))
    rho = np.ones((T, nB))
    a = np.empty(n)
    b = np.empty((n, m))
    src = np.empty(n)
    y = np.empty(n)
    lane = np.empty(m)  # per-column partial sums of ‖b̃‖², so that the pass vectorises
    sqrt_n = np.sqrt(float(n))
    for bb in range(nB):  # the trials are independent: one at a time, in cache
        a[:] = 0.0
        b[:] = 0.0
        bn2 = 0.0
        for t in range(T):
            g2 = 0.0
            for i in range(n):
                g2 += gain[t, bb, i] * gain[t, bb, i]
            p2 = 0.0
            for j in range(m):
                p2 += pre[t, bb, j] * pre[t, bb, j]
            num = np.sqrt(g2 * p2)
            rho1 = np.sqrt(num / sqrt_n) if num > 0.0 else 1.0
            U = KU[t, bb]
            for i in range(n):
                U[i] = nu[t, bb, i] * gain[t, bb, i] / rho1
            for j in range(n):
                src[j] = a[j] * slope[t, bb, j] if has_slope else a[j]
            y[:] = 0.0
            for j in range(n):  # y = W_rec src, as columns: vectorises without reassociation
                s = src[j]
                for i in range(n):
                    y[i] += W_rec_T[j, i] * s
            yn2 = 0.0
            for i in range(n):
                yi = y[i] * gain[t, bb, i] + a[i] * leak[i]
                y[i] = yi
                yn2 += yi * yi
            r = bn2 / yn2 if yn2 > 0.0 else np.nan
            rho0 = r**0.25 if (r > 0.0 and r < np.inf) else 1.0
            wt = 0.0
            for i in range(n):
                ai = rho0 * y[i] + rho1 * nu[t, bb, i]
                a[i] = ai
                wt += q[t, bb, i] * ai
            inv = 1.0 / rho0
            lane[:] = 0.0
            for i in range(n):
                ui = U[i]
                for j in range(m):
                    v = b[i, j] * inv + ui * pre[t, bb, j]
                    b[i, j] = v
                    lane[j] += v * v
            bn2 = lane.sum()
            w[t, bb] = wt
            rho[t, bb] = rho0
    for bb in range(nB):  # k_s = w_s + k_{s+1} / ρ0_{s+1}, back from T; KU_s = k_s U_s
        k = 0.0
        for t in range(T - 1, -1, -1):
            k = w[t, bb] + (k / rho[t + 1, bb] if t + 1 < T else 0.0)
            for i in range(n):
                KU[t, bb, i] *= k
    return KU


def theta_from_coefficients(KU: np.ndarray, pre: np.ndarray) -> np.ndarray:
    """Θ = Σ_{s, trial} k_s U_s â_sᵀ ``(unit, m)``: one matrix product over steps and trials."""
    T, nB, n = KU.shape
    return KU.reshape(T * nB, n).T @ pre.reshape(T * nB, pre.shape[2])
