r"""KF-RTRL: Kronecker-factored RTRL (Mujika, Meier & Steger 2018, NeurIPS).

Mujika et al., "Approximating real-time recurrent learning with random Kronecker factors",
sec. 4 (Theorem 1 and its update).  For networks whose immediate influence is itself a
Kronecker product, ``Ī_t[i, (k, j)] = diag(gain_t)[i, k] · â_t[j]``, the influence is kept as

    M_t[i, (k, j)] ≈ A_t[i, k] u_t[j],    A ∈ R^{n×n},  u ∈ R^m .

``D_t M_{t-1} + Ī_t`` is then a sum of two Kronecker products, ``(D_t A) ⊗ u + diag(gain) ⊗ â``,
reduced to one without bias with two random signs ``c1, c2 ∈ {±1}``:

    u_t = c1 p1 u_{t-1} + c2 p2 â_t,    A_t = c1 D_t A_{t-1} / p1 + c2 diag(gain_t) / p2,

with the norm-balancing ``p1 = √(‖D_t A‖/‖u‖)``, ``p2 = √(‖gain_t‖/‖â_t‖)`` (Mujika et al.'s
variance-minimising choice), 1 where a norm is 0.  The estimate is
``Σ_t (q_tᵀ A_t) ⊗ u_t``.  Cost: one ``n × n × n`` product per step and trial.  The state
starts at zero (the true ``M_0``); each trial has its own factors and signs.
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

__all__ = ["KFRTRL", "KFState"]


@dataclass
class KFState:
    u: np.ndarray  # (trial, m)
    A: np.ndarray  # (trial, unit i, unit k)
    rng: np.random.Generator
    sums: Sums


@register
@dataclass(frozen=True)
class KFRTRL(Stepwise):
    """Kronecker-factored unbiased estimate of the influence (no options)."""

    name: ClassVar[str] = "kf_rtrl"
    default_feedback: ClassVar[str] = "symmetric"

    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> KFState:
        d = net.dtype
        return KFState(
            np.zeros((n_trials, theta_width(net)), dtype=d),
            np.zeros((n_trials, net.n_rec, net.n_rec), dtype=d),
            rng,
            Sums.zeros(net),
        )

    def step(self, state: KFState, net: LeakyRNN, st: Step) -> KFState:
        B, n = st.gain.shape
        DA = apply_jacobian(net, st, state.A)
        p1 = balance(norms(DA), norms(state.u))[:, None]
        p2 = balance(norms(st.gain), norms(st.pre))[:, None]
        c = random_signs(state.rng, (B, 2), net.dtype)
        c1, c2 = c[:, :1], c[:, 1:]
        state.u = c1 * p1 * state.u + c2 * p2 * st.pre
        state.A = DA * (c1 / p1)[:, :, None]
        diag = np.arange(n)
        state.A[:, diag, diag] += (c2 / p2) * st.gain
        v = np.einsum("bi,bik->bk", st.credit, state.A)  # q_tᵀ A_t
        state.sums.theta += v.T @ state.u
        state.sums.add_readout(st)
        return state

    def clamp(self, state: KFState, forced: np.ndarray) -> None:
        """Teacher forcing: zero the forced units' rows of A ⊗ u."""
        state.A[forced] = 0.0
