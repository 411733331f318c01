r"""Miconi's rule: a reward-modulated, exploratory Hebbian trace (Miconi 2017, eLife 6:e20899).

"Biologically plausible learning in recurrent neural networks reproduces neural dynamics
observed during cognitive tasks", Results, "Description of the learning rule", eqs. 1-2, and
Methods, "Learning rule".  Units receive sparse random **perturbations**: at each step each unit,
independently with probability ``rate``, gets ``Δ ~ amplitude · U(-1, 1)`` added to its input
current (``ξ_t`` of :mod:`.reward`; his code ``dnms/net.cpp`` adds ``16 · U(-1, 1)`` with
probability 0.003 per 1-ms step inside the Euler step, the paper's "U[-0.5, 0.5] at 3 Hz" on the
excitation after the factor dt/τ = 1/30).  Each synapse accumulates (eq. 1)

    e_ij ← e_ij + S( â_j,t · (s_i,t - s̄_i,t-1) ),    S(z) = z³   (or z|z|)

where ``s`` is the excitation (his x: the state ``v`` of the current form; ``h`` in the rate
form), ``s̄_t = d s̄_{t-1} + (1 - d) s_t`` a short running average (``trace_decay`` d = 0.05 per
step in his code; s̄_0 = s_0), and ``â_t = [ρ(s_{t-1}), x_t, 1]`` the synapse's input (his
r_j(t-1)).  The supralinear S keeps the large fluctuations the perturbations cause and drops the
small ones.  At the end of the trial (eq. 2)

    ΔJ = η e (R - R̄),    R = -ℓ  (his trial error: the mean |output - target| over the response)

so the estimate this rule returns (the optimizer takes ``-η ĝ``) is
``ĝ = Σ_b (ℓ_b - ℓ̄_b) / n_trials · e_b``, with ``ℓ̄`` the running baseline per trial type
(:mod:`.reward`, ``baseline_by``; decay 0.33 in the paper, 0.75 in his code).  His code also
multiplies by ``ℓ̄`` (``scale_by_baseline``), clips each ΔJ to ±3·10⁻⁴ (the paper: ±10⁻⁴; the
optimizer's ``clip_value``) and starts learning after 100 trials (``warmup``).  It is not an
estimate of the gradient: S makes it biased; what it keeps is the sign of the correlation
between fluctuation, input and reward.

Since ``S(a b) = S(a) S(b)`` for both choices, the per-trial face is one matrix product,
``Σ_t (adv ⊙ S(s_t - s̄_{t-1}))ᵀ S(â_t)``.  The readout does not learn (his output is a unit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.signal import lfilter

from ..network import LeakyRNN, Trace
from .base import presynaptic, register, split_theta
from .online import theta_width
from .reward import Noise, RewardStep, check_reward_options

__all__ = ["Miconi", "HebbianState", "SUPRALINEAR"]

#: the supralinear functions S of eq. 1 (Methods: x³; "x|x| also gives satisfactory results")
SUPRALINEAR = {
    "cube": lambda z: z * z * z,
    "signed_square": lambda z: z * np.abs(z),
}


@dataclass
class HebbianState:
    """Per-trial eligibility ``(trial, unit, m)`` and the running average ``s̄`` (or None)."""

    e: np.ndarray
    mean: np.ndarray | None


@register
@dataclass(frozen=True)
class Miconi:
    """Miconi 2017's exploratory Hebbian rule (options: the module docstring)."""

    amplitude: float = 16.0
    rate: float = 0.003
    trace_decay: float = 0.05
    supralinear: str = "cube"
    baseline: str = "running"
    baseline_decay: float = 0.33
    baseline_by: str | None = None
    scale_by_baseline: bool = False
    warmup: int = 0
    name: ClassVar[str] = "miconi"
    signal: ClassVar[str] = "reward"
    default_feedback: ClassVar[str] = "symmetric"

    def __post_init__(self) -> None:
        a = self.amplitude
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0 < a < np.inf:
            raise ValueError(f"amplitude (of the perturbations) must be a number > 0; got {a!r}")
        for k in ("rate", "trace_decay"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise ValueError(f"{k} must be a number in [0, 1); got {v!r}")
        if self.supralinear not in SUPRALINEAR:
            raise ValueError(
                f"supralinear must be one of {list(SUPRALINEAR)}; got {self.supralinear!r}"
            )
        if not isinstance(self.scale_by_baseline, bool):
            raise ValueError(
                f"scale_by_baseline must be true or false; got {self.scale_by_baseline!r}"
            )
        w = self.warmup
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 0:
            raise ValueError(f"warmup must be an int >= 0 (trials); got {w!r}")
        check_reward_options(self)

    def noise(self, net: LeakyRNN, n_trials: int, n_steps: int, rng: np.random.Generator) -> Noise:
        if {"W_out", "b_out"} & net.plastic:
            raise ValueError(
                "Miconi's rule learns the recurrent side only (his output is a unit): freeze "
                "the readout, e.g. plastic=['W_rec', 'b']"
            )
        shape = (n_trials, n_steps, net.n_rec)
        xi = np.zeros(shape, dtype=net.dtype)
        events = rng.random(shape) < self.rate
        xi[events] = rng.uniform(-self.amplitude, self.amplitude, int(events.sum()))
        return Noise(xi)

    def gradient(
        self, net: LeakyRNN, trace: Trace, noise: Noise, advantage: np.ndarray
    ) -> dict[str, np.ndarray]:
        """``advantage``: ``(ℓ_b - ℓ̄_b) / n_trials`` ``(trial,)``; ``trace``: the noisy run."""
        S, d = SUPRALINEAR[self.supralinear], self.trace_decay
        states = trace.states
        mean, _ = lfilter([1.0 - d], [1.0, -d], states[1:], axis=0, zi=d * states[:1])
        fluct = states[1:].copy()
        fluct[0] -= states[0]
        fluct[1:] -= mean[:-1]
        post = S(fluct) * advantage.astype(net.dtype)[None, :, None]
        pre = S(presynaptic(net, trace))
        T, B, n = post.shape
        theta = post.reshape(T * B, n).T @ pre.reshape(T * B, -1)
        return split_theta(net, theta)

    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> HebbianState:
        e = np.zeros((n_trials, net.n_rec, theta_width(net)), dtype=net.dtype)
        return HebbianState(e, None)

    def step(self, state: HebbianState, net: LeakyRNN, st: RewardStep) -> HebbianState:
        S, d = SUPRALINEAR[self.supralinear], self.trace_decay
        if state.mean is None:
            state.mean = st.state_prev.copy()
        fluct = st.state - state.mean
        state.e += S(fluct[:, :, None] * st.pre[:, None, :])
        state.mean = d * state.mean + (1.0 - d) * st.state
        return state

    def read(
        self, state: HebbianState, net: LeakyRNN, advantage: np.ndarray
    ) -> dict[str, np.ndarray]:
        return split_theta(net, np.tensordot(advantage.astype(net.dtype), state.e, axes=1))
