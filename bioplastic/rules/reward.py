r"""The reward learning signal: exploratory noise, a scalar reward per trial, and a baseline.

Williams 1992 (Machine Learning 8:229, REINFORCE, eqs. 1-2 and the reinforcement baseline);
Fiete & Seung 2006 (Phys. Rev. Lett. 97:048104); Miconi 2017 (eLife 6:e20899).  Error-driven
rules see the output error ``e_t``; a reward rule sees only one number per trial.  Each trial
runs with **noise** ``ξ_t`` added to the units' input currents,

    u_t = W_rec ρ(s_{t-1}) + W_in x_t + b + ξ_t            (both forms; LeakyRNN.forward(noise=))

(and, for a rule that also learns the readout, ``ζ_t`` added to the outputs).  Its loss
``ℓ_b`` (the negative reward, ``R_b = -ℓ_b``; the loss is summed over the trial) is compared with
a **baseline** ``ℓ̄_b`` that does not depend on that trial's noise, and the rule's **eligibility**
``E_b`` (built from the noise and the pre- and postsynaptic activity) is scaled by the advantage:

    ĝ = Σ_b (ℓ_b - ℓ̄_b) E_b / n_trials        (an estimate of ∂L/∂θ,  L = Σ_b ℓ_b / n_trials)

Baselines (``baseline=``):

* ``"running"``: a running average of the loss of earlier trials of the same condition (Miconi
  2017's R̄ per trial type; Williams 1992's reinforcement comparison),
  ``ℓ̄ ← decay · ℓ̄ + (1 - decay) · ℓ`` after each trial, in order.  A condition's first trial
  has advantage 0.  In training it carries over from batch to batch (and is checkpointed).
* ``"clean"``: the same trial run without noise (ours; lowest variance, twice the simulation).

A running baseline is a training run's history; a one-off estimate (``bp.gradient``, the
alignment probes, ``align_with``) has none and compares each trial with itself run without
noise, whatever ``baseline`` says (``warmup`` and ``baseline_by`` are training options too).

A reward rule is a frozen dataclass with ``signal = "reward"`` and, like every rule, two faces:
per trial ``gradient(net, trace, noise, advantage)`` from the noisy run, and online
``init`` / ``step(state, net, RewardStep)`` / ``read(state, net, advantage)``, where the
eligibility accumulates step by step and the reward arrives at the end.  :func:`evaluate` runs a
batch through it; :func:`bioplastic.gradient` and ``train`` call it for these rules.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Protocol

import numpy as np

from ..network import LeakyRNN, Trace
from ..objective import Batch, NonFiniteError, trial_losses
from .base import finalize, presynaptic

__all__ = [
    "Noise",
    "RewardStep",
    "RewardRule",
    "Baseline",
    "BASELINES",
    "evaluate",
    "reward_steps",
    "check_reward_options",
]

BASELINES = ("running", "clean")


@dataclass(frozen=True)
class Noise:
    """One batch's exploratory noise, trial-major like the inputs."""

    units: np.ndarray  # ξ (trial, time, unit), added to the input current u_t
    outputs: np.ndarray | None = None  # ζ (trial, time, output), added to y_t; None: none


@dataclass(frozen=True)
class RewardStep:
    """What a reward rule sees at step t (arrays ``(trial, ·)``)."""

    pre: np.ndarray  # â_t: the plastic blocks of [ρ(s_{t-1}), x_t, 1]   (trial, m)
    noise: np.ndarray  # ξ_t                                              (trial, unit)
    output_noise: np.ndarray | None  # ζ_t                               (trial, output)
    state_prev: np.ndarray  # s_{t-1}                                     (trial, unit)
    state: np.ndarray  # s_t (h or v)                                     (trial, unit)
    rate: np.ndarray  # ρ(s_t)                                            (trial, unit)


class RewardRule(Protocol):
    """A rule driven by a scalar reward (see the module docstring)."""

    name: ClassVar[str]
    signal: ClassVar[str]  # "reward"
    baseline: str
    baseline_decay: float
    baseline_by: str | None

    def noise(
        self, net: LeakyRNN, n_trials: int, n_steps: int, rng: np.random.Generator
    ) -> Noise: ...

    def gradient(
        self, net: LeakyRNN, trace: Trace, noise: Noise, advantage: np.ndarray
    ) -> dict[str, np.ndarray]: ...

    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> Any: ...

    def step(self, state: Any, net: LeakyRNN, step: RewardStep) -> Any: ...

    def read(self, state: Any, net: LeakyRNN, advantage: np.ndarray) -> dict[str, np.ndarray]: ...


def check_reward_options(rule: Any) -> None:
    """Validate the options every reward rule shares (called from ``__post_init__``)."""
    if rule.baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}; got {rule.baseline!r}")
    if rule.baseline == "clean":
        default = {f.name: f.default for f in fields(rule)}
        running = [
            k
            for k in ("baseline_decay", "baseline_by", "warmup")
            if k in default and getattr(rule, k) != default[k]
        ]
        if running:
            raise ValueError(
                f"{running} apply to baseline='running' only; with baseline='clean' each trial "
                "is compared with itself run without noise"
            )
    d = rule.baseline_decay
    if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0.0 <= d < 1.0:
        raise ValueError(f"baseline_decay must be a number in [0, 1); got {d!r}")
    if rule.baseline_by is not None and not isinstance(rule.baseline_by, str):
        raise ValueError(
            "baseline_by must be None (one baseline) or the name of a task condition, "
            f"e.g. 'pair'; got {rule.baseline_by!r}"
        )


