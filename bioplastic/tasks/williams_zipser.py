r"""The tasks of Williams & Zipser 1989 (Neural Computation 1:270, "Simulation experiments"),
as continuing streams for their network: fully recurrent logistic units at α = 1, whose
outputs are units (``init="williams_zipser"``), learning in real time.

**What we could read.**  The paper's text (and its companion, Williams & Zipser 1989,
Connection Science 1:87) was not reachable to us: only seed 002's summary of its equations,
the quoted sentences on real-time learning and teacher forcing, and the list of its
experiments (pipelined XOR, simple sequence recognition, delayed nonmatch to sample, learning
to be a Turing machine, learning to oscillate).  Each task below follows the one-line
description those sources give; its sizes, input statistics and targets are **ours**, chosen
once and listed in each class's docstring.  The Turing-machine task (parenthesis balancing) is
left out: its coding is not recoverable from what we could read.

**Time.**  The paper's unit sees input ``x(t)`` at ``t + 1``: ``y(t+1) = f(W z(t))`` with
``z(t) = [x(t), y(t)]``.  Our rate form at α = 1 reads ``h_t = f(W_rec h_{t-1} + W_in x_t +
b)``, so our input at step ``t`` is the paper's ``x(t - 1)``: a target "τ steps after the
input" in the paper is ``τ - 1`` steps after it here, and each task's ``delay`` is the paper's
τ.  The bias line (an input fixed at 1) is our ``b``.

Every task here is a continuing stream (:mod:`bioplastic.tasks.streams`): one long sequence
cut into chunks of ``chunk`` steps; the network's and the rule's state carry over.
Targets are 0/1 (the logistic unit's range), scored with ``J = ½ Σ e²`` (MSE).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .base import Trials, positive
from .streams import Continuing, Stream

__all__ = ["PipelinedXOR", "SequenceRecognition", "NonmatchStream", "Oscillation"]


@dataclass(frozen=True)
class _WZTask(Continuing):
    chunk: int = 100
    test_steps: int = 1000
    test_warmup: int = 20
    hold: ClassVar[int] = 1
    loss: ClassVar[str] = "mse"

    def _check_common(self) -> None:
        positive("chunk", self.chunk, integer=True)
        positive("test_steps", self.test_steps, integer=True)
        positive("test_warmup", self.test_warmup, integer=True, allow_zero=True)
        need = self.memory + 1
        if self.test_warmup < need:
            raise ValueError(
                f"test_warmup ({self.test_warmup}) must be at least {need} steps, so that every "
                f"scored test step has its inputs; raise test_warmup to {need} or more"
            )


@dataclass(frozen=True)
class PipelinedXOR(_WZTask):
    """Pipelined XOR: one unit outputs the XOR of the two input lines' bits ``delay`` steps
    earlier (Williams & Zipser 1989, "Pipelined XOR": the network must organise itself into
    as many layers as the delay allows).

    Ours: two input lines of independent Bernoulli(½) bits every step; the target, at our
    step ``t``, is ``x₁ XOR x₂`` of our step ``t - delay + 1`` (the paper's τ = ``delay``;
    module docstring); ``delay >= 2`` (at τ = 1 the XOR would need one layer of logistic units,
    which cannot compute it).
    """

    delay: int = 2
    name: ClassVar[str] = "pipelined_xor"
    bits: ClassVar[int] = 2
    n_in = property(lambda self: 2)
    n_out = property(lambda self: 1)

    def __post_init__(self) -> None:
        positive("delay", self.delay, integer=True)
        if self.delay < 2:
            raise ValueError(
                f"delay must be >= 2 (the paper's τ: input to a hidden layer, then the output "
                f"unit); got {self.delay}"
            )
        self._check_common()

    @property
    def memory(self) -> int:
        return self.delay - 1

    def chunk_trials(self, samples: np.ndarray, idx: np.ndarray, stream: Stream) -> Trials:
        x = samples[:, idx]  # (stream, time, 2)
        past = samples[:, idx - self.memory]
        target = np.abs(past[..., :1] - past[..., 1:])  # XOR of two bits
        return Trials(x, target, None, {"stream": np.arange(stream.n)})


@dataclass(frozen=True)
class SequenceRecognition(_WZTask):
    """Simple sequence recognition: an output goes on right after the first ``b`` that
    follows an ``a``, however long the gap (Williams & Zipser 1989, "Simple sequence
    recognition"; a flip-flop and an AND).  Once used, the ``a`` is spent.

    Ours: ``n_lines`` input lines (line 0 is ``a``, line 1 is ``b``, the rest distractors);
    each step exactly one line is on, drawn uniformly.  The target is 1 at the step such a
    ``b`` arrives here (the paper's "immediately following": its unit answers ``x(t)`` at
    ``t + 1``, one layer, module docstring) and 0 otherwise.
    """

    n_lines: int = 3
    name: ClassVar[str] = "sequence_recognition"
    hidden_units: ClassVar[int] = 1  # the task's own flip-flop: an a waiting for its b
    memory: ClassVar[int] = 0

    def __post_init__(self) -> None:
        positive("n_lines", self.n_lines, integer=True)
        if self.n_lines < 2:
            raise ValueError(f"n_lines must be >= 2 (an a line and a b line); got {self.n_lines}")
        self._check_common()

    n_in = property(lambda self: self.n_lines)
    n_out = property(lambda self: 1)

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """The line that is on, per step, counted from 1 (0: before the stream starts)."""
        return 1.0 + rng.integers(self.n_lines, size=shape)

    def chunk_trials(self, samples: np.ndarray, idx: np.ndarray, stream: Stream) -> Trials:
        line = samples[:, idx].astype(int) - 1  # (stream, time): 0 is a, 1 is b
        x = np.eye(self.n_lines)[line]
        armed = stream.hidden[:, 0].astype(bool)  # an a is waiting, as of the step before
        target = np.zeros(line.shape + (1,))
        for t in range(line.shape[1]):  # the flip-flop, one step at a time
            fire = armed & (line[:, t] == 1)
            target[:, t, 0] = fire
            armed = (armed & ~fire) | (line[:, t] == 0)
        stream.hidden = np.asarray(armed, float)[:, None]
        return Trials(x, target, None, {"stream": np.arange(stream.n)})


@dataclass(frozen=True)
class NonmatchStream(_WZTask):
    """Delayed nonmatch to sample, continually running (Williams & Zipser 1989, "Delayed
    nonmatch to sample"): remember a cued bit and say, every step, whether the current bit
    differs from it.

    Ours: two input lines, a pattern bit (Bernoulli(½)) and a cue (on with probability
    ``cue_rate``).  A cue stores the pattern bit that comes with it; on the other steps the
    target is 1 if the pattern bit differs from the stored one, else 0.  The comparison is an
    XOR, which needs a hidden layer, so it is scored one step after the bit arrives here (the
    paper's τ = 2), only once a bit has been stored, and not for the cued bit itself (it
    matches itself).
    """

    cue_rate: float = 0.2
    name: ClassVar[str] = "nonmatch_stream"
    bits: ClassVar[int] = 2  # (pattern, cue)
    hidden_units: ClassVar[int] = 2  # the stored bit, and whether one is stored
    memory: ClassVar[int] = 1
    n_in = property(lambda self: 2)
    n_out = property(lambda self: 1)

    def __post_init__(self) -> None:
        c = self.cue_rate
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0 < c < 1:
            raise ValueError(f"cue_rate must lie in (0, 1); got {c!r}")
        self._check_common()

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        u = rng.random(shape + (2,))  # one call, sample-major: the same stream however cut
        return (u < np.array([0.5, self.cue_rate])).astype(float)

    def chunk_trials(self, samples: np.ndarray, idx: np.ndarray, stream: Stream) -> Trials:
        x = samples[:, idx]
        prev = samples[:, idx - 1]  # the step the answer is about
        stored, has = stream.hidden[:, 0].copy(), stream.hidden[:, 1].astype(bool)
        target = np.zeros(x.shape[:2] + (1,))
        mask = np.zeros_like(target)
        for t in range(x.shape[1]):
            bit, cue = prev[:, t, 0], prev[:, t, 1] > 0
            stored = np.where(cue, bit, stored)
            has = has | cue
            target[:, t, 0] = (bit != stored) & has
            mask[:, t, 0] = has & ~cue
        stream.hidden = np.stack([stored, has.astype(float)], axis=1)
        return Trials(x, target, mask, {"stream": np.arange(stream.n)})


@dataclass(frozen=True)
class Oscillation(_WZTask):
    """Learning to oscillate (Williams & Zipser 1989, "Learning to oscillate"): one unit
    produces a periodic wave with no input but the bias line.

    Ours: ``wave="square"`` (0 for ``period/2`` steps, then 1) or ``"sine"``
    (``0.5 + 0.4 sin(2π t / period)``), the phase counted from the stream's first step.
    Learned with or without teacher forcing (``[training] teacher_forcing``); the test
    stream is free-running from the zero state, so its phase is the network's own: score a
    free run with :func:`phase_free_error`.
    """

    wave: str = "sine"
    period: int = 24
    name: ClassVar[str] = "oscillation"
    hidden_units: ClassVar[int] = 1  # the clock
    memory: ClassVar[int] = 0
    n_in = property(lambda self: 0)
    n_out = property(lambda self: 1)

    def __post_init__(self) -> None:
        if self.wave not in ("sine", "square"):
            raise ValueError(f"wave must be 'sine' or 'square'; got {self.wave!r}")
        positive("period", self.period, integer=True)
        if self.period < 2 or (self.wave == "square" and self.period % 2):
            raise ValueError(
                f"period must be an integer >= 2 (even for a square wave); got {self.period}"
            )
        self._check_common()

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return np.zeros(shape)  # nothing random: the stream only counts steps

    def wave_at(self, t: np.ndarray) -> np.ndarray:
        """The target at steps ``t`` (0 = the stream's first step)."""
        phase = np.mod(t, self.period)
        if self.wave == "square":
            return (phase >= self.period // 2).astype(float)
        return 0.5 + 0.4 * np.sin(2 * np.pi * phase / self.period)

    def chunk_trials(self, samples: np.ndarray, idx: np.ndarray, stream: Stream) -> Trials:
        T = idx.shape[0]
        start = stream.hidden[:, 0]
        t = start[:, None] + np.arange(T)[None, :]
        stream.hidden = (start + T)[:, None]
        return Trials(
            np.zeros((stream.n, T, 0)),
            self.wave_at(t)[..., None],
            None,
            {"stream": np.arange(stream.n)},
        )


def phase_free_error(task: Oscillation, y: np.ndarray) -> float:
    """Mean squared error of a free run ``y`` (time,) against the wave at the best phase:
    ``min_s mean_t (y_t - d_{t+s})²`` over shifts ``s`` of one period."""
    y = np.asarray(y, float)
    t = np.arange(y.shape[0])
    return float(min(np.mean((y - task.wave_at(t + s)) ** 2) for s in range(task.period)))
