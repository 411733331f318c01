r"""Movement syllables and their sequences: Murray 2019 (eLife 8:e43299), Fig. 4.

The network's two outputs are the velocity of a cursor in a plane.  A **syllable** is a reach in
one of ``n_syllables`` directions, ``θ_k = 2πk / n_syllables``, with a bell-shaped speed
``sin²(π t / n_move)`` over ``n_move`` steps, followed by a **hold** of ``n_hold`` steps at zero
velocity.  The paper's Fig. 4: N = 100, τ = 10, four tonic inputs, "the duration of each
behavioral syllable in this example (20τ)", and a sequence of "four movements and four holds"
lasting 160τ.  It does not give the reach shapes, speeds, or how the holds are made; ours: the
speed profile above, a 20τ reach followed by a 20τ hold, with the syllable's tonic input on
throughout (so that the state at the syllable's end still tells which syllable it was; with
the input off during the hold, the networks we trained fell into the same state after
different syllables, and no loop could have read the sequence from it).

* :class:`Syllables`: a continuing stream of random syllables, each chunk one syllable with
  its tonic input (one-hot) on throughout, the network's state carried from one to the next:
  Murray's stage 1 trains "with a random input chosen in each trial, subject to the constraint
  that the trajectory could not move the cursor out of bounds", the cursor (so the network)
  going on from trial to trial.  The cursor's position is not part of the network's task (its
  outputs are velocities), so there are no bounds here.  The RNN of the augmented circuit
  learns these (stage 1 of :mod:`bioplastic.loop`); train with ``update="online"`` and
  ``update_every`` = one syllable for Murray's once-per-trial updates.
* :class:`ReachSequence`: the whole sequence produced autonomously, with no input, the paper's
  comparison networks ("RNNs without the loop architecture … to autonomously produce the entire
  sequence").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .base import Trials, positive
from .streams import Continuing

__all__ = ["Syllables", "ReachSequence", "syllable_velocity"]


def syllable_velocity(k: int, n_syllables: int, n_move: int, n_hold: int) -> np.ndarray:
    """``(n_move + n_hold, 2)``: the velocity of syllable ``k``, a reach then a hold.  The reach
    covers a distance of ``n_move / 2`` (the integral of ``sin²``)."""
    t = np.arange(1, n_move + 1)
    speed = np.sin(np.pi * t / n_move) ** 2
    theta = 2 * np.pi * k / n_syllables
    v = np.zeros((n_move + n_hold, 2))
    v[:n_move] = speed[:, None] * np.array([np.cos(theta), np.sin(theta)])
    return v


def _check(task) -> None:
    positive("n_syllables", task.n_syllables, integer=True)
    positive("n_move", task.n_move, integer=True)
    positive("n_hold", task.n_hold, integer=True, allow_zero=True)
    if task.n_syllables < 2:
        raise ValueError(f"n_syllables must be >= 2; got {task.n_syllables}")


@dataclass(frozen=True)
class Syllables(Continuing):
    """Random syllables one after another: input ``k`` on (tonic) while the cursor reaches,
    then holds; a continuing stream (:class:`~bioplastic.tasks.streams.Continuing`).

    Parameters (in time steps): ``n_syllables`` (and inputs), ``n_move``, ``n_hold``,
    ``test_syllables`` (the held-out stream's length, after one unscored syllable).
    """

    n_syllables: int = 4
    n_move: int = 200
    n_hold: int = 200
    test_syllables: int = 20
    name: ClassVar[str] = "syllables"
    loss: ClassVar[str] = "mse"
    memory: ClassVar[int] = 0

    def __post_init__(self) -> None:
        _check(self)
        positive("test_syllables", self.test_syllables, integer=True)

    n_in = property(lambda self: self.n_syllables)
    n_out = property(lambda self: 2)
    hold = property(lambda self: self.n_move + self.n_hold)  # steps per syllable
    chunk = property(lambda self: self.n_move + self.n_hold)  # one syllable per "trial"
    test_steps = property(lambda self: self.test_syllables * self.hold)
    test_warmup = property(lambda self: self.hold)

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.integers(0, self.n_syllables, shape).astype(float)

    def velocities(self) -> np.ndarray:
        """``(syllable, time, 2)``: every syllable's target velocity."""
        return np.stack(
            [
                syllable_velocity(k, self.n_syllables, self.n_move, self.n_hold)
                for k in range(self.n_syllables)
            ]
        )

    def chunk_trials(self, samples: np.ndarray, idx: np.ndarray, stream: Any) -> Trials:
        ks = samples[:, idx].astype(int)  # (stream, time): the syllable of each step
        T, h = len(idx), self.hold
        t = np.arange(T)
        phase = np.where(t < stream.left, h - stream.left + t, (t - stream.left) % h)
        x = np.eye(self.n_syllables)[ks]
        return Trials(x, self.velocities()[ks, phase], None, {"stream": np.arange(stream.n)})


@dataclass(frozen=True)
class ReachSequence:
    """The whole sequence, produced with no input: ``sequence`` lists the syllables in order.

    Parameters (in time steps): ``sequence``, ``n_syllables``, ``n_move``, ``n_hold``.
    """

    sequence: list[int] = field(default_factory=lambda: [0, 1, 2, 3])
    n_syllables: int = 4
    n_move: int = 200
    n_hold: int = 200
    name: ClassVar[str] = "reach_sequence"

    def __post_init__(self) -> None:
        _check(self)
        seq = np.asarray(self.sequence)
        if (
            seq.ndim != 1
            or seq.size == 0
            or seq.dtype.kind not in "iu"
            or np.any((seq < 0) | (seq >= self.n_syllables))
        ):
            raise ValueError(
                f"sequence must be a non-empty list of syllables in 0 … {self.n_syllables - 1}; "
                f"got {self.sequence!r}"
            )
        object.__setattr__(self, "sequence", [int(k) for k in seq])

    n_in = property(lambda self: 0)
    n_out = property(lambda self: 2)

    @property
    def n_steps(self) -> int:
        return len(self.sequence) * (self.n_move + self.n_hold)

    def target(self) -> np.ndarray:
        """``(time, 2)``: the velocity of the whole sequence."""
        return np.concatenate(
            [
                syllable_velocity(k, self.n_syllables, self.n_move, self.n_hold)
                for k in self.sequence
            ]
        )

    def sample(self, n_trials: int, rng: np.random.Generator | None = None) -> Trials:
        """``n_trials`` identical trials (``rng`` is accepted for the common interface)."""
        positive("n_trials", n_trials, integer=True)
        y = np.broadcast_to(self.target()[None], (n_trials, self.n_steps, 2))
        return Trials(np.zeros((n_trials, self.n_steps, 0)), y)