@dataclass
class Baseline:
    """The running baseline ``ℓ̄`` of each condition (labels as strings), explicit state."""

    decay: float
    values: dict[str, float] = field(default_factory=dict)
    seen: int = 0  # trials seen

    def advantage(
        self, losses: np.ndarray, labels: np.ndarray | None, warmup: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(ℓ_b - ℓ̄_b, ℓ̄_b)`` for the trials in order, updating ``ℓ̄`` after each; the
        advantage is 0 for the first ``warmup`` trials of the run (the baseline only learns)."""
        adv, bars = np.empty(len(losses)), np.empty(len(losses))
        for b, loss in enumerate(losses):
            key = "all" if labels is None else str(labels[b])
            bar = self.values.get(key, float(loss))  # a first trial teaches nothing
            adv[b] = loss - bar if self.seen >= warmup else 0.0
            bars[b] = bar
            self.values[key] = self.decay * bar + (1.0 - self.decay) * float(loss)
            self.seen += 1
        return adv, bars

    def to_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "values": dict(self.values), "seen": self.seen}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Baseline:
        values = {str(k): float(v) for k, v in d["values"].items()}
        return cls(float(d["decay"]), values, int(d["seen"]))


def reward_steps(net: LeakyRNN, trace: Trace, noise: Noise) -> Iterator[RewardStep]:
    """The :class:`RewardStep` of each time t = 1..T of a noisy run."""
    pre = presynaptic(net, trace)
    xi = np.moveaxis(noise.units, 1, 0)
    zeta = None if noise.outputs is None else np.moveaxis(noise.outputs, 1, 0)
    for t in range(xi.shape[0]):
        yield RewardStep(
            pre=pre[t],
            noise=xi[t],
            output_noise=None if zeta is None else zeta[t],
            state_prev=trace.states[t],
            state=trace.states[t + 1],
            rate=trace.rates[t + 1],
        )


def labels_of(rule: Any, conditions: Mapping[str, np.ndarray] | None, n: int) -> np.ndarray | None:
    """The condition label of each trial that the baseline is kept per (None: one baseline)."""
    key = rule.baseline_by
    if key is None:
        return None
    if conditions is None or key not in conditions:
        have = sorted(conditions) if conditions else []
        raise ValueError(
            f"baseline_by={key!r} needs trials labelled by that condition; the trials have "
            f"conditions {have} (use one of them, or baseline_by=None)"
        )
    labels = np.asarray(conditions[key])
    if labels.shape != (n,):
        raise ValueError(f"condition {key!r} must label each of the {n} trials")
    return labels


def evaluate(
    net: LeakyRNN,
    batch: Batch,
    rule: Any,
    rng: np.random.Generator,
    baseline: Baseline | None = None,
    conditions: Mapping[str, np.ndarray] | None = None,
) -> tuple[float, dict[str, np.ndarray], dict[str, float]]:
    """Run a batch with noise, score it, and form the reward rule's estimate.

    Returns the noisy batch's loss ``L``, the estimate (every key of ``net.params``), and
    ``{"reward": mean R_b, "baseline": mean -ℓ̄_b}``.  ``baseline`` is a training run's running
    state (updated in place, per ``conditions``); None compares each trial with itself run
    without noise (``baseline="clean"``, and every one-off estimate).
    """
    B, T, _ = batch.x.shape
    noise = rule.noise(net, B, T, rng)
    trace = net.forward(batch.x, batch.h0, noise=noise.units)
    y = trace.outputs
    if noise.outputs is not None:
        y = y + np.moveaxis(noise.outputs, 1, 0)
    losses = trial_losses(y, batch.target, batch.mask, batch.loss)
    if not np.isfinite(losses).all():
        raise NonFiniteError("the loss of a noisy trial overflowed; lower the noise or weights")
    if baseline is None:  # baseline="clean", or a one-off estimate: the trial without noise
        clean = net.forward(batch.x, batch.h0)
        bar = trial_losses(clean.outputs, batch.target, batch.mask, batch.loss)
        advantage = losses - bar
    else:  # a training run's running baseline
        labels = labels_of(rule, conditions, B)
        advantage, bar = baseline.advantage(losses, labels, getattr(rule, "warmup", 0))
    if getattr(rule, "scale_by_baseline", False):  # Miconi's code: × the expected loss
        advantage = advantage * bar
    with np.errstate(over="ignore", invalid="ignore"):
        grads = finalize(net, rule.gradient(net, trace, noise, advantage / B))
    for k, g in grads.items():
        if not np.isfinite(g).all():
            raise NonFiniteError(f"the {rule.name!r} estimate of {k} overflowed to inf/NaN")
    signal = {"reward": float(-losses.mean()), "baseline": float(-bar.mean())}
    return float(losses.mean()), grads, signal
