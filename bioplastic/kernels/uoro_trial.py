r"""UORO's per-trial loop, compiled: one fused pass over b̃ per step (Tallec & Ollivier 2018).

The recursion of :meth:`bioplastic.rules.uoro.UORO._loop`, with everything that does not depend
on ``ã, b̃`` computed before (the signs, ``ρ1``, ``V = ρ1 ν``, ``U = ν ⊙ gain / ρ1``, the
presynaptic vectors ``â`` and the direct credit ``q``).  Per step and trial:

    y = (1-α) ã + gain ⊙ W_rec (slope ⊙ ã),   ρ0 = (‖b̃‖² / ‖y‖²)^¼ (1 where undefined)
    ã ← ρ0 y + V,   b̃ ← b̃ / ρ0 + U âᵀ,   Θ += (q · ã) b̃

The new ``b̃``, its contribution to Θ and its squared norm (the next step's ``‖b̃‖²``) come from
one pass over its ``n × m`` entries, where numpy makes four.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["uoro_loop"]


@njit(cache=True)
def uoro_loop(gain, slope, has_slope, leak, W_rec, V, U, pre, q):
    """Θ ``(unit, m)`` summed over time and trials."""
    T, nB, n = gain.shape
    m = pre.shape[2]
    theta = np.zeros((n, m))
    a = np.zeros((nB, n))
    b = np.zeros((nB, n, m))
    bn2 = np.zeros(nB)  # ‖b̃‖² of each trial
    src = np.zeros(n)
    y = np.zeros(n)
    for t in range(T):
        for bb in range(nB):
            for j in range(n):
                src[j] = a[bb, j] * slope[t, bb, j] if has_slope else a[bb, j]
            yn2 = 0.0
            for i in range(n):
                acc = 0.0
                for j in range(n):
                    acc += W_rec[i, j] * src[j]
                yi = acc * gain[t, bb, i] + a[bb, i] * leak[i]
                y[i] = yi
                yn2 += yi * yi
            r = bn2[bb] / yn2 if yn2 > 0.0 else np.nan
            rho0 = r**0.25 if (r > 0.0 and r < np.inf) else 1.0
            w = 0.0
            for i in range(n):
                ai = rho0 * y[i] + V[t, bb, i]
                a[bb, i] = ai
                w += q[t, bb, i] * ai
            inv = 1.0 / rho0
            s2 = 0.0
            for i in range(n):
                ui = U[t, bb, i]
                for j in range(m):
                    v = b[bb, i, j] * inv + ui * pre[t, bb, j]
                    b[bb, i, j] = v
                    s2 += v * v
                    theta[i, j] += w * v
            bn2[bb] = s2
    return theta
