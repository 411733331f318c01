r"""R-KF-RTRL: "reverse" Kronecker-factored RTRL (Marschall, Cho & Savin 2020, JMLR 21).

Marschall et al., "A unified framework of online learning algorithms for training recurrent
neural networks", sec. 4.1 (R-KF-RTRL).  The influence is factored the other way round from
KF-RTRL: the parameter's *postsynaptic* index k gets a vector and the state index i shares a
matrix with the presynaptic index j,

    M_t[i, (k, j)] ≈ B_t[i, j] a_t[k],    a ∈ R^n,  B ∈ R^{n×m} .

The immediate influence ``δ_ik gain_t[k] â_t[j]`` is not of that form, so, as in UORO, it is
projected on random signs ``ν ∈ {±1}^n`` (``E[ν_i ν_k] = δ_ik``):

    a_t = p0 a_{t-1} + p1 ν,    B_t = D_t B_{t-1} / p0 + (ν ⊙ gain_t) â_tᵀ / p1,

with ``p0 = √(‖D_t B‖/‖a‖)`` and ``p1 = √(‖(ν ⊙ gain) âᵀ‖/‖ν‖) = √(‖gain‖ ‖â‖/√n)``, 1 where a
norm is 0.  The estimate is ``Σ_t a_t ⊗ (q_tᵀ B_t)``.  Cost: one ``n × n × m`` product per
step and trial.  The state starts at zero (the true ``M_0``); Marschall et al.'s code starts it
at Gaussian noise, which is unbiased only in expectation over that noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..network import LeakyRNN
from .base import Step, register
from .online import (
    Stepwise,
    Sums,
    apply_jacobian,
    balance,
    norms,
    random_signs,
    theta_width,
)

__all__ = ["RKFRTRL", "RKFState"]


@dataclass
class RKFState:
    a: np.ndarray  # (trial, unit k)
    B: np.ndarray  # (trial, unit i, m)
    rng: np.random.Generator
    sums: Sums


@register
@dataclass(frozen=True)
class RKFRTRL(Stepwise):
    """Reverse Kronecker-factored unbiased estimate of the influence (no options)."""

    name: ClassVar[str] = "rkf_rtrl"
    default_feedback: ClassVar[str] = "symmetric"

    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> RKFState:
        d = net.dtype
        return RKFState(
            np.zeros((n_trials, net.n_rec), dtype=d),
            np.zeros((n_trials, net.n_rec, theta_width(net)), dtype=d),
            rng,
            Sums.zeros(net),
        )

    def step(self, state: RKFState, net: LeakyRNN, st: Step) -> RKFState:
        Bt, n = st.gain.shape
        DB = apply_jacobian(net, st, state.B)
        p0 = balance(norms(DB), norms(state.a))[:, None]
        p1 = balance(norms(st.gain) * norms(st.pre), np.full(Bt, np.sqrt(n)))[:, None]
        nu = random_signs(state.rng, (Bt, n), net.dtype)
        state.a = p0 * state.a + p1 * nu
        DB /= p0[:, :, None]
        DB += ((nu * st.gain) / p1)[:, :, None] * st.pre[:, None, :]
        state.B = DB
        qB = np.einsum("bi,bij->bj", st.credit, state.B)  # q_tᵀ B_t
        state.sums.theta += state.a.T @ qB
        state.sums.add_readout(st)
        return state

    def clamp(self, state: RKFState, forced: np.ndarray) -> None:
        """Teacher forcing: zero the forced units' rows of B ⊗ a."""
        state.B[forced] = 0.0
