r"""Credit-assignment benchmarks as continuing streams (Marschall, Cho & Savin 2020, JMLR 21).

These tasks are one long sequence, not trials: a :class:`Stream` hands out consecutive chunks
of ``chunk`` steps, and the network's state and the learning rule's state carry over from one
chunk to the next.  Training runs online (``update="online"``, every ``update_every`` steps).
Add's and Copy's input is a Bernoulli(½) bit ``x`` presented one-hot on two channels
``[x, 1 - x]``, Mimic's two independent bits; each sample is held for ``hold`` steps, and lags
count samples, not steps.  The set-ups follow the authors' code (FigTop/vanilla-rtrl_old,
``gen_data.py`` and ``main.py`` at commit d83dddcf); the paper's text was not available to us.

* :class:`Add` (Pitis 2016, as used by Marschall et al. 2020): the target is the probability
  ``p_t = 0.5 + 0.5 x_{t-t1} - 0.25 x_{t-t2}``, given as the distribution ``[p, 1-p]`` over two
  outputs and learned with ``loss="softmax_xent"``.
* :class:`Mimic` (Marschall et al. 2020): match the outputs of a fixed random target RNN
  (32 tanh units, α = 0.5, two linear outputs) driven by the same input: two independent
  bits per sample, not one-hot; its ``W_rec`` is a random orthogonal matrix scaled by
  ``0.5 + 0.1 d`` for difficulty ``d``.  MSE loss.
* :class:`Copy`: reproduce the bit seen ``delay`` samples ago (one-hot, softmax cross-entropy).

Before the stream starts, past bits count as 0.  The same seed gives the same stream, chunk by
chunk, however it is cut; a stream's state (its generator and the bits it still needs) can be
saved and restored exactly.

**The test set** (:meth:`test_trials`) is a fresh stream of ``test_warmup + test_steps``
steps, drawn from the run's seed, whose loss mask is 0 during the warm-up, simulated from the
zero state.  A test chunk that started from zero history and zero state, with every step
counted, would include steps where the lagged bits are not yet defined (Add's target is fixed
at 0.5 there), and its loss would sit above the task's own levels at any lag: at d = 14 that
floor is about 0.678 nats, whatever the network learned.  The authors' code tests on an
independent 10,000-step stream too, but one shared by every seed (``np.random.seed(1)``),
from a random N(0, 1) network state and with no warm-up (its generator wraps the lags around,
so every target is defined); the zero state, the 100-step warm-up and the per-seed test
streams are ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .base import Trials, positive

__all__ = ["Add", "Mimic", "Copy", "Stream", "Continuing"]


class Stream:
    """Consecutive chunks of ``n_streams`` independent copies of a task's sequence.

    The stream keeps the last ``task.memory`` samples (the lags reach back that far), how many
    steps of the current sample remain, and, for :class:`Mimic`, the target network's state.
    """

    def __init__(self, task: Any, n_streams: int, rng: np.random.Generator) -> None:
        positive("n_streams", n_streams, integer=True)
        self.task, self.n = task, n_streams
        self.rng = np.random.default_rng(rng.integers(2**63))
        # the last is the current sample; a sample is one bit, or ``task.bits`` of them
        extra = (task.bits,) if task.bits > 1 else ()
        self.history = np.zeros((n_streams, task.memory + 1, *extra))
        self.left = 0  # steps of the current sample still to come
        self.hidden = np.zeros((n_streams, task.hidden_units)) if task.hidden_units else None

    def next(self, n_steps: int | None = None) -> Trials:
        """The next ``n_steps`` steps (default ``task.chunk``) of every stream."""
        T = self.task.chunk if n_steps is None else n_steps
        positive("n_steps", T, integer=True)
        h = self.task.hold
        n_new = max(0, -(-(T - self.left) // h))
        # drawn sample-major, so the stream is the same however it is cut into chunks
        new = np.moveaxis(self.task.draw(self.rng, (n_new, self.n)), 0, 1)
        samples = np.concatenate([self.history, new], axis=1)
        L = self.task.memory
        t = np.arange(T)
        idx = np.where(t < self.left, L, L + 1 + (t - self.left) // h)  # sample index per step
        trials = self.task.chunk_trials(samples, idx, self)
        last = idx[-1]
        self.history = samples[:, last - L : last + 1]
        self.left = (self.left - T) if T < self.left else (h - 1 - (T - 1 - self.left) % h)
        return trials

    def state(self) -> dict[str, Any]:
        """Everything needed to continue the stream exactly (JSON-compatible)."""
        return {
            "rng": self.rng.bit_generator.state,
            "history": self.history.tolist(),
            "left": self.left,
            "hidden": None if self.hidden is None else self.hidden.tolist(),
        }

    def restore(self, state: dict[str, Any]) -> Stream:
        """Continue from :meth:`state`; returns ``self``."""
        self.rng.bit_generator.state = state["rng"]
        self.history = np.asarray(state["history"], dtype=float)
        self.left = int(state["left"])
        if state["hidden"] is not None:
            self.hidden = np.asarray(state["hidden"], dtype=float)
        return self


def _one_hot(bits: np.ndarray) -> np.ndarray:
    return np.stack([bits, 1.0 - bits], axis=-1)


class Continuing:
    """What every continuing task shares: chunks of a :class:`Stream`, and its test set.

    A continuing task has ``hold`` (steps per sample), ``chunk`` (steps per recorded "trial"),
    ``memory`` (samples its target reaches back), ``hidden_units`` (a target network's state,
    or 0), ``test_steps`` and ``test_warmup``, and turns samples into trials with
    ``chunk_trials(samples, idx, stream)``.
    """

    continuing: ClassVar[bool] = True
    hidden_units: ClassVar[int] = 0
    bits: ClassVar[int] = 1  # independent bits per sample

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """New samples ``shape (+ (bits,))``: Bernoulli(½) bits."""
        extra = (self.bits,) if self.bits > 1 else ()
        return (rng.random(shape + extra) < 0.5).astype(float)

    @property
    def n_steps(self) -> int:
        return self.chunk

    def stream(self, n_streams: int, rng: np.random.Generator) -> Stream:
        """A new stream of ``n_streams`` independent sequences."""
        return Stream(self, n_streams, rng)

    def sample(self, n_trials: int, rng: np.random.Generator) -> Trials:
        """``n_trials`` independent chunks, each the start of a fresh stream."""
        positive("n_trials", n_trials, integer=True)
        return self.stream(n_trials, rng).next()

    def test_trials(self, n_streams: int, rng: np.random.Generator) -> Trials:
        """The held-out test set: ``n_streams`` fresh streams of ``test_warmup + test_steps``
        steps, with the loss mask 0 during the warm-up (module docstring) and wherever the
        task's own mask is.  Without a task mask, the summed loss over one stream's counted
        steps is ``test_steps`` times the loss per step."""
        positive("n_streams", n_streams, integer=True)
        tr = self.stream(n_streams, rng).next(self.test_warmup + self.test_steps)
        mask = np.ones_like(tr.target) if tr.mask is None else tr.mask.copy()
        mask[:, : self.test_warmup] = 0.0
        return Trials(tr.x, tr.target, mask, tr.conditions, tr.dt)


@dataclass(frozen=True)
class _StreamTask(Continuing):
    hold: int = 1
    chunk: int = 100
    test_steps: int = 10_000
    test_warmup: int = 100
    n_in = property(lambda self: 2)
    n_out = property(lambda self: 2)

    def _check_common(self) -> None:
        positive("hold", self.hold, integer=True)
        positive("chunk", self.chunk, integer=True)
        positive("test_steps", self.test_steps, integer=True)
        positive("test_warmup", self.test_warmup, integer=True, allow_zero=True)
        settle = self.hold * (self.memory + 1)
        if self.test_warmup < settle:
            raise ValueError(
                f"test_warmup ({self.test_warmup} steps) must be at least hold × (longest lag "
                f"+ 1) = {settle} steps, so that every counted test step has defined lagged "
                f"bits; raise test_warmup to {settle} or more"
            )


@dataclass(frozen=True)
class Add(_StreamTask):
    """Pitis's Add task: ``p_t = 0.5 + 0.5 x_{t-t1} - 0.25 x_{t-t2}``.

    Parameters: ``t1``, ``t2`` (lags, in samples, >= 0), ``hold``, ``chunk``, ``test_steps``,
    ``test_warmup`` (steps; :meth:`test_trials`).
    """

    t1: int = 5
    t2: int = 9
    name: ClassVar[str] = "add"
    loss: ClassVar[str] = "softmax_xent"

    def __post_init__(self) -> None:
        positive("t1", self.t1, integer=True, allow_zero=True)
        positive("t2", self.t2, integer=True, allow_zero=True)
        self._check_common()

    @property
    def memory(self) -> int:
        return max(self.t1, self.t2)

    def chunk_trials(self, samples: np.ndarray, idx: np.ndarray, stream: Stream) -> Trials:
        x = samples[:, idx]
        p = 0.5 + 0.5 * samples[:, idx - self.t1] - 0.25 * samples[:, idx - self.t2]
        return Trials(_one_hot(x), _one_hot(p), None, {"stream": np.arange(stream.n)})


@dataclass(frozen=True)
class Copy(_StreamTask):
    """Delayed recall: output the bit seen ``delay`` samples ago (one-hot, cross-entropy)."""

    delay: int = 5
    name: ClassVar[str] = "copy"
    loss: ClassVar[str] = "softmax_xent"

    def __post_init__(self) -> None:
        positive("delay", self.delay, integer=True, allow_zero=True)
        self._check_common()

    @property
    def memory(self) -> int:
        return self.delay

    def chunk_trials(self, samples: np.ndarray, idx: np.ndarray, stream: Stream) -> Trials:
        x = samples[:, idx]
        return Trials(
            _one_hot(x),
            _one_hot(samples[:, idx - self.delay]),
            None,
            {"stream": np.arange(stream.n)},
        )


@dataclass(frozen=True)
class Mimic(_StreamTask):
    """Match a fixed random target RNN driven by the same bits (Marschall et al. 2020).

    The target, as in the authors' code (FigTop/vanilla-rtrl_old, ``main.py`` and
    ``gen_data.Mimic_RNN`` at commit d83dddcf): 2 inputs, 32 tanh units, 2 linear outputs,
    ``h_t = (1 - α) h_{t-1} + α tanh(W_rec h_{t-1} + W_in x_t + b)``, ``y_t = W_out h_t + b_out``
    with ``W_rec`` = orthogonal × (0.5 + 0.1 d), ``W_in ~ N(0, 1/2)``, ``W_out ~ N(0, 1/32)``,
    ``b, b_out ~ N(0, 0.1²)``, α = 0.5; its input is two independent Bernoulli(½) bits per
    sample, each held ``hold`` = 2 steps.  The target starts from h = 0.

    Parameters: ``difficulty`` d, ``target_seed`` (the target network), ``alpha`` (the
    target's), ``hold``, ``chunk``, ``test_steps``, ``test_warmup``.
    """

    hold: int = 2
    difficulty: float = 2.0
    target_seed: int = 0
    alpha: float = 0.5
    name: ClassVar[str] = "mimic"
    loss: ClassVar[str] = "mse"
    hidden_units: ClassVar[int] = 32
    memory: ClassVar[int] = 0
    bits: ClassVar[int] = 2
    _weights: dict = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._check_common()
        d = self.difficulty
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not np.isfinite(d) or d < 0:
            raise ValueError(f"difficulty must be a finite number >= 0; got {d!r}")
        a = self.alpha
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0 < a <= 1:
            raise ValueError(f"alpha must lie in (0, 1]; got {a!r}")
        positive("target_seed", self.target_seed, integer=True, allow_zero=True)
        rng = np.random.default_rng(self.target_seed)
        n = self.hidden_units
        q, r = np.linalg.qr(rng.standard_normal((n, n)))
        q *= np.sign(np.diag(r))  # a uniformly random orthogonal matrix
        weights = {
            "W_rec": (0.5 + 0.1 * d) * q,
            "W_in": rng.standard_normal((n, 2)) / np.sqrt(2),
            "W_out": rng.standard_normal((2, n)) / np.sqrt(n),
            "b": 0.1 * rng.standard_normal(n),
            "b_out": 0.1 * rng.standard_normal(2),
        }
        object.__setattr__(self, "_weights", weights)

    def chunk_trials(self, samples: np.ndarray, idx: np.ndarray, stream: Stream) -> Trials:
        x = samples[:, idx]  # (stream, time, 2): the two bits themselves
        w, a = self._weights, self.alpha
        h = stream.hidden
        ys = np.empty(x.shape[:2] + (2,))
        for t in range(x.shape[1]):  # the target network, one step at a time
            h = (1 - a) * h + a * np.tanh(h @ w["W_rec"].T + x[:, t] @ w["W_in"].T + w["b"])
            ys[:, t] = h @ w["W_out"].T + w["b_out"]
        stream.hidden = h
        return Trials(x, ys, None, {"stream": np.arange(stream.n)})
