r"""The augmented circuit of Murray 2019 (eLife 8:e43299), Fig. 4: an RNN that chains syllables.

Murray's answer to RFLO's trouble with long outputs: learn short syllables, then learn to
sequence them through an auxiliary loop ("largely borrowed from Logiaco et al. 2018",
inspired by the basal ganglia–thalamus loop).  From the paper (Results, "Learning a sequence
of actions"; Methods):

1. **Stage 1.**  An RNN with one tonic input per syllable learns to produce syllable k when
   input k is on, one random syllable after another (:class:`~bioplastic.tasks.Syllables`),
   with any rule of bioplastic: this stage is :func:`bioplastic.train`.  Murray uses RFLO for
   10,000 trials.
2. **The loop.**  Readout units ("striatum") ``z = W_s h`` see the RNN's state.  At the end of
   each syllable a winner-take-all picks the most active unit (or, with probability
   ``p_explore`` = 0.1, a random one), which switches on the matching RNN input for the next
   syllable: the readout is gated so that it acts only at syllable ends.
3. **Stage 2.**  The RNN is frozen and ``W_s`` learns for 10,000 trials while the RNN drives
   its own input:  ``ΔW_s[i, j] = η_s R z_i h_j``  with ``R = 1`` if the transition matches the
   target sequence and 0 otherwise.  Here ``z_i`` is the winner-take-all output (1 for the
   winner, 0 otherwise), so only the chosen unit's weights change: a reward-modulated Hebbian
   rule.

The paper does not give η_s, the initial W_s, how ties are broken or what happens after a
wrong choice.  Ours: W_s starts at 0 (ties, and every choice before the first reward, are
broken at random), and a trial runs its whole length whatever is chosen, with R scored
against the target syllable of each position.

**One addition (ours), a reward baseline.**  The update uses ``R − R̄`` in place of ``R``,
with R̄ the running mean reward, ``R̄ ← R̄ + λ (R − R̄)`` after each decision (``baseline`` = λ;
the baseline of REINFORCE, Williams 1992).  With the rule as written (``baseline=0``) only
rewarded choices change ``W_s``, so the unit rewarded most often comes to win everywhere: the
states at syllable ends are not orthogonal, a rewarded choice at one position raises that
unit's drive at every other, and exploration (p = 0.1) cannot catch up.  With the baseline, a
wrong choice lowers its unit's drive for that state.  Both are reported by the figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .network import LeakyRNN
from .tasks.sequence import ReachSequence, Syllables

__all__ = ["LoopCircuit", "LoopRun", "learn_transitions"]


class LoopRun(NamedTuple):
    """One trial of the loop: its choices ``(syllable,)``, rewards ``(syllable,)``, outputs
    ``(time, output)`` and the states the decisions were taken on ``(syllable, unit)``."""

    choices: np.ndarray
    rewards: np.ndarray
    outputs: np.ndarray
    decision_states: np.ndarray


@dataclass(frozen=True)
class LoopCircuit:
    """An RNN trained on :class:`~bioplastic.tasks.Syllables` plus its loop readout ``W_s``.

    Parameters
    ----------
    net: the RNN, with one input per syllable and two outputs (the cursor's velocity).
    syllables: the task the RNN learned (its movement and hold lengths).
    W_s: ``(n_syllables, n_rec)`` loop readout weights; zeros if None.
    h0: the initial state ``(n_rec,)`` of every trial; zeros if None.
    """

    net: LeakyRNN
    syllables: Syllables
    W_s: np.ndarray | None = None
    h0: np.ndarray | None = None

    def __post_init__(self) -> None:
        k, n = self.syllables.n_syllables, self.net.n_rec
        if self.net.n_in != k or self.net.n_out != 2:
            raise ValueError(
                f"the loop needs an RNN with one input per syllable ({k}) and 2 outputs; got "
                f"n_in={self.net.n_in}, n_out={self.net.n_out}"
            )
        W = np.zeros((k, n)) if self.W_s is None else np.array(self.W_s, dtype=float)
        if W.shape != (k, n):
            raise ValueError(f"W_s must have shape (n_syllables, n_rec) = {(k, n)}; got {W.shape}")
        object.__setattr__(self, "W_s", W)
        h0 = np.zeros(n) if self.h0 is None else np.array(self.h0, dtype=float)
        if h0.shape != (n,):
            raise ValueError(f"h0 must have shape (n_rec,) = ({n},); got {h0.shape}")
        object.__setattr__(self, "h0", h0)

    def choose(self, h: np.ndarray, rng: np.random.Generator, p_explore: float) -> int:
        """Winner-take-all on ``z = W_s h``; a random unit with probability ``p_explore``, and
        ties broken at random."""
        if rng.random() < p_explore:
            return int(rng.integers(self.syllables.n_syllables))
        z = self.W_s @ h
        best = np.flatnonzero(z == z.max())
        return int(best[0] if len(best) == 1 else rng.choice(best))

    def run(
        self,
        target: ArrayLike,
        rng: np.random.Generator | None = None,
        p_explore: float = 0.0,
    ) -> LoopRun:
        """One trial of ``len(target)`` syllables with the RNN driving its own input, each
        choice rewarded when it is the target's syllable at that position; greedy unless
        ``p_explore``.  Decisions read the presynaptic rates ρ(s)."""
        rng = rng if rng is not None else np.random.default_rng(0)
        tgt = np.asarray(target, dtype=int)
        task, net = self.syllables, self.net
        n_move, n_hold, k = task.n_move, task.n_hold, task.n_syllables
        eye = np.eye(k)
        s = self.h0[None, :].copy()
        r = s if net.form == "rate" else net.activation(s)
        outputs, choices, states = [], [], []
        for _ in range(len(tgt)):
            states.append(r[0].copy())
            c = self.choose(r[0], rng, p_explore)
            choices.append(c)
            x = np.broadcast_to(eye[c], (1, n_move + n_hold, k))
            trace = net.forward(net.check_inputs(x), s)
            outputs.append(trace.outputs[:, 0])
            s, r = trace.states[-1], trace.rates[-1]
        choices_a = np.asarray(choices)
        return LoopRun(
            choices_a,
            (choices_a == tgt).astype(float),
            np.concatenate(outputs),
            np.asarray(states),
        )

    def with_readout(self, W_s: np.ndarray) -> LoopCircuit:
        return LoopCircuit(self.net, self.syllables, W_s, self.h0)


def learn_transitions(
    circuit: LoopCircuit,
    sequence: ReachSequence,
    n_trials: int,
    *,
    eta: float,
    p_explore: float = 0.1,
    baseline: float = 0.05,
    seed: int = 0,
) -> tuple[LoopCircuit, np.ndarray]:
    """Stage 2: the reward-modulated Hebbian rule on ``W_s`` with the RNN frozen.

    ``baseline`` is the rate λ of the running mean reward R̄ (module docstring); 0 is
    Murray's rule as written.  Returns the trained circuit and the rewards of every trial
    ``(trial, syllable)``.
    """
    if not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"n_trials must be an int >= 1; got {n_trials!r}")
    if not (np.isfinite(eta) and eta > 0):
        raise ValueError(f"eta must be a finite number > 0; got {eta!r}")
    if not 0 <= p_explore <= 1:
        raise ValueError(f"p_explore must lie in [0, 1]; got {p_explore!r}")
    if not 0 <= baseline <= 1:
        raise ValueError(f"baseline must lie in [0, 1]; got {baseline!r}")
    if (sequence.n_syllables, sequence.n_move, sequence.n_hold) != (
        circuit.syllables.n_syllables,
        circuit.syllables.n_move,
        circuit.syllables.n_hold,
    ):
        raise ValueError("the sequence's syllables differ from those the RNN learned")
    rng = np.random.default_rng(seed)
    W, R_mean = circuit.W_s.copy(), 0.0
    rewards = np.empty((n_trials, len(sequence.sequence)))
    for trial in range(n_trials):
        run = circuit.with_readout(W).run(sequence.sequence, rng, p_explore)
        for c, R, h in zip(run.choices, run.rewards, run.decision_states):
            W[c] += eta * (R - R_mean) * h  # ΔW_s[i, j] = η (R − R̄) z_i h_j, z one-hot
            R_mean += baseline * (R - R_mean)
        rewards[trial] = run.rewards
    return circuit.with_readout(W), rewards
