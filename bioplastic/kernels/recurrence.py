r"""The two time loops of an exact gradient, compiled: the forward recursion and BPTT's credit.

Everything in a trial that does not depend on the previous step (the readout, the weight
gradients) is one large matrix product in numpy already; what is left is one small product per
step, which numpy dispatches at a cost comparable to its arithmetic at the sizes of Murray 2019
(30 units) and Marschall et al. 2020 (32).  These loops run the same equations as the numpy
path they replace (:meth:`bioplastic.LeakyRNN.forward`, :func:`bioplastic.rules.bptt.backward`),
the products through the same BLAS, on a range of trials ``b0 ≤ b < b1``: trials are
independent, so :func:`bioplastic._threads.over_ranges` runs disjoint ranges in parallel threads
(the loops release the GIL).

rate form (``F[t]`` leaves with ``f(u_t)`` or the gain α ⊙ f'(u_t))::

    u_t = W_in x_t + b + W_rec h_{t-1},   h_t = α f(u_t) + (1-α) h_{t-1}

current form (``S[t+1]`` holds ``α (W_in x_t + b)``; ``aW_rec = α W_rec`` by rows)::

    v_t = S[t+1] + α W_rec r_{t-1} + (1-α) v_{t-1},   r_t = f(v_t)

credit (seed 000; Murray 2019, Methods), back from ``t = T``::

    c_t = q_t + (1-α) ⊙ c_{t+1} + slope_t ⊙ W_recᵀ (gain_{t+1} ⊙ c_{t+1}),   G_t = gain_t ⊙ c_t
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

__all__ = [
    "ACTIVATION_CODES",
    "rate_loop",
    "current_loop",
    "credit_loop",
    "few_columns_gram",
    "time_major",
]

ACTIVATION_CODES: dict[str, int] = {"tanh": 0, "relu": 1, "softplus": 2, "sigmoid": 3, "linear": 4}
"""The activations these loops compute, by the code they take."""


# e^y - 1 for y ≤ 0 by Cody–Waite reduction y = k ln2 + r, |r| ≤ ln2/2 (Cody & Waite 1980)
_LN2_HI, _LN2_LO, _INV_LN2 = 6.93147180369123816490e-01, 1.90821492927058770002e-10, 1 / np.log(2)
_EXPM1_TAYLOR = tuple(1.0 / math.factorial(k) for k in range(14, 1, -1))  # 1/14! … 1/2


@intrinsic
def _float_from_bits(typingctx, bits):
    """The float64 whose IEEE-754 bit pattern is the int64 ``bits`` (a register move, which
    unlike a table lookup or ``ldexp`` call vectorises)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@njit(cache=True, inline="always", error_model="numpy")
def _tanh(x):
    """tanh to 3 ulp in arithmetic only, so that a loop over it vectorises (libm's scalar
    ``tanh`` costs about 15 ns a call, 15× this): ``tanh |x| = -m / (2 + m)`` with
    ``m = e^{-2|x|} - 1``, where ``e^r - 1`` is a Taylor polynomial on the reduced argument (no
    cancellation near 0) and 2ᵏ is written from its exponent bits.  NaN passes through; ±inf
    gives ±1."""
    ax = abs(x)
    y = -2.0 * ax
    y = y if y > -44.0 else -44.0  # e^-44 < 2^-63: tanh is 1 to double precision; NaN → -44
    k = np.floor(y * _INV_LN2 + 0.5)  # -64 ≤ k ≤ 0
    r = (y - k * _LN2_HI) - k * _LN2_LO
    p = _EXPM1_TAYLOR[0]
    for c in _EXPM1_TAYLOR[1:]:
        p = p * r + c
    p = r + r * (r * p)  # e^r - 1
    s = _float_from_bits((np.int64(k) + 1023) << 52)  # 2^k, a normal number for -64 ≤ k ≤ 0
    em = s * p + (s - 1.0)  # e^y - 1 = 2^k (e^r - 1) + 2^k - 1
    v = math.copysign(-em / (2.0 + em), x)
    return v if x == x else x


