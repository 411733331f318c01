r"""Delayed nonmatch-to-sample (Miconi 2017, eLife 6:e20899, Methods, "Description of tasks").

Two stimuli, each A or B, are shown one after the other with a delay between them; after a
further delay the network must answer ``+target`` if they differ (AB, BA) and ``-target`` if
they match (AA, BB).  Input channel 0 is A, channel 1 is B (1 while shown, else 0).  Time in
steps (Miconi: 1-ms steps, τ = 30 ms)::

    |-- first (200) --|-- delay (200) --|-- second (200) --|-- wait (200) --|-- response (200) --|

The loss weights only the response window, each step by ``1 / response``: with
``loss="absolute"`` a trial's loss is his trial error, the mean ``|output - target|`` over it.
The trial type (0 AA, 1 AB, 2 BA, 3 BB, his order) is the condition ``pair``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .base import Trials, positive

__all__ = ["DelayedNonmatch", "PAIRS"]

#: the trial types in Miconi's order: (first, second) stimulus, 0 = A, 1 = B
PAIRS = ((0, 0), (0, 1), (1, 0), (1, 1))


@dataclass(frozen=True)
class DelayedNonmatch:
    """Delayed nonmatch-to-sample.

    Parameters (in time steps)
    --------------------------
    stimulus: how long each stimulus is shown (200 in Miconi 2017).
    delay: between the stimuli (200).
    wait: from the second stimulus to the response window (200).
    response: the scored window at the end (200).
    target: the answer's size, ``±target`` (1 in the paper, 0.98 in his code).
    """

    stimulus: int = 200
    delay: int = 200
    wait: int = 200
    response: int = 200
    target: float = 1.0
    name: ClassVar[str] = "dnms"
    loss: ClassVar[str] = "absolute"

    def __post_init__(self) -> None:
        for k in ("stimulus", "delay", "response"):
            positive(k, getattr(self, k), integer=True)
        positive("wait", self.wait, integer=True, allow_zero=True)
        positive("target", self.target)

    n_in = property(lambda self: 2)
    n_out = property(lambda self: 1)

    @property
    def n_steps(self) -> int:
        return 2 * self.stimulus + self.delay + self.wait + self.response

    def trials(self, pairs: np.ndarray) -> Trials:
        """The trials of the given types ``(trial,)`` (0 AA, 1 AB, 2 BA, 3 BB)."""
        given = np.asarray(pairs)
        pairs = given.astype(int) if given.dtype.kind in "iuf" else None
        if (
            pairs is None
            or given.ndim != 1
            or np.any(pairs != given)
            or np.any((pairs < 0) | (pairs > 3))
        ):
            raise ValueError(f"pairs must be integer trial types 0 (AA) … 3 (BB); got {given!r}")
        B, T, s = len(pairs), self.n_steps, self.stimulus
        first = np.array([PAIRS[p][0] for p in pairs], dtype=int)
        second = np.array([PAIRS[p][1] for p in pairs], dtype=int)
        x = np.zeros((B, T, 2))
        x[np.arange(B)[:, None], np.arange(s)[None, :], first[:, None]] = 1.0
        start = s + self.delay
        x[np.arange(B)[:, None], start + np.arange(s)[None, :], second[:, None]] = 1.0
        answer = np.where(first != second, self.target, -self.target)
        target = np.broadcast_to(answer[:, None, None], (B, T, 1)).copy()
        mask = np.zeros((B, T, 1))
        mask[:, T - self.response :] = 1.0 / self.response
        return Trials(x, target, mask, {"pair": pairs})

    def sample(self, n_trials: int, rng: np.random.Generator) -> Trials:
        """``n_trials`` trials of types drawn uniformly."""
        positive("n_trials", n_trials, integer=True)
        return self.trials(rng.integers(0, 4, n_trials))

    def every_condition(self, n: int = 1) -> Trials:
        """``n`` trials of each type, in the order AA, AB, BA, BB."""
        return self.trials(np.repeat(np.arange(4), n))
