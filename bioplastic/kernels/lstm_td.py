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
    utility[i] ← d utility[i] + (1 − d) |w_out[i] h_t[i]|   (generate and test, sec. 7)

``D_t[i]`` is unit i's own 2 × 2 Jacobian ``∂(h_t, c_t)/∂(h_{t-1}, c_{t-1})`` through its
self-weights; only the units that learn carry traces, over the presynaptic entries they hear:
``â = [x_t, 1, h_{t-1}[heard]]``.  The cost per step is O(Σ heard + units · inputs) for the
forward pass and O(learning units · 4 · (inputs + 1 + heard)) for the traces: O(parameters).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["lstm_td_chunk", "lstm_tbptt_chunk"]


@njit(cache=True, fastmath=False)
def _sig(u):
    return 0.5 * (1.0 + math.tanh(0.5 * u))


@njit(cache=True, fastmath=False)
def lstm_td_chunk(  # noqa: PLR0913, PLR0915 - one flat kernel, its inputs spelled out
    x,
    cumulant,  # (T, m), (T,), (T,)
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
    utility,  # (n,) the features' utility, an average of |w_out h|, in place
    u_decay,
    prev,  # (2,): [has_prev, V_{t-1}], in place
    eta,
    gamma,
    lam,
    pred,  # (T,) out: V_t, NaN from a divergence on
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
                if heard_ptr[i + 1] - heard_ptr[i] == n:  # hears every unit: no indirection
                    for j in range(n):  # (the same order of sums as below: the same result)
                        u += W_rec[q, i, j] * h[j]
                else:
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
                pred[s] = np.nan
            return
        pred[t] = V
        for i in range(n):
            w_old[i] = w_out[i]  # the readout of V_t, before this step's update
            utility[i] = u_decay * utility[i] + (1.0 - u_decay) * abs(w_old[i] * h_new[i])
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


@njit(cache=True, fastmath=False)
def lstm_tbptt_chunk(  # noqa: PLR0913, PLR0915 - one flat kernel, its inputs spelled out
    x,
    cumulant,  # (T, m), (T,), (T,)
    W_in,
    W_rec,
    b,
    w_out,
    b_out,  # (4, n, m), (4, n, n), (4, n), (n,), (1,): every entry learns
    h,
    c,  # (n,) the state, in place
    ring_x,
    ring_h,
    ring_c,
    ring_gates,
    ring_W,
    ring_len,  # the last k steps, in place
    z_in,
    z_rec,
    z_b,
    z_out,
    z_bout,  # eligibility, in place
    prev,  # (2,): [has_prev, V_{t-1}], in place
    eta,
    gamma,
    lam,
    pred,  # (T,) out: V_t
):
    r"""Online TD(λ) for a dense LSTM with ``∇V_t`` by BPTT through its last k steps, as they
    happened (their activations and weights).  Ring slot ``s % k`` holds step s's input
    ``x_s``, ``h_{s-1}``, ``c_{s-1}``, gates and ``W_rec``; ``ring_len[0]`` counts the filled
    slots.  Backward through a step, with credit ``(ε_h, ε_c)`` on ``(h_s, c_s)``::

        ε_c' = ε_c + ε_h o (1 − tanh² c_s)
        δ_i = ε_c' g i(1−i), δ_f = ε_c' c_{s-1} f(1−f), δ_o = ε_h tanh c_s o(1−o),
        δ_g = ε_c' i (1−g²);   ∇W_in[q] += δ_q x_sᵀ, ∇W_rec[q] += δ_q h_{s-1}ᵀ, ∇b[q] += δ_q
        ε_h ← Σ_q W_rec[q]ᵀ δ_q,   ε_c ← ε_c' f
    """
    T, m = x.shape
    n = h.shape[0]
    k = ring_x.shape[0]
    u = np.empty((4, n))
    delta = np.empty((4, n))
    eh = np.empty(n)
    ec = np.empty(n)
    eh_prev = np.empty(n)
    g_in = np.empty_like(z_in)
    g_rec = np.empty_like(z_rec)
    g_b = np.empty_like(z_b)
    decay = gamma * lam
    for t in range(T):
        slot = ring_len[1] % k
        xt = x[t]
        for j in range(m):
            ring_x[slot, j] = xt[j]
        for i in range(n):
            ring_h[slot, i] = h[i]
            ring_c[slot, i] = c[i]
        for q in range(4):
            for i in range(n):
                acc = b[q, i]
                for j in range(m):
                    acc += W_in[q, i, j] * xt[j]
                for j in range(n):
                    acc += W_rec[q, i, j] * h[j]
                    ring_W[slot, q, i, j] = W_rec[q, i, j]
                u[q, i] = math.tanh(acc) if q == 3 else _sig(acc)
                ring_gates[slot, q, i] = u[q, i]
        for i in range(n):
            c[i] = u[1, i] * c[i] + u[0, i] * u[3, i]
            h[i] = u[2, i] * math.tanh(c[i])
        ring_len[1] += 1
        ring_len[0] = min(ring_len[0] + 1, k)
        V = b_out[0]
        for i in range(n):
            V += w_out[i] * h[i]
        if not math.isfinite(V):
            for s in range(t, T):
                pred[s] = np.nan
            return
        pred[t] = V
        has_prev = prev[0] > 0.0
        step = eta * (cumulant[t] + gamma * V - prev[1]) if has_prev else 0.0
        # ∇V_t through the window, with the weights of each step (all before this update)
        for i in range(n):
            eh[i] = w_out[i]
            ec[i] = 0.0
        g_in[:] = 0.0
        g_rec[:] = 0.0
        g_b[:] = 0.0
        for age in range(ring_len[0]):
            s = (ring_len[1] - 1 - age) % k
            c_s = ring_c[(s + 1) % k] if age > 0 else c
            for i in range(n):
                gi, gf = ring_gates[s, 0, i], ring_gates[s, 1, i]
                go, gg = ring_gates[s, 2, i], ring_gates[s, 3, i]
                th = math.tanh(c_s[i])
                e_c = ec[i] + eh[i] * go * (1.0 - th * th)
                delta[0, i] = e_c * gg * gi * (1.0 - gi)
                delta[1, i] = e_c * ring_c[s, i] * gf * (1.0 - gf)
                delta[2, i] = eh[i] * th * go * (1.0 - go)
                delta[3, i] = e_c * gi * (1.0 - gg * gg)
                ec[i] = e_c * gf
            for j in range(n):
                eh_prev[j] = 0.0
            for q in range(4):
                for i in range(n):
                    d = delta[q, i]
                    for j in range(m):
                        g_in[q, i, j] += d * ring_x[s, j]
                    for j in range(n):
                        g_rec[q, i, j] += d * ring_h[s, j]
                        eh_prev[j] += ring_W[s, q, i, j] * d
                    g_b[q, i] += d
            for j in range(n):
                eh[j] = eh_prev[j]
        if has_prev:  # the update along z_{t-1}
            for q in range(4):
                for i in range(n):
                    for j in range(m):
                        W_in[q, i, j] += step * z_in[q, i, j]
                    for j in range(n):
                        W_rec[q, i, j] += step * z_rec[q, i, j]
                    b[q, i] += step * z_b[q, i]
            for i in range(n):
                w_out[i] += step * z_out[i]
            b_out[0] += step * z_bout[0]
        for q in range(4):  # z_t
            for i in range(n):
                for j in range(m):
                    z_in[q, i, j] = decay * z_in[q, i, j] + g_in[q, i, j]
                for j in range(n):
                    z_rec[q, i, j] = decay * z_rec[q, i, j] + g_rec[q, i, j]
                z_b[q, i] = decay * z_b[q, i] + g_b[q, i]
        for i in range(n):
            z_out[i] = decay * z_out[i] + h[i]
        z_bout[0] = decay * z_bout[0] + 1.0
        prev[0] = 1.0
        prev[1] = V