@njit(cache=True, error_model="numpy")
def _activate(block, code):
    """``u ← f(u)`` in place on a C-ordered ``(B, n)`` block, as one flat loop per activation
    (so that each vectorises, whatever n)."""
    u = block.reshape(block.size)
    if code == 0:
        for k in range(u.size):
            u[k] = _tanh(u[k])
    elif code == 1:  # max(u, 0), NaN passed on as numpy's maximum does
        for k in range(u.size):
            x = u[k]
            u[k] = x if (x > 0.0 or x != x) else 0.0
    elif code == 2:  # log(1 + eᵘ) = max(u, 0) + log1p(e^-|u|), as numpy's logaddexp(0, u)
        for k in range(u.size):
            x = u[k]
            u[k] = max(x, 0.0) + math.log1p(math.exp(-abs(x)))
    elif code == 3:
        for k in range(u.size):
            u[k] = 1.0 / (1.0 + math.exp(-u[k]))


@njit(cache=True, inline="always", error_model="numpy")
def _slope(f, code):
    """f'(u) from the value f = f(u), as :mod:`bioplastic.activations` computes it."""
    if code == 0:
        return 1.0 - f * f
    if code == 1:  # numpy's sign: 1 where u > 0, 0 at 0, NaN passed on
        return 1.0 if f > 0.0 else (0.0 if f == 0.0 else f)
    if code == 2:  # the logistic σ(u) = 1 - e^{-f}
        return -math.expm1(-f)
    if code == 3:
        return f * (1.0 - f)
    return 1.0


@njit(cache=True, inline="always", error_model="numpy")
def _direct(out, e, F):
    """``out = e @ F`` for ``e`` ``(B, k)``: by BLAS, or for a few outputs (the usual case) as
    k scaled rows, which at n = 32 costs less than the call into BLAS."""
    k = F.shape[0]
    if k == 0:
        out[:] = 0.0
        return
    if k > 8:
        np.dot(e, F, out)
        return
    B, n = out.shape
    for b in range(B):
        for i in range(n):
            out[b, i] = e[b, 0] * F[0, i]
        for o in range(1, k):
            w = e[b, o]
            for i in range(n):
                out[b, i] += w * F[o, i]


@njit(cache=True, error_model="numpy", nogil=True)
def rate_loop(X, W_in_T, F, S, W_rec_T, bias, a, lk, code, with_gain, b0, b1):
    """Fill ``S[1:, b0:b1]`` ``(T+1, B, n)`` from ``S[0]`` for trials ``b0 ≤ b < b1``; ``F``
    ``(T, B, n)`` is written with ``f(u_t)``, or with ``with_gain`` the gain ``α ⊙ f'(u_t)``.

    ``X`` ``(T, B, n_in)`` holds the inputs, ``W_in_T`` is ``W_inᵀ`` and ``W_rec_T`` is ``W_recᵀ``
    (C order); ``bias`` is b, ``a`` and ``lk`` are α and 1-α, per unit ``(n,)``.  Trials are
    independent, so disjoint ranges may run at once in different threads (the GIL is released).
    """
    T, n = F.shape[0], F.shape[2]
    buf = np.empty((b1 - b0, n), dtype=S.dtype)
    for t in range(T):
        u, s0, s1 = F[t, b0:b1], S[t, b0:b1], S[t + 1, b0:b1]
        _direct(u, X[t, b0:b1], W_in_T)  # the drive W_in x_t
        np.dot(s0, W_rec_T, buf)
        if code == 0 and n >= 8:  # tanh in one pass, vectorised along the units
            for b in range(b1 - b0):
                for i in range(n):
                    f = _tanh((u[b, i] + bias[i]) + buf[b, i])
                    s1[b, i] = f * a[i] + s0[b, i] * lk[i]
                    u[b, i] = (1.0 - f * f) * a[i] if with_gain else f
            continue
        for b in range(b1 - b0):  # a few units: one flat pass per operation vectorises better
            for i in range(n):
                u[b, i] = (u[b, i] + bias[i]) + buf[b, i]
        _activate(u, code)
        for b in range(b1 - b0):
            for i in range(n):
                s1[b, i] = u[b, i] * a[i] + s0[b, i] * lk[i]
        if with_gain:
            for b in range(b1 - b0):
                for i in range(n):
                    u[b, i] = _slope(u[b, i], code) * a[i]


