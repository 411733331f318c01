r"""KeRNL: kernel RNN learning (Roth, Kanitscheider & Fiete 2019, ICLR).

Roth, Kanitscheider & Fiete, "Kernel RNN Learning (KeRNL)", ICLR 2019, Algorithm 1 (the
pseudocode on p. 5, as Marschall et al. 2020's ``learning_algorithms/KeRNL.py`` cites it).
Sources: the paper's abstract; the paper's full text was not available to us, so the equations
below follow the two public implementations of Algorithm 1 we read, Marschall et al.'s
``KeRNL.py`` (vanilla-rtrl) and ``kernl_rnn_cell.py`` with its training script in the
``eghbalhosseini/KeRNL`` repository; both have the ``Ω``, ``Γ``, ``δ`` and the β, γ updates
below (they differ in when the noise enters the copy, see "The perturbed copy").

KeRNL replaces the influence of a past state on the present by a learned **sensitivity** ``β``
(unit × unit) times a per-unit exponential **kernel** with a learned rate ``γ``,

    ∂s_k(t)/∂s_i(t')  ≈  β_ki e^{-γ_i (t-t')}        (t' ≤ t),

so the influence ``M_t = ∂s_t/∂Θ`` (:mod:`.base`) becomes ``M_t[k, (i, j)] ≈ β_ki e_ij(t)``
with one eligibility trace per synapse of ``Θ = [W_rec | W_in | b]``:

    e_ij(t) = e^{-γ_i} e_ij(t-1) + gain_t[i] â_t[j]             (eligibility trace)
    ∂L/∂Θ_ij ≈ Σ_t (βᵀ q_t)_i e_ij(t)                           (the estimate)

with ``gain_t = α ⊙ φ'(u_t)``, ``â_t = [ρ(s_{t-1}), x_t, 1]`` and the direct credit
``q_t = slope_t ⊙ (B e_t)``: KeRNL's eligibility ``Σ_{t'} e^{-γ_j(t-t')} φ'(u_j(t'))
a_k(t'-1)`` (Hosseini's cell, non-leaky units) with the factor α of leaky units as Marschall
et al. write it (their ``α φ'(h) â``), and ``ρ(s)`` as the presynaptic rate.

``β`` and ``γ`` are learned online by **perturbation regression**: noise ``ξ_t ~ N(0, σ²)``
is injected into the units of a perturbed copy of the network, and ``β``, ``γ`` descend
``ℓ_t = ½ ‖β Ω_t − d_t‖²``, the error of predicting the copy's deviation ``d_t = s̃_t − s_t``
from the kernel-filtered noise ``Ω_t``:

    Ω_t = e^{-γ} ⊙ Ω_{t-1} + ξ_t                   (filtered noise, ``Σ_{t'} e^{-γ(t-t')} ξ_{t'}``)
    Γ_t = ∂Ω_t/∂γ = e^{-γ} ⊙ (Γ_{t-1} − Ω_{t-1})
    δ_t = β Ω_t − d_t
    β ← β − η_β ⟨δ_t Ω_tᵀ⟩,    γ ← γ − η_γ ⟨(βᵀ δ_t) ⊙ Γ_t⟩

where ``⟨·⟩`` is the mean over the trials of a batch: ``β`` and ``γ`` are parameters of the
learner, shared by all trials (each trial has its own noise, ``d``, ``Ω``, ``Γ`` and ``e``).
Within a step the order is Marschall et al.'s: the kernel ``e^{-γ}`` of
this step uses ``γ`` before the update, both updates use ``β`` before the update, and the
estimate ``βᵀ q_t`` uses the updated ``β``.

**The perturbed copy.**  The noise enters the copy's state the way a parameter's immediate
influence enters (``Ī_t`` adds to ``s_t``), so the sensitivity learned from it is the one the
estimate needs, ``Δt = 0`` included: ``ξ_t`` is added to ``s̃_t`` and then both ``Ω_t`` and
``d_t`` hold it unpropagated, which makes the ``W_rec = 0`` limit below self-consistent
(``δ ≡ 0``).  (Marschall et al. add ``ζ_t`` to the copy only after comparing, so their target
lacks the newest noise that their ``Ω_t`` has; Hosseini adds ``ψ_t`` to the state before the
step, so the newest term of ``Ω_t`` has already passed one step of dynamics.)

The copy is kept as its deviation ``d_t`` propagated through the network's Jacobian,

    d_t = D_t d_{t-1} + ξ_t,    D_t = diag(1-α) + diag(gain_t) W_rec diag(slope_{t-1}),

which is the O(σ) part of ``s̃_t − s_t`` for a copy run with the same weights and inputs
(tested against such a copy: they differ by O(σ²)).  We keep the linear part because an
online rule sees only :class:`~.base.Step`: a nonlinear copy needs ``s_{t-1}`` and ``x_t``
(the current form's state and a frozen ``W_in``'s input are not in ``Step``).  Everything is
then linear in ξ: only ``η σ²`` matters, and the regression is free of the rounding error of
subtracting two nearby trajectories.

**Mapping to Marschall et al. 2020's code** (``learning_algorithms/KeRNL.py``): their ``A``,
``B``, ``Omega``, ``Gamma``, ``noisy_rnn`` are our ``β``, ``e``, ``Ω``, ``Γ``, ``s + d``;
they parameterise the kernel as ``1 - α_i`` (linear), we as ``e^{-γ_i}`` (the paper's).

**Exact limit** (tested): with ``W_rec = 0`` the Jacobian is ``D_t = diag(1-α)``, so RTRL's
influence is ``M_t[k, (i, j)] = δ_ki P_ij(t)`` with ``P_ij(t) = (1-α_i) P_ij(t-1) + gain_t[i]
â_t[j]``.  With ``β = I`` and ``e^{-γ} = 1 - α`` (the defaults) KeRNL's ``β e`` is exactly that,
and the copy obeys ``d_t = (1-α) d_{t-1} + ξ_t = Ω_t``: ``δ_t = 0``, so β and γ stay put
even while learning.  With the learning rates 0, KeRNL is RFLO with the same feedback for any
``W_rec`` (Marschall et al.'s test of their code).

**Defaults.**  ``β_0 = I`` and ``e^{-γ_0} = 1 - α`` per unit, as in Marschall et al.'s test of
the reduction to RFLO (α = 1 gives γ = ∞, a kernel of 0, which learning cannot move).  Marschall
et al.'s own defaults are ``σ = 10⁻⁵``, ``A = I`` and ``α_i = 0.8`` (their kernel
``max(0, 1 - α_i)``, clipped at 0), with the learning rates left to the optimizer passed in.
``noise_std = 0.01``, ``beta_rate = 0.1``, ``gamma_rate = 0.001`` are ours (we could not read
the paper's hyperparameter table): since ``⟨Ω Ωᵀ⟩ ≈ σ²/(1-k²)`` per
unit with ``k = e^{-γ}``, β relaxes by about ``η_β σ²/(1-k²)`` per step, a few 10⁻⁵ at α = 0.1;
``Γ``'s variance grows like ``(1-k²)^{-3}``, so γ's rate is smaller.  γ is not clipped (a
negative γ is an unstable kernel); lower ``gamma_rate`` if it diverges.

**β and γ persist** in the online state: the training loop resets only ``state.sums`` between
online updates.  A new ``init`` (each per-trial call, each new batch) starts them again from
the options.

Cost per step and trial: O(n·m) for the trace and the estimate, O(n²) for the copy and the
regression; memory O(n·m) per trial plus the shared ``β`` (n²).  Default feedback:
symmetric.  No teacher forcing (``no_teacher_forcing`` says why).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import ClassVar

import numpy as np

from ..network import LeakyRNN
from .base import Step, register
from .online import Stepwise, Sums, apply_jacobian, theta_width

__all__ = ["KeRNL", "KeRNLState"]

BETA0 = ("identity", "random")


@dataclass
class KeRNLState:
    """Online state of KeRNL; ``B`` trials, ``n`` units, ``m`` columns of plastic ``Θ``."""

    beta: np.ndarray  # (n, n): sensitivity β, shared by the trials
    gamma: np.ndarray  # (n,): kernel rates γ, shared
    trace: np.ndarray  # (B, n, m): eligibility e_ij(t) per trial
    shadow: np.ndarray  # (B, n): d_t = s̃_t - s_t, the perturbed copy's deviation
    omega: np.ndarray  # (B, n): Ω_t, the kernel-filtered noise
    omega_grad: np.ndarray  # (B, n): Γ_t = ∂Ω_t/∂γ
    rng: np.random.Generator
    sums: Sums


def _rate(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number >= 0; got {value!r}")
    if not (math.isfinite(float(value)) and float(value) >= 0):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")


@register
@dataclass(frozen=True)
class KeRNL(Stepwise):
    """Learned sensitivity × learned exponential kernel, learned from injected noise.

    Parameters
    ----------
    beta_rate, gamma_rate:
        Step sizes ``η_β``, ``η_γ`` of the perturbation regression (plain SGD on ``ℓ_t``, mean
        over trials); 0 freezes β or γ.
    noise_std:
        ``σ``, the standard deviation of the noise injected into the perturbed copy.
    beta0:
        ``"identity"`` (β_0 = I) or ``"random"`` (β_0 entries N(0, 1/n) from the rule's rng).
    gamma0:
        ``"leak"`` (``e^{-γ_0} = 1 - α`` per unit) or one number ``γ_0 >= 0`` for every unit.
    """

    name: ClassVar[str] = "kernl"
    no_teacher_forcing: ClassVar[str] = (
        "its sensitivity β and decay γ are fitted to the free-running network's responses "
        "to noise, and no forced version of that fit is defined (Roth et al. 2019 define none)"
    )
    default_feedback: ClassVar[str] = "symmetric"

    beta_rate: float = 0.1
    gamma_rate: float = 0.001
    noise_std: float = 0.01
    beta0: str = "identity"
    gamma0: str | float = "leak"

    def __post_init__(self) -> None:
        _rate("beta_rate", self.beta_rate)
        _rate("gamma_rate", self.gamma_rate)
        _rate("noise_std", self.noise_std)
        if not isinstance(self.beta0, str) or self.beta0 not in BETA0:
            raise ValueError(f"beta0 must be one of {list(BETA0)}; got {self.beta0!r}")
        if isinstance(self.gamma0, str):
            if self.gamma0 != "leak":
                raise ValueError(f"gamma0 must be 'leak' or a number >= 0; got {self.gamma0!r}")
        else:
            _rate("gamma0", self.gamma0)

    @property
    def learning(self) -> bool:
        """Whether β or γ change (otherwise no noise is drawn and no copy is run)."""
        return (self.beta_rate > 0 or self.gamma_rate > 0) and self.noise_std > 0

    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> KeRNLState:
        """β_0, γ_0 from the options; zero traces, copy and filtered noise."""
        n, d = net.n_rec, net.dtype
        if self.beta0 == "identity":
            beta = np.eye(n, dtype=d)
        else:
            beta = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(d)
        if self.gamma0 == "leak":
            with np.errstate(divide="ignore"):  # α = 1: γ = ∞, a kernel of 0
                gamma = -np.log1p(-np.broadcast_to(np.asarray(net.alpha, np.float64), (n,)))
        else:
            gamma = np.full(n, float(self.gamma0))
        zeros = np.zeros((n_trials, n), dtype=d)
        return KeRNLState(
            beta=beta,
            gamma=gamma.astype(d),
            trace=np.zeros((n_trials, n, theta_width(net)), dtype=d),
            shadow=zeros.copy(),
            omega=zeros.copy(),
            omega_grad=zeros,
            rng=rng,
            sums=Sums.zeros(net),
        )

    def step(self, state: KeRNLState, net: LeakyRNN, st: Step) -> KeRNLState:
        """One step (Marschall et al.'s order): trace, copy, filtered noise, β and γ, estimate."""
        kernel = np.exp(-state.gamma)  # e^{-γ} before this step's update
        E = state.trace
        E *= kernel[:, None]
        E += st.gain[:, :, None] * st.pre[:, None, :]
        if self.learning:
            self._learn(state, net, st, kernel)
        w = st.credit @ state.beta  # (βᵀ q_t)_i = Σ_k q_k β_ki, per trial
        state.sums.theta += np.einsum("bi,bij->ij", w, E)
        state.sums.add_readout(st)
        return state

    def _learn(self, state: KeRNLState, net: LeakyRNN, st: Step, kernel: np.ndarray) -> None:
        B, n = st.gain.shape
        xi = (self.noise_std * state.rng.standard_normal((B, n))).astype(net.dtype)
        state.shadow = apply_jacobian(net, st, state.shadow) + xi  # d_t = D_t d_{t-1} + ξ_t
        state.omega_grad = kernel * (state.omega_grad - state.omega)  # Γ_t, with Ω_{t-1}
        state.omega = kernel * state.omega + xi  # Ω_t
        beta = state.beta
        delta = state.omega @ beta.T - state.shadow  # δ_t = β Ω_t - d_t   (B, n)
        grad_beta = (delta.T @ state.omega) / B  # ⟨δ Ωᵀ⟩
        grad_gamma = np.mean((delta @ beta) * state.omega_grad, axis=0)  # ⟨(βᵀδ) ⊙ Γ⟩
        state.beta = beta - self.beta_rate * grad_beta
        if self.gamma_rate > 0:
            state.gamma = state.gamma - self.gamma_rate * grad_gamma
