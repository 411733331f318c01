r"""The two time loops of an exact gradient, compiled: the forward recursion and BPTT's credit.

Everything in a trial that does not depend on the previous step (the input drive, the readout,
the derivatives, the weight gradients) is one large matrix product in numpy already; what is
left is one small product per step, which numpy dispatches at a cost comparable to its
arithmetic at the sizes of Murray 2019 (30 units) and Marschall et al. 2020 (32).  These loops
run the same equations as the numpy path they replace (:meth:`bioplastic.LeakyRNN.forward`,
:func:`bioplastic.rules.bptt.backward`), the products through the same BLAS:

rate form (``F[t]`` holds the drive ``W_in x_t`` and leaves with ``f(u_t)`` or the gain)::

    u_t = F[t] + b + W_rec h_{t-1},   h_t = α f(u_t) + (1-α) h_{t-1}

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

__all__ = ["ACTIVATION_CODES", "rate_loop", "current_loop", "credit_loop"]

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


@njit(cache=True, error_model="numpy")
def rate_loop(F, S, W_rec_T, bias, a, lk, code, with_gain):
    """Fill ``S[1:]`` ``(T+1, B, n)`` from ``S[0]``; ``F`` ``(T, B, n)`` comes in holding
    ``W_in x_t`` and ends holding ``f(u_t)``, or with ``with_gain`` the gain ``α ⊙ f'(u_t)``
    (each ``F[t]`` is spent once it is read).

    ``W_rec_T`` is ``W_recᵀ`` (C order); ``bias`` is b, ``a`` and ``lk`` are α and 1-α, per unit
    ``(n,)``.
    """
    T, B, n = F.shape
    buf = np.empty((B, n), dtype=S.dtype)
    for t in range(T):
        np.dot(S[t], W_rec_T, buf)
        u = F[t]
        for b in range(B):
            for i in range(n):
                u[b, i] = (u[b, i] + bias[i]) + buf[b, i]
        _activate(u, code)
        for b in range(B):
            for i in range(n):
                S[t + 1, b, i] = u[b, i] * a[i] + S[t, b, i] * lk[i]
        if with_gain:
            for b in range(B):
                for i in range(n):
                    u[b, i] = _slope(u[b, i], code) * a[i]


@njit(cache=True, error_model="numpy")
def current_loop(S, R, aW_rec_T, lk, code):
    """Add the recurrence to ``S[1:]`` ``(T+1, B, n)`` in place and fill ``R[1:] = f(S[1:])``."""
    T = S.shape[0] - 1
    B, n = S.shape[1], S.shape[2]
    buf = np.empty((B, n), dtype=S.dtype)
    for t in range(T):
        np.dot(R[t], aW_rec_T, buf)
        r = R[t + 1]
        for b in range(B):
            for i in range(n):
                v = S[t + 1, b, i] + buf[b, i] + S[t, b, i] * lk[i]
                S[t + 1, b, i] = v
                r[b, i] = v
        _activate(r, code)


@njit(cache=True, inline="always", error_model="numpy")
def _direct(out, e, F):
    """``out = e @ F`` for ``e`` ``(B, k)``: by BLAS, or for a few outputs (the usual case) as
    k scaled rows, which at n = 32 costs less than the call into BLAS."""
    k = F.shape[0]
    if k > 8 or k == 0:
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


@njit(cache=True, error_model="numpy")
def credit_loop(G, gain, slope, has_slope, error, F, W_rec, lk):
    """Write ``G_t = gain_t ⊙ c_t`` into ``G`` ``(T, B, n)`` (which may be ``gain`` itself).

    ``error`` ``(T, B, n_out)``, ``F = Bᵀ`` ``(n_out, n)``, ``slope`` ``(T+1, B, n)`` when
    ``has_slope`` (the current form), ``lk`` = 1-α per unit ``(n,)``.
    """
    T, B, n = G.shape
    c = np.empty((B, n), dtype=G.dtype)
    back = np.empty((B, n), dtype=G.dtype)
    direct = np.empty((B, n), dtype=G.dtype)
    _direct(c, error[T - 1], F)
    for b in range(B):
        for i in range(n):
            if has_slope:
                c[b, i] *= slope[T, b, i]
            G[T - 1, b, i] = c[b, i] * gain[T - 1, b, i]
    for t in range(T - 2, -1, -1):  # array index t holds time t+1
        np.dot(G[t + 1], W_rec, back)
        _direct(direct, error[t], F)
        for b in range(B):
            for i in range(n):
                r = back[b, i] + direct[b, i]
                if has_slope:
                    r *= slope[t + 1, b, i]
                ci = c[b, i] * lk[i] + r
                c[b, i] = ci
                G[t, b, i] = ci * gain[t, b, i]
