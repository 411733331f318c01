r"""A compiled chunk of online TD(λ) for LSTM units learning by per-unit traces.

The equations of :mod:`bioplastic.training.td_stream` (its numpy path is the reference, and this
kernel is tested equal to it), for an :class:`~bioplastic.LSTM` with one output, step by step
(Javed et al. 2023, Appendix C, eqs. 8-13 and the recursions of ``TH = ∂h/∂θ``, ``TC = ∂c/∂θ``)::

    u_t[q, i] = b[q, i] + Σ_j W_in[q, i, j] x_t[j] + Σ_{j heard by i} W_rec[q, i, j] h_{t-1}[j]
    (i, f, o, g) = (σ, σ, σ, tanh)(u_t),  c_t = f c_{t-1} + i g,  h_t = o tanh c_t
    V_t = w_out · h_t + b_out
    δ = c_t + γ V_t − V_{t-1};  θ += η δ z                       (the weights of step t are used
    (TH, TC)[q, i, p] ← D_t[i] (TH, TC)[q, i, p] + (∂h_t, ∂c_t)/∂u_t[q, i] · â_t[p]   before it)
    z ← γλ z + ∂V_t/∂θ = γλ z + w_out[i] TH[q, i, p]   (w_out's own: h_t; b_out's: 1)

``D_t[i]`` is unit i's own 2 × 2 Jacobian ``∂(h_t, c_t)/∂(h_{t-1}, c_{t-1})`` through its
self-weights; only the units that learn carry traces, over the presynaptic entries they hear:
``â = [x_t, 1, h_{t-1}[heard]]``.  The cost per step is O(Σ heard + units · inputs) for the
forward pass and O(learning units · 4 · (inputs + 1 + heard)) for the traces: O(parameters).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["lstm_td_chunk"]


@njit(cache=True, fastmath=False)
def _sig(u):
    return 0.5 * (1.0 + math.tanh(0.5 * u))


@njit(cache=True, fastmath=False)
def lstm_td_chunk(  # noqa: PLR0913, PLR0915 - one flat kernel, its inputs spelled out
    x,
    cumulant,
    target,  # (T, m), (T,), (T,)
    W_in,
    W_rec,
    b,
    w_out,
    b_out,  # (4, n, m), (4, n, n), (4, n), (n,), (1,): updated in place
    heard_ptr,
    heard_idx,  # CSR of the W_rec mask: unit i hears heard_idx[ptr[i]:ptr[i+1]]
    learners,  # (L,) the units whose incoming weights learn
    learn_out,  # bool: the readout learns
    h,
    c,  # (n,) the state, updated in place
    TH,
    TC,
    z,  # (L, 4, K) traces and eligibility over [inputs, bias, heard], in place
    z_out,
    z_bout,  # (n,), (1,) the readout's eligibility, in place
    prev,  # (2,): [has_prev, V_{t-1}], in place
    eta,
    gamma,
    lam,
    err,  # (T,) out: (V_t - G_t)^2, NaN from a divergence on
):
    T, m = x.shape
    n = h.shape[0]
    gates = np.empty((4, n))
    dh = np.empty(4)
    dc = np.empty(4)
    w_self = np.empty(4)
    h_new = np.empty(n)
    w_old = np.empty(n)
    K_max = TH.shape[2]
    pre = np.empty(K_max)
    dw = np.empty(K_max)
    c_new = np.empty(n)
    decay = gamma * lam
    for t in range(T):
        xt = x[t]
        for i in range(n):  # gate currents, from the weights of step t
            for q in range(4):
                u = b[q, i]
                for j in range(m):
                    u += W_in[q, i, j] * xt[j]
                for a in range(heard_ptr[i], heard_ptr[i + 1]):
                    u += W_rec[q, i, heard_idx[a]] * h[heard_idx[a]]
                gates[q, i] = math.tanh(u) if q == 3 else _sig(u)
            c_new[i] = gates[1, i] * c[i] + gates[0, i] * gates[3, i]
            h_new[i] = gates[2, i] * math.tanh(c_new[i])
        V = b_out[0]
        for i in range(n):
            V += w_out[i] * h_new[i]
        if not math.isfinite(V):
            for s in range(t, T):
                err[s] = np.nan
            return
        err[t] = (V - target[t]) ** 2
        for i in range(n):
            w_old[i] = w_out[i]  # the readout of V_t, before this step's update
        has_prev = prev[0] > 0.0
        step = eta * (cumulant[t] + gamma * V - prev[1]) if has_prev else 0.0  # η δ_{t-1}
        # traces with this step's factors and weights (before the update below)
        for u in range(learners.shape[0]):
            i = learners[u]
            gi, gf, go, gg = gates[0, i], gates[1, i], gates[2, i], gates[3, i]
            th = math.tanh(c_new[i])
            dtanh = go * (1.0 - th * th)
            dc[0] = gg * gi * (1.0 - gi)
            dc[1] = c[i] * gf * (1.0 - gf)
            dc[2] = 0.0
            dc[3] = gi * (1.0 - gg * gg)
            for q in range(4):
                dh[q] = dtanh * dc[q]
                w_self[q] = W_rec[q, i, i]
            dh[2] = th * go * (1.0 - go)
            # D = [[∂h/∂h', ∂h/∂c'], [∂c/∂h', ∂c/∂c']]
            d_hh = 0.0
            d_ch = 0.0
            for q in range(4):
                d_hh += dh[q] * w_self[q]
                d_ch += dc[q] * w_self[q]
            d_hc = dtanh * gf
            d_cc = gf
            p0, p1 = heard_ptr[i], heard_ptr[i + 1]
            K = m + 1 + p1 - p0
            for j in range(m):  # â = [x_t, 1, h_{t-1}[heard]]
                pre[j] = xt[j]
            pre[m] = 1.0
            for a in range(p1 - p0):
                pre[m + 1 + a] = h[heard_idx[p0 + a]]
            wo = w_old[i]
            for q in range(4):
                dhq, dcq = dh[q], dc[q]
                for p in range(K):  # traces, the update along z_{t-1}, then z_t
                    th_old = TH[u, q, p]
                    tc_old = TC[u, q, p]
                    th_new = d_hh * th_old + d_hc * tc_old + dhq * pre[p]
                    TC[u, q, p] = d_ch * th_old + d_cc * tc_old + dcq * pre[p]
                    TH[u, q, p] = th_new
                    dw[p] = step * z[u, q, p]
                    z[u, q, p] = decay * z[u, q, p] + wo * th_new
                if has_prev:
                    for j in range(m):
                        W_in[q, i, j] += dw[j]
                    b[q, i] += dw[m]
                    for a in range(p1 - p0):
                        W_rec[q, i, heard_idx[p0 + a]] += dw[m + 1 + a]
        if has_prev and learn_out:
            for i in range(n):
                w_out[i] += step * z_out[i]
            b_out[0] += step * z_bout[0]
        if learn_out:
            for i in range(n):
                z_out[i] = decay * z_out[i] + h_new[i]
            z_bout[0] = decay * z_bout[0] + 1.0
        prev[0] = 1.0
        prev[1] = V
        for i in range(n):
            h[i] = h_new[i]
            c[i] = c_new[i]
