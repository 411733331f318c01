r"""Node perturbation: REINFORCE with Gaussian noise on each unit's input current.

Williams 1992 (Machine Learning 8:229), REINFORCE with Gaussian units (sec. 6); Fiete & Seung
2006 (Phys. Rev. Lett. 97:048104), for a recurrent network in continuous time.  Every unit's
input current gets independent noise ``ξ_t ~ N(0, σ²)`` at every step (and every output
``ζ_t ~ N(0, σ²)`` when the readout learns).  Since ``u_t = Θ â_t + ξ_t``,

    ∂L/∂Θ = Σ_t (∂L/∂u_t) â_tᵀ,    E[(ℓ(ξ) - ℓ̄) ξ_t] / σ² = ∂ℓ/∂u_t + O(σ²)

for any baseline ``ℓ̄`` independent of ξ, so the estimate (:mod:`.reward`)

    ĝ_Θ = Σ_b (ℓ_b - ℓ̄_b) / n_trials · Σ_t ξ_{b,t} â_{b,t}ᵀ / σ²
    ĝ_{W_out} = Σ_b (ℓ_b - ℓ̄_b) / n_trials · Σ_t ζ_{b,t} ρ(s_{b,t})ᵀ / σ²,  ĝ_{b_out} likewise

is unbiased up to O(σ²) and needs only the scalar ``ℓ_b`` (the negative reward).  ``â_t`` is the
noisy run's presynaptic activity.  The eligibility ``ξ_t â_tᵀ`` is local: the noise a unit
received times its input.  The default baseline is the same trial without noise
(``"clean"``: an estimate from one batch, as ``bp.gradient`` gives, needs no history); training
in the spirit of Fiete & Seung takes ``baseline="running"``.  Noise on the outputs (when the
readout learns) adds its variance to every estimate: freeze the readout to learn the recurrent
side alone.  Both forms; spatial feedback does not apply (there is no error to
send back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..network import LeakyRNN, Trace
from .base import output_readout, recurrent_readout, register
from .online import Sums
from .reward import Noise, RewardStep, check_reward_options

__all__ = ["NodePerturbation", "EligibilityState"]


@dataclass
class EligibilityState:
    """Per-trial eligibilities of ``Θ`` ``(trial, unit, m)`` and the readout."""

    theta: np.ndarray
    W_out: np.ndarray  # (trial, output, unit)
    b_out: np.ndarray  # (trial, output)


@register
@dataclass(frozen=True)
class NodePerturbation:
    """Node perturbation with noise std ``sigma`` and a baseline (:mod:`.reward`)."""

    sigma: float = 1e-3
    baseline: str = "clean"
    baseline_decay: float = 0.9
    baseline_by: str | None = None
    name: ClassVar[str] = "node_perturbation"
    signal: ClassVar[str] = "reward"
    default_feedback: ClassVar[str] = "symmetric"

    def __post_init__(self) -> None:
        s = self.sigma
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not (0 < s < np.inf):
            raise ValueError(f"sigma (the noise std) must be a number > 0; got {s!r}")
        check_reward_options(self)

    def noise(self, net: LeakyRNN, n_trials: int, n_steps: int, rng: np.random.Generator) -> Noise:
        units = self.sigma * rng.standard_normal((n_trials, n_steps, net.n_rec))
        outputs = None
        if {"W_out", "b_out"} & net.plastic:
            outputs = self.sigma * rng.standard_normal((n_trials, n_steps, net.n_out))
        d = net.dtype
        return Noise(units.astype(d), None if outputs is None else outputs.astype(d))

    def gradient(
        self, net: LeakyRNN, trace: Trace, noise: Noise, advantage: np.ndarray
    ) -> dict[str, np.ndarray]:
        """``advantage``: ``(ℓ_b - ℓ̄_b) / n_trials`` ``(trial,)``; ``trace``: the noisy run."""
        w = (advantage / self.sigma**2).astype(net.dtype)[None, :, None]
        out = recurrent_readout(net, trace, np.moveaxis(noise.units, 1, 0) * w)
        if noise.outputs is not None:
            out.update(output_readout(net, trace, np.moveaxis(noise.outputs, 1, 0) * w))
        return out

    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> EligibilityState:
        d, m = net.dtype, Sums.zeros(net).theta.shape[1]
        return EligibilityState(
            np.zeros((n_trials, net.n_rec, m), dtype=d),
            np.zeros((n_trials, net.n_out, net.n_rec), dtype=d),
            np.zeros((n_trials, net.n_out), dtype=d),
        )

    def step(self, state: EligibilityState, net: LeakyRNN, st: RewardStep) -> EligibilityState:
        state.theta += st.noise[:, :, None] * st.pre[:, None, :]
        if st.output_noise is not None:
            state.W_out += st.output_noise[:, :, None] * st.rate[:, None, :]
            state.b_out += st.output_noise
        return state

    def read(
        self, state: EligibilityState, net: LeakyRNN, advantage: np.ndarray
    ) -> dict[str, np.ndarray]:
        w = (advantage / self.sigma**2).astype(net.dtype)
        sums = Sums(
            np.tensordot(w, state.theta, axes=1),
            np.tensordot(w, state.W_out, axes=1),
            np.tensordot(w, state.b_out, axes=1),
        )
        return sums.grads(net)
