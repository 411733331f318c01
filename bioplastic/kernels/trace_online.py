r"""One compiled chunk of online learning, for every rule's online face.

The same equations as the numpy path (:mod:`bioplastic.rules.trace`,
:mod:`bioplastic.training.updates`), for the rate form with tanh units, step by step:

    u_t = W_rec h_{t-1} + W_in x_t + b,   h_t = h_{t-1} + α (tanh u_t − h_{t-1})
    y_t = W_out h_t + b_out,   e_t = ∂L/∂y_t,   q_t = B e_t
    P_t[i, j] = d_t[i] P_{t-1}[i, j] + α f'(u_t)[i] â_t[j],   â_t = [h_{t-1}, x_t, 1]
    ∂L/∂Θ[i, j] ≈ Σ_t q_t[i] P_t[i, j]

with ``d_t = 1 − α`` (RFLO, e-prop; Murray 2019, Bellec et al. 2020) or
``1 − α + α f'(u_t)[i] W_rec[i, i]`` (SnAp-1; Menick et al. 2021), the readout's exact
``Σ_t e_t h_tᵀ``, and every ``update_every`` steps the update: mean over time if asked, the
global-norm clip, SGD or Adam, the connectivity masks and Dale's law.  Only the plastic columns
of ``Θ = [W_rec | W_in | b]`` are traced, in that order, as in the numpy path.

RTRL (:mod:`bioplastic.rules.rtrl`; Williams & Zipser 1989) carries the whole influence instead
of the trace: ``M_t = D_t M_{t-1} + Ī_t`` with ``D_t = diag(1-α) + diag(α f'(u_t)) W_rec``
(one BLAS product per trial and step) and ``∂L/∂Θ ≈ Σ_t q_t M_t``.  UORO
(:mod:`bioplastic.rules.uoro`; Tallec & Ollivier 2018) carries ``M_t ≈ ã ⊗ b̃``, with the signs
ν of the chunk drawn beforehand from the rule's generator (the same stream as step by step);
KF-RTRL (Mujika et al. 2018) and R-KF-RTRL (Marschall et al. 2020, sec. 4.1) carry their two
Kronecker factors likewise; truncated BPTT (Williams & Peng 1990) keeps the last k steps and
carries each new error back through them; BPTT holds the steps since the last update and
carries all their errors back at the update (Marschall et al. 2020's F-BPTT).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import CHUNK, FULL, KRONECKER, RANK_ONE, REVERSE_KRONECKER, WINDOW
from .recurrence import _tanh

__all__ = ["trace_chunk"]


@njit(cache=True, fastmath=False)
def trace_chunk(  # noqa: PLR0913, C901 - one flat kernel, its inputs spelled out
    x,
    target,
    mask,
    has_mask,
    h,
    P,
    spare,
    kind,
    vec,
    signs,
    ring,
    ring_pos,
    W_in,
    W_rec,
    b,
    W_out,
    b_out,
    alpha,
    feedback,
    symmetric,
    snap,
    xent,
    every,
    scale,
    plastic,
    blocks,
    conn_in,
    conn_rec,
    conn_out,
    dale,
    has_dale,
    adam,
    lrs,
    beta1,
    beta2,
    eps,
    clip,
    m_state,
    v_state,
    adam_step,
    summed,
):
    """Run ``T`` steps of a batch of ``B`` streams; update everything in place.

    ``kind`` is :data:`DIAGONAL` (``P`` the ``(trial, unit, m)`` trace), :data:`FULL` (``P``
    RTRL's influence ``(trial, unit, unit·m)``, ``spare`` a buffer of its shape) or
    :data:`RANK_ONE` (UORO: ``vec`` is ã ``(trial, unit)``, ``P`` is b̃ ``(trial, unit, m)``),
    :data:`KRONECKER` (KF-RTRL: ``vec`` is u ``(trial, m)``, ``P`` is A ``(trial, unit, unit)``)
    or :data:`REVERSE_KRONECKER` (R-KF-RTRL: ``vec`` is a ``(trial, unit)``, ``P`` is B
    ``(trial, unit, m)``); ``signs`` holds the chunk's random signs ``(T, trial, ·)``.
    :data:`WINDOW` is truncated BPTT (``tbptt.py``): ``ring`` holds the last k steps' ``(â, gain,
    q, e, rate)``, each ``(trial, k, ·)``, and ``ring_pos`` ``[newest slot, steps held]``;
    :data:`CHUNK` is BPTT within each update's steps, held in the same buffers (k = the update
    interval) and carried back at the update.  Returns
    ``(total loss, adam step, status, the step, swapped)``: status 0 done, 1 a loss overflowed,
    2 an update overflowed (at that step); ``swapped`` says that the influence now sits in
    ``spare``.  ``m_state`` and ``v_state`` hold Adam's moments of
    the five parameters flattened one after another; ``summed`` the chunk's summed estimates
    (unscaled, all five parameters flattened), for its norm.
    """
    nB, T, n_in = x.shape
    n = W_rec.shape[0]
    n_out = W_out.shape[0]
    m = P.shape[2] // n if kind == FULL else (vec.shape[1] if kind == KRONECKER else P.shape[2])
    full = kind == FULL
    rank_one = kind == RANK_ONE
    kron = kind == KRONECKER or kind == REVERSE_KRONECKER
    window = kind == WINDOW
    chunk = kind == CHUNK
    r_pre, r_gain, r_q, r_e, r_rate = ring
    k_win = r_pre.shape[1]
    if window or chunk:
        m = r_pre.shape[2]
    c_now = np.zeros(n)
    c_back = np.zeros(n)
    Da = np.zeros(n)
    DX = np.zeros((n, P.shape[2])) if kron else np.zeros((1, 1))  # D_t applied to A or B
    qx = np.zeros(max(n, m))  # q_tᵀ A_t or q_tᵀ B_t
    D = np.zeros((n, n))
    swapped = False
    has_rec, has_in, has_b = blocks[0], blocks[1], blocks[2]
    theta = np.zeros((n, m))
    theta_flat = theta.reshape(n * m)  # Θ's columns (k, j) in the influence's order
    g_out = np.zeros((n_out, n))
    g_bout = np.zeros(n_out)
    u = np.zeros(n)
    fu = np.zeros(n)
    gain = np.zeros(n)
    hn = np.zeros(n)
    y = np.zeros(n_out)
    e = np.zeros(n_out)
    q = np.zeros(n)
    pre = np.zeros(m)
    total = 0.0
    sizes = (n * n_in, n * n, n, n_out * n, n_out)
    for t in range(T):
        for bb in range(nB):
            # the forward step, rate form, tanh; W_rec h by BLAS (a dot-product loop would be
            # one dependent chain of n multiply-adds per unit)
            np.dot(W_rec, h[bb], u)
            for i in range(n):
                acc = b[i]
                for j in range(n_in):
                    acc += W_in[i, j] * x[bb, t, j]
                acc += u[i]
                u[i] = acc
                fu[i] = _tanh(acc)
                hn[i] = h[bb, i] + alpha[i] * (fu[i] - h[bb, i])
                gain[i] = alpha[i] * (1.0 - fu[i] * fu[i])
            for k in range(n_out):
                acc = b_out[k]
                for j in range(n):
                    acc += W_out[k, j] * hn[j]
                y[k] = acc
            # the output error and the loss (averaged over the batch)
            value = 0.0
            if xent:
                ymax = y[0]
                for k in range(1, n_out):
                    if y[k] > ymax:
                        ymax = y[k]
                lse = 0.0
                for k in range(n_out):
                    lse += np.exp(y[k] - ymax)
                lse = np.log(lse)
                wsum = 0.0
                for k in range(n_out):
                    w = target[bb, t, k] * (mask[bb, t, k] if has_mask else 1.0)
                    logp = y[k] - ymax - lse
                    value -= w * logp
                    wsum += w
                for k in range(n_out):
                    w = target[bb, t, k] * (mask[bb, t, k] if has_mask else 1.0)
                    e[k] = (wsum * np.exp(y[k] - ymax - lse) - w) / nB
            else:
                for k in range(n_out):
                    diff = y[k] - target[bb, t, k]
                    w = mask[bb, t, k] if has_mask else 1.0
                    value += 0.5 * w * diff * diff
                    e[k] = w * diff / nB
            value /= nB
            if not np.isfinite(value):
                return total, adam_step, 1, t, swapped
            total += value
            # the learning signal and the trace
            for i in range(n):
                acc = 0.0
                for k in range(n_out):
                    acc += (W_out[k, i] if symmetric else feedback[i, k]) * e[k]
                q[i] = acc
            c = 0
            if has_rec:
                for j in range(n):
                    pre[c] = h[bb, j]
                    c += 1
            if has_in:
                for j in range(n_in):
                    pre[c] = x[bb, t, j]
                    c += 1
            if has_b:
                pre[c] = 1.0
            if full:  # M_t = D_t M_{t-1} + Ī_t, Θ += q_t M_t (rtrl.py)
                for i in range(n):
                    for k in range(n):
                        D[i, k] = gain[i] * W_rec[i, k]
                    D[i, i] += 1.0 - alpha[i]
                M = spare[bb]
                np.dot(D, P[bb], M)
                for i in range(n):
                    gi = gain[i]
                    for j in range(m):
                        M[i, i * m + j] += gi * pre[j]
                for i in range(n):
                    qi = q[i]
                    for c in range(n * m):
                        theta_flat[c] += qi * M[i, c]
            elif rank_one:  # UORO (uoro.py; Tallec & Ollivier 2018, Algorithm 1)
                rho1 = _balance(_norm(gain) * _norm(pre), np.sqrt(float(n)))
                da2 = 0.0
                for i in range(n):  # D_t ã = (1-α) ã + gain ⊙ W_rec ã
                    acc = 0.0
                    for k in range(n):
                        acc += W_rec[i, k] * vec[bb, k]
                    Da[i] = acc * gain[i] + vec[bb, i] * (1.0 - alpha[i])
                    da2 += Da[i] * Da[i]
                rho0 = _balance(_norm(P[bb].reshape(-1)), np.sqrt(da2))
                w = 0.0
                for i in range(n):
                    ai = rho0 * Da[i] + rho1 * signs[t, bb, i]
                    vec[bb, i] = ai
                    w += q[i] * ai
                for i in range(n):
                    ui = signs[t, bb, i] * gain[i] / rho1
                    for j in range(m):
                        v = P[bb, i, j] / rho0 + ui * pre[j]
                        P[bb, i, j] = v
                        theta[i, j] += w * v
            elif chunk:  # BPTT within the chunk: hold the step, carry back at the update
                slot = ring_pos[1]
                r_pre[bb, slot] = pre
                r_gain[bb, slot] = gain
                r_q[bb, slot] = q
                if bb == nB - 1:
                    ring_pos[1] += 1
            elif window:  # the newest error carried back through the last k steps
                if bb == 0:  # the trials step together: one slot for all of them
                    ring_pos[0] = (ring_pos[0] + 1) % k_win
                    ring_pos[1] = min(ring_pos[1] + 1, k_win)
                slot = ring_pos[0]
                r_pre[bb, slot] = pre
                r_gain[bb, slot] = gain
                r_q[bb, slot] = q
                r_rate[bb, slot] = hn
                r_e[bb, slot] = e
                for i in range(n):
                    c_now[i] = q[i]
                newer = slot
                for age in range(ring_pos[1]):
                    s_ = (slot - age) % k_win
                    if age > 0:
                        _carry_back(c_now, c_back, r_gain[bb, newer], W_rec, alpha)
                    _add_credit(theta, c_now, r_gain[bb, s_], r_pre[bb, s_])
                    newer = s_
            elif kron:  # KF-RTRL (kf_rtrl.py), R-KF-RTRL (rkf_rtrl.py)
                X = P[bb]
                np.dot(W_rec, X, DX)  # D_t X = gain ⊙ W_rec X + (1-α) X, by rows
                dx2 = 0.0
                for i in range(n):
                    for c in range(X.shape[1]):
                        dxc = DX[i, c] * gain[i] + X[i, c] * (1.0 - alpha[i])
                        DX[i, c] = dxc
                        dx2 += dxc * dxc
                p_old = _balance(np.sqrt(dx2), _norm(vec[bb]))
                if kind == KRONECKER:  # u_t, A_t with the signs c1, c2
                    p_new = _balance(_norm(gain), _norm(pre))
                    c1, c2 = signs[t, bb, 0], signs[t, bb, 1]
                    for j in range(m):
                        vec[bb, j] = c1 * p_old * vec[bb, j] + c2 * p_new * pre[j]
                    for i in range(n):
                        for k in range(n):
                            X[i, k] = DX[i, k] * (c1 / p_old)
                        X[i, i] += (c2 / p_new) * gain[i]
                    for k in range(n):  # q_tᵀ A_t, then Θ += (q_tᵀ A_t) ⊗ u_t
                        qx[k] = 0.0
                    for i in range(n):
                        for k in range(n):
                            qx[k] += q[i] * X[i, k]
                    for k in range(n):
                        for j in range(m):
                            theta[k, j] += qx[k] * vec[bb, j]
                else:  # a_t, B_t with the signs ν
                    p_new = _balance(_norm(gain) * _norm(pre), np.sqrt(float(n)))
                    for i in range(n):
                        vec[bb, i] = p_old * vec[bb, i] + p_new * signs[t, bb, i]
                    for i in range(n):
                        ui = signs[t, bb, i] * gain[i] / p_new
                        for j in range(m):
                            X[i, j] = DX[i, j] / p_old + ui * pre[j]
                    for j in range(m):  # q_tᵀ B_t, then Θ += a_t ⊗ (q_tᵀ B_t)
                        qx[j] = 0.0
                    for i in range(n):
                        for j in range(m):
                            qx[j] += q[i] * X[i, j]
                    for k in range(n):
                        for j in range(m):
                            theta[k, j] += vec[bb, k] * qx[j]
            else:
                for i in range(n):
                    d = 1.0 - alpha[i]
                    if snap:
                        d += gain[i] * W_rec[i, i]
                    qi = q[i]
                    gi = gain[i]
                    for j in range(m):
                        p = d * P[bb, i, j] + gi * pre[j]
                        P[bb, i, j] = p
                        theta[i, j] += qi * p
            for k in range(n_out):
                for j in range(n):
                    g_out[k, j] += e[k] * hn[j]
                g_bout[k] += e[k]
            for i in range(n):
                h[bb, i] = hn[i]
        if full:  # every trial's new influence is in `spare`: the two swap
            P, spare = spare, P
            swapped = not swapped
        if (t + 1) % every == 0 or t == T - 1:
            if chunk:  # c_s = q_s + D_{s+1}ᵀ c_{s+1} back over the held steps (bptt.py)
                for bb in range(nB):
                    for s_ in range(ring_pos[1] - 1, -1, -1):
                        if s_ == ring_pos[1] - 1:
                            c_now[:] = 0.0
                        else:
                            _carry_back(c_now, c_back, r_gain[bb, s_ + 1], W_rec, alpha)
                        for i in range(n):
                            c_now[i] += r_q[bb, s_, i]
                        _add_credit(theta, c_now, r_gain[bb, s_], r_pre[bb, s_])
                ring_pos[1] = 0
            status = _update(
                theta,
                g_out,
                g_bout,
                W_in,
                W_rec,
                b,
                W_out,
                b_out,
                scale,
                plastic,
                blocks,
                conn_in,
                conn_rec,
                conn_out,
                dale,
                has_dale,
                adam,
                lrs,
                beta1,
                beta2,
                eps,
                clip,
                m_state,
                v_state,
                adam_step + 1,
                summed,
                sizes,
            )
            if status:
                return total, adam_step, 2, t, swapped
            adam_step += 1
    return total, adam_step, 0, T, swapped


@njit(cache=True, inline="always")
def _norm(v):
    """‖v‖ of a 1-D array."""
    s = 0.0
    for k in range(v.shape[0]):
        s += v[k] * v[k]
    return np.sqrt(s)


@njit(cache=True, inline="always")
def _balance(numerator, denominator):
    """``√(numerator / denominator)``, or 1 where either is 0 (as ``online.balance``)."""
    return np.sqrt(numerator / denominator) if (numerator > 0.0 and denominator > 0.0) else 1.0


@njit(cache=True, inline="always")
def _carry_back(c, buf, gain_next, W_rec, alpha):
    """``c ← (1-α) ⊙ c + W_recᵀ (gain_{s+1} ⊙ c)``: the credit one step further back."""
    n = c.shape[0]
    for i in range(n):
        buf[i] = (1.0 - alpha[i]) * c[i]
    for k in range(n):
        gc = gain_next[k] * c[k]
        for i in range(n):
            buf[i] += W_rec[k, i] * gc
    c[:] = buf


@njit(cache=True, inline="always")
def _add_credit(theta, c, gain, pre):
    """``Θ += (gain_s ⊙ c_s) â_sᵀ``."""
    for i in range(theta.shape[0]):
        g = gain[i] * c[i]
        for j in range(theta.shape[1]):
            theta[i, j] += g * pre[j]


@njit(cache=True)
def _update(
    theta,
    g_out,
    g_bout,
    W_in,
    W_rec,
    b,
    W_out,
    b_out,
    scale,
    plastic,
    blocks,
    conn_in,
    conn_rec,
    conn_out,
    dale,
    has_dale,
    adam,
    lrs,
    beta1,
    beta2,
    eps,
    clip,
    m_state,
    v_state,
    step,
    summed,
    sizes,
):
    """One weight update from the chunk's running sums (which restart at 0)."""
    n, n_in, n_out = W_rec.shape[0], W_in.shape[1], W_out.shape[0]
    # the estimates, parameter by parameter in PARAM_NAMES order, flattened into one vector
    total = sizes[0] + sizes[1] + sizes[2] + sizes[3] + sizes[4]
    g = np.zeros(total)
    col = 0
    if blocks[0]:
        for i in range(n):
            for j in range(n):
                g[sizes[0] + i * n + j] = theta[i, col + j]
        col += n
    if blocks[1]:
        for i in range(n):
            for j in range(n_in):
                g[i * n_in + j] = theta[i, col + j]
        col += n_in
    if blocks[2]:
        for i in range(n):
            g[sizes[0] + sizes[1] + i] = theta[i, col]
    off = sizes[0] + sizes[1] + sizes[2]
    for k in range(n_out):
        for j in range(n):
            g[off + k * n + j] = g_out[k, j]
        g[off + sizes[3] + k] = g_bout[k]
    # frozen parameters get 0, masked weights 0 (finalize)
    start = 0
    for p in range(5):
        for a in range(sizes[p]):
            if not plastic[p]:
                g[start + a] = 0.0
        start += sizes[p]
    c_in, c_rec, c_out = conn_in.reshape(-1), conn_rec.reshape(-1), conn_out.reshape(-1)
    for a in range(sizes[0]):  # the masks, flat in the same C order as g's blocks
        g[a] *= c_in[a]
    for a in range(sizes[1]):
        g[sizes[0] + a] *= c_rec[a]
    for a in range(sizes[3]):
        g[off + a] *= c_out[a]
    for a in range(total):
        summed[a] += g[a]
        g[a] *= scale
    # the global-norm clip of the plastic estimates (the norm only where there is a clip: it
    # is one long chain of dependent additions)
    if clip > 0.0:
        sq = 0.0
        for a in range(total):
            sq += g[a] * g[a]
        norm = np.sqrt(sq)
        if norm > clip:
            f = clip / norm
            for a in range(total):
                g[a] *= f
    # the optimizer, and the new parameters
    c1 = 1.0 - beta1**step
    c2 = 1.0 - beta2**step
    start = 0
    for p in range(5):
        if plastic[p]:
            for a in range(sizes[p]):
                ga = g[start + a]
                if adam:
                    m_state[start + a] = beta1 * m_state[start + a] + (1.0 - beta1) * ga
                    v_state[start + a] = beta2 * v_state[start + a] + (1.0 - beta2) * ga * ga
                    du = (
                        -lrs[p]
                        * (m_state[start + a] / c1)
                        / (np.sqrt(v_state[start + a] / c2) + eps)
                    )
                else:
                    du = -lrs[p] * ga
                g[start + a] = du
        start += sizes[p]
    # the new parameters, all checked finite before any is written
    params = (W_in.reshape(-1), W_rec.reshape(-1), b, W_out.reshape(-1), b_out)
    start = 0
    for p in range(5):
        if plastic[p]:
            flat = params[p]
            for a in range(sizes[p]):
                if not np.isfinite(flat[a] + g[start + a]):
                    return 2
        start += sizes[p]
    start = 0
    for p in range(5):
        if plastic[p]:
            flat = params[p]
            for a in range(sizes[p]):
                flat[a] += g[start + a]
        start += sizes[p]
    # the projection: masks to 0, Dale's law
    for i in range(n):
        for j in range(n_in):
            if conn_in[i, j] == 0.0:
                W_in[i, j] = 0.0
        for j in range(n):
            if conn_rec[i, j] == 0.0 or (has_dale and W_rec[i, j] * dale[j] < 0.0):
                W_rec[i, j] = 0.0
    for k in range(n_out):
        for j in range(n):
            if conn_out[k, j] == 0.0:
                W_out[k, j] = 0.0
    theta[:, :] = 0.0
    g_out[:, :] = 0.0
    g_bout[:] = 0.0
    return 0
