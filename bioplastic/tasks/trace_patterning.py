r"""Trace patterning: predict a delayed unconditioned stimulus from which conditioned stimuli
appeared (Rafiee et al. 2023; as Javed et al. 2023 ran it).

Rafiee, Abbas, Ghiassian, Kumaraswamy, Sutton, Ludvig & White, "From eye-blinks to state
construction: diagnostic benchmarks for online representation learning" (Adaptive Behavior
2023; arXiv 2011.04590); Javed, Shah, Sutton & White 2023 (seed 003, sections 3.1 and 6), who
train on it with "ISI = Unif(14, 26), n = 6 CSs, k = 10 activation patterns with a 0.5
probability of activation and m = 5 distractor signals".  The details below follow Javed et
al.'s code (khurramjaved96/constructive_rnn at 49e583bd,
``src/environments/animal_learning/tracepatterning.cpp`` and
``experiment_animal_learning.cpp``), read for its facts, not copied:

* **a trial**: at its first step one of the C(6, 3) = 20 patterns with 3 of the 6 CS on is
  shown, for that step only, each pattern with probability 1/20.  ``n_patterns`` = 10 of the
  20 (fixed by ``pattern_seed``) activate: so P(US) = ½.  After an activating pattern the US
  comes for one step, ISI steps after the CS, ISI ~ U{14, …, 26}; the next trial's CS comes
  ISI + ITI + 1 steps after this one's, ITI ~ U{80, …, 120};
* **distractors**: distractor j = 1 … 5 is on at each step independently with probability
  1/(10 j), for that step;
* **the observation** (12 inputs): the 6 CS bits, the US bit, the 5 distractor bits — the
  network sees the US;
* **the target**: the return of the US, ``G_t = Σ_{k≥0} γ^k US_{t+k+1}`` (the US at t itself
  excluded), with γ = 0.9 (the code's value; the draft's text, "γ = 1/(1 − E[ISI])", is a
  typo, and Rafiee et al. use γ = 1 − 1/ISI = 0.95 with 4-step CS and 2-step US, which is
  not what Javed et al. ran).  The sum runs over every US in the next ``horizon`` steps, this
  trial's and the next ones' (the tail beyond is below 1e-16); Javed et al.'s ``get_target``
  stops at the trial's own US, which differs by γ^{ITI} ≤ 0.9^80 ≈ 2e-4.

As for the other streams, ``n_streams`` sequences run side by side, the same seed gives the
same stream however it is cut into chunks, and a stream's state can be saved and restored
exactly.  The loss is the squared error against ``G_t`` (Javed et al. plot that error); a
TD(λ) learner would instead use the US input as its cumulant.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .base import Trials, positive
from .streams import Continuing

__all__ = ["TracePatterning", "TraceStream"]


@dataclass(frozen=True)
class TracePatterning(Continuing):
    """Trace patterning as a continuing stream (module docstring for the set-up and sources).

    Parameters: ``n_cs`` (even), ``n_patterns`` (activating patterns, of the C(n_cs, n_cs/2)
    with half the CS on), ``n_distractors``, ``isi_min``/``isi_max`` and ``iti_min``/``iti_max``
    (inclusive, in steps), ``gamma``, ``pattern_seed`` (which patterns activate), ``chunk``
    (steps per recorded chunk), ``test_steps``, ``test_warmup``.
    """

    n_cs: int = 6
    n_patterns: int = 10
    n_distractors: int = 5
    isi_min: int = 14
    isi_max: int = 26
    iti_min: int = 80
    iti_max: int = 120
    gamma: float = 0.9
    pattern_seed: int = 0
    chunk: int = 1000
    test_steps: int = 10_000
    test_warmup: int = 200
    name: ClassVar[str] = "trace_patterning"
    loss: ClassVar[str] = "mse"
    _patterns: np.ndarray = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for k in ("n_cs", "n_patterns", "isi_min", "iti_min", "chunk", "test_steps"):
            positive(k, getattr(self, k), integer=True)
        for k in ("n_distractors", "pattern_seed", "test_warmup"):
            positive(k, getattr(self, k), integer=True, allow_zero=True)
        if self.n_cs % 2:
            raise ValueError(f"n_cs must be even (patterns have half the CS on); got {self.n_cs}")
        for lo, hi in (("isi_min", "isi_max"), ("iti_min", "iti_max")):
            positive(hi, getattr(self, hi), integer=True)
            if getattr(self, hi) < getattr(self, lo):
                raise ValueError(f"{hi} must be >= {lo}; got {getattr(self, hi)} and {lo}")
        g = self.gamma
        if isinstance(g, bool) or not isinstance(g, (int, float)) or not 0 <= g < 1:
            raise ValueError(f"gamma must lie in [0, 1); got {g!r}")
        patterns = np.array(
            [
                [float(i in on) for i in range(self.n_cs)]
                for on in itertools.combinations(range(self.n_cs), self.n_cs // 2)
            ]
        )
        if self.n_patterns > len(patterns):
            raise ValueError(
                f"n_patterns must be at most C({self.n_cs}, {self.n_cs // 2}) = {len(patterns)}; "
                f"got {self.n_patterns}"
            )
        object.__setattr__(self, "_patterns", patterns)

    n_in = property(lambda self: self.n_cs + 1 + self.n_distractors)
    n_out = property(lambda self: 1)
    cumulant_index = property(lambda self: self.n_cs, doc="The US's input: TD(λ)'s cumulant.")

    @property
    def patterns(self) -> np.ndarray:
        """Every pattern ``(C(n_cs, n_cs/2), n_cs)``, 0/1."""
        return self._patterns

    @property
    def activating(self) -> np.ndarray:
        """Which patterns are followed by the US ``(C(n_cs, n_cs/2),)`` bool."""
        rng = np.random.default_rng(self.pattern_seed)
        pick = rng.choice(len(self._patterns), self.n_patterns, replace=False)
        return np.isin(np.arange(len(self._patterns)), pick)

    @property
    def horizon(self) -> int:
        """Steps ahead the stream schedules, so that ``γ^horizon`` < 1e-16."""
        return 1 if self.gamma == 0 else math.ceil(math.log(1e-16) / math.log(self.gamma)) + 1

    def stream(self, n_streams: int, rng: np.random.Generator) -> TraceStream:
        return TraceStream(self, n_streams, rng)


class TraceStream:
    """``n_streams`` trace-patterning sequences, handed out in consecutive chunks.

    Each sequence has its own generator for its trials (pattern, ISI, ITI, drawn trial by
    trial) and all share one for the distractors (drawn step by step), so a chunk is the same
    however the stream was cut before it.  Trials are scheduled ``task.horizon`` steps past
    the chunk's end, for its returns.
    """

    def __init__(self, task: TracePatterning, n_streams: int, rng: np.random.Generator) -> None:
        positive("n_streams", n_streams, integer=True)
        self.task, self.n = task, n_streams
        seeds = rng.integers(2**63, size=n_streams + 1)
        self.trial_rngs = [np.random.default_rng(s) for s in seeds[:-1]]
        self.distractor_rng = np.random.default_rng(seeds[-1])
        self.t = 0  # the next step to hand out
        # per stream: scheduled trials [cs_time, pattern, us_time or -1]; the next CS's time
        self.trials: list[list[list[int]]] = [[] for _ in range(n_streams)]
        self.next_cs = [0] * n_streams

    def _schedule(self, i: int, until: int) -> None:
        task, rng, active = self.task, self.trial_rngs[i], self.task.activating
        while self.next_cs[i] < until:
            pattern = int(rng.integers(len(task.patterns)))
            isi = int(rng.integers(task.isi_min, task.isi_max + 1))
            iti = int(rng.integers(task.iti_min, task.iti_max + 1))
            cs = self.next_cs[i]
            self.trials[i].append([cs, pattern, cs + isi if active[pattern] else -1])
            self.next_cs[i] = cs + isi + iti + 1

    def next(self, n_steps: int | None = None) -> Trials:
        """The next ``n_steps`` steps (default ``task.chunk``) of every stream."""
        task = self.task
        T = task.chunk if n_steps is None else n_steps
        positive("n_steps", T, integer=True)
        t0, nc = self.t, task.n_cs
        x = np.zeros((self.n, T, task.n_in))
        x[:, :, nc + 1 :] = self.distractor_rng.random((T, self.n, task.n_distractors)).swapaxes(
            0, 1
        ) < 1.0 / (10.0 * np.arange(1, task.n_distractors + 1))
        G = np.zeros((self.n, T))
        steps = np.arange(t0, t0 + T)
        for i in range(self.n):
            self._schedule(i, t0 + T + task.horizon)
            for cs, pattern, us in self.trials[i]:
                if t0 <= cs < t0 + T:
                    x[i, cs - t0, :nc] = task.patterns[pattern]
                if us < 0:
                    continue
                if t0 <= us < t0 + T:
                    x[i, us - t0, nc] = 1.0
                k = us - steps - 1  # US_{t+k+1}: 0 <= k < horizon counts
                near = (k >= 0) & (k < task.horizon)
                G[i, near] += task.gamma ** k[near]
            self.trials[i] = [tr for tr in self.trials[i] if max(tr[0], tr[2]) >= t0 + T]
        self.t = t0 + T
        return Trials(x, G[:, :, None], None, {"stream": np.arange(self.n)})

    def state(self) -> dict[str, Any]:
        """Everything needed to continue the stream exactly (JSON-compatible)."""
        return {
            "trial_rngs": [r.bit_generator.state for r in self.trial_rngs],
            "distractor_rng": self.distractor_rng.bit_generator.state,
            "t": self.t,
            "trials": [[list(tr) for tr in trs] for trs in self.trials],  # copies: next() edits
            "next_cs": list(self.next_cs),
        }

    def restore(self, state: dict[str, Any]) -> TraceStream:
        """Continue from :meth:`state`; returns ``self``."""
        for r, s in zip(self.trial_rngs, state["trial_rngs"], strict=True):
            r.bit_generator.state = s
        self.distractor_rng.bit_generator.state = state["distractor_rng"]
        self.t = int(state["t"])
        self.trials = [[[int(v) for v in tr] for tr in trs] for trs in state["trials"]]
        self.next_cs = [int(v) for v in state["next_cs"]]
        return self