@njit(cache=True, error_model="numpy", nogil=True)
def current_loop(S, R, aW_rec_T, lk, code, b0, b1):
    """Add the recurrence to ``S[1:, b0:b1]`` ``(T+1, B, n)`` in place and fill
    ``R[1:, b0:b1] = f(S[1:, b0:b1])`` (trials ``b0 ≤ b < b1``)."""
    T, n = S.shape[0] - 1, S.shape[2]
    buf = np.empty((b1 - b0, n), dtype=S.dtype)
    for t in range(T):
        np.dot(R[t, b0:b1], aW_rec_T, buf)
        r, s0, s1 = R[t + 1, b0:b1], S[t, b0:b1], S[t + 1, b0:b1]
        for b in range(b1 - b0):
            for i in range(n):
                v = s1[b, i] + buf[b, i] + s0[b, i] * lk[i]
                s1[b, i] = v
                r[b, i] = v
        _activate(r, code)


@njit(cache=True, error_model="numpy", nogil=True)
def credit_loop(G, gain, slope, has_slope, error, F, W_rec, lk, b0, b1):
    """Write ``G_t = gain_t ⊙ c_t`` into ``G[:, b0:b1]`` ``(T, B, n)`` (which may be ``gain``
    itself) for trials ``b0 ≤ b < b1``.

    ``error`` ``(T, B, n_out)``, ``F = Bᵀ`` ``(n_out, n)``, ``slope`` ``(T+1, B, n)`` when
    ``has_slope`` (the current form), ``lk`` = 1-α per unit ``(n,)``.
    """
    T, n = G.shape[0], G.shape[2]
    c = np.zeros((b1 - b0, n), dtype=G.dtype)
    back = np.zeros((b1 - b0, n), dtype=G.dtype)  # c_{T+1} = 0: nothing comes back from T+1
    direct = np.empty((b1 - b0, n), dtype=G.dtype)
    for t in range(T - 1, -1, -1):  # array index t holds time t+1
        if t < T - 1:
            np.dot(G[t + 1, b0:b1], W_rec, back)
        _direct(direct, error[t, b0:b1], F)
        g, gn = G[t, b0:b1], gain[t, b0:b1]
        for b in range(b1 - b0):
            for i in range(n):
                r = back[b, i] + direct[b, i]
                if has_slope:
                    r *= slope[t + 1, b0 + b, i]
                ci = c[b, i] * lk[i] + r
                c[b, i] = ci
                g[b, i] = ci * gn[b, i]


@njit(cache=True, error_model="numpy", nogil=True)
def few_columns_gram(A, G, out):
    """``out = Aᵀ G`` ``(k, n)`` for a tall ``A`` ``(K, k)`` with a few columns (inputs or
    outputs) and ``G`` ``(K, n)``: one pass down the rows, vectorised along ``n`` (BLAS runs
    this shape at a few GFLOP/s)."""
    K, k = A.shape
    out[:] = 0.0
    for r in range(K):
        for o in range(k):
            w = A[r, o]
            for i in range(G.shape[1]):
                out[o, i] += w * G[r, i]


@njit(cache=True, error_model="numpy", nogil=True)
def time_major(x, out):
    """``out[t, b] = x[b, t]``: trial-major ``(B, T, k)`` to time-major ``(T, B, k)``."""
    B, T, k = x.shape
    for b in range(B):
        for t in range(T):
            for o in range(k):
                out[t, b, o] = x[b, t, o]
