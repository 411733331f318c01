r"""UORO: unbiased online recurrent optimisation (Tallec & Ollivier 2018, ICLR).

Tallec & Ollivier, "Unbiased online recurrent optimization", Algorithm 1 and Prop. 1.  The
influence is kept as one outer product, ``M_t ≈ ã_t ⊗ b̃_t`` with ``ã ∈ R^n`` (the state side)
and ``b̃`` of the shape of ``Θ = [W_rec | W_in | b]``.  With independent random signs
``ν ∈ {±1}^n`` each step,

    ã_t = ρ0 D_t ã_{t-1} + ρ1 ν
    b̃_t = b̃_{t-1} / ρ0 + (ν ⊙ gain_t) â_tᵀ / ρ1

is unbiased, ``E[ã_t ⊗ b̃_t] = D_t M_{t-1} + Ī_t`` (the cross terms have ``E[ν] = 0`` and
``E[ν νᵀ] = I`` turns ``ν ⊗ (ν ⊙ gain) âᵀ`` into ``Ī_t``), and the gradient estimate is
``Σ_t (q_t · ã_t) b̃_t``.  The variance-minimising scalings are (Alg. 1)

    ρ0 = √(‖b̃_{t-1}‖ / ‖D_t ã_{t-1}‖),   ρ1 = √(‖(ν ⊙ gain_t) â_tᵀ‖ / ‖ν‖) = √(‖gain_t‖ ‖â_t‖ / √n).

Both are computed before ν is drawn (``ρ1`` does not depend on ν's signs), so the estimate
stays unbiased; where a norm is 0 (the first step) the scaling is 1.  The state starts at
zero, the true ``M_0``, not at random values.  Each trial of a batch has its own ``ã, b̃``
and signs: the estimates of different trials are independent.  Option ``seed`` comes through
:func:`bioplastic.gradient`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import kernels
from ..network import LeakyRNN, Trace
from .base import (
    Step,
    direct_credit,
    leak,
    output_readout,
    presynaptic,
    register,
    split_theta,
)
from .online import (
    Stepwise,
    Sums,
    apply_jacobian,
    balance,
    norms,
    random_signs,
    theta_width,
)

__all__ = ["UORO", "UOROState"]


@dataclass
class UOROState:
    a: np.ndarray  # (trial, unit): ã
    b: np.ndarray  # (trial, unit, m): b̃
    rng: np.random.Generator
    sums: Sums


@register
@dataclass(frozen=True)
class UORO(Stepwise):
    """Rank-one unbiased estimate of the influence (no options)."""

    name: ClassVar[str] = "uoro"
    default_feedback: ClassVar[str] = "symmetric"

    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> UOROState:
        d = net.dtype
        return UOROState(
            np.zeros((n_trials, net.n_rec), dtype=d),
            np.zeros((n_trials, net.n_rec, theta_width(net)), dtype=d),
            rng,
            Sums.zeros(net),
        )

    def step(self, state: UOROState, net: LeakyRNN, st: Step) -> UOROState:
        B, n = st.gain.shape
        Da = apply_jacobian(net, st, state.a)
        rho0 = balance(norms(state.b), norms(Da))[:, None]
        rho1 = balance(norms(st.gain) * norms(st.pre), np.full(B, np.sqrt(n)))[:, None]
        nu = random_signs(state.rng, (B, n), net.dtype)
        state.a = rho0 * Da + rho1 * nu
        state.b /= rho0[:, :, None]
        state.b += ((nu * st.gain) / rho1)[:, :, None] * st.pre[:, None, :]
        w = np.einsum("bi,bi->b", st.credit, state.a)  # q_t · ã_t
        state.sums.theta += np.einsum("b,bij->ij", w, state.b)
        state.sums.add_readout(st)
        return state

    def clamp(self, state: UOROState, forced: np.ndarray) -> None:
        """Teacher forcing: zero the forced units' rows of ã ⊗ b̃."""
        state.a[forced] = 0.0

    def gradient(
        self,
        net: LeakyRNN,
        trace: Trace,
        error: np.ndarray,
        feedback: np.ndarray,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        """The online recursion with everything that does not depend on ``ã, b̃`` hoisted out
        of the loop: all signs, ``ρ1``, ``ν ⊙ gain / ρ1`` and the readout are computed for
        every step at once.  Equal to stepping the online face (tested).  Memory: the
        ``(time, trial, unit)`` signs and scaled gains on top of the online state."""
        q = direct_credit(net, trace, error, feedback)
        pre = presynaptic(net, trace)  # (T, B, m)
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._loop(net, trace, error, q, pre, rng)

    def _loop(self, net, trace, e, q, pre, rng) -> dict[str, np.ndarray]:
        gain, slope = trace.gain, trace.slope
        T, B, n = q.shape
        nu = random_signs(rng, (T, B, n), net.dtype)  # the same draws as T online steps
        if kernels.available() and np.dtype(net.dtype) == np.float64:
            from ..kernels.uoro_trial import theta_from_coefficients, uoro_loop

            lk = np.broadcast_to(np.asarray(leak(net), np.float64), (n,)).copy()
            pre = np.ascontiguousarray(pre)
            KU = uoro_loop(
                np.ascontiguousarray(gain),
                slope if slope is not None else np.empty((1, 1, 1)),
                slope is not None,
                lk,
                np.ascontiguousarray(net.params["W_rec"].T),
                nu,
                pre,
                np.ascontiguousarray(q),
            )
            theta = theta_from_coefficients(KU, pre)
            return {**split_theta(net, theta), **output_readout(net, trace, e)}
        rho1 = balance(
            np.sqrt(np.einsum("tbi,tbi->tb", gain, gain) * np.einsum("tbj,tbj->tb", pre, pre)),
            np.full((T, B), np.sqrt(n)),
        )[:, :, None]
        V = rho1 * nu  # ρ1 ν
        U = nu * gain / rho1  # (ν ⊙ gain) / ρ1
        W_rec_T, lk = net.params["W_rec"].T, leak(net)
        m = pre.shape[2]
        a = np.zeros((B, n), dtype=net.dtype)
        b = np.zeros((B, n, m), dtype=net.dtype)
        b_flat = b.reshape(B, n * m)
        theta = np.zeros((n, m), dtype=net.dtype)
        theta_flat = theta.reshape(n * m)
        y, tmp = np.empty_like(a), np.empty_like(a)
        for t in range(T):
            src = a if slope is None else a * slope[t]
            np.matmul(src, W_rec_T, out=y)  # D_t ã = (1-α) ã + gain ⊙ W_rec (slope ⊙ ã)
            y *= gain[t]
            y += np.multiply(a, lk, out=tmp)
            # ρ0 = (‖b̃‖² / ‖D ã‖²)^¼, and 1 where either norm is 0 (as `balance` does)
            rho0 = np.vecdot(b_flat, b_flat) / np.vecdot(y, y)
            if not (rho0.min() > 0 and rho0.max() < np.inf):  # NaN fails both tests
                rho0[~((rho0 > 0) & (rho0 < np.inf))] = 1.0
            rho0 **= 0.25
            np.multiply(y, rho0[:, None], out=a)
            a += V[t]
            b /= rho0[:, None, None]
            b += U[t][:, :, None] * pre[t][:, None, :]
            theta_flat += np.vecdot(q[t], a) @ b_flat  # Σ_trials (q_t · ã_t) b̃_t
        return {**split_theta(net, theta), **output_readout(net, trace, e)}
