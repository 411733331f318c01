r"""Timing tasks: interval matching (Murray 2019) and Ready–Set–Go (Jazayeri & Shadlen 2015).

**Interval matching** (Murray 2019, eLife 8:e43299, Fig. 3).  Two input pulses, at ``t1`` and
``t1 + Δ``, mark an interval Δ drawn per trial; the output must produce a pulse Δ after the
second, at ``t1 + 2Δ``, and stay at 0 otherwise.  In the paper (Methods) "the input and target
output pulses were Gaussian with a standard deviation of 15 timesteps" (``cue="gaussian"``,
``cue_width = pulse_width = 15``), with τ = 10 steps and T_delay ≤ 15τ, 20τ or 25τ; the
paper does not give the shortest delay, the delays' distribution, the pulses' height or the
time of the first pulse.  Here Δ is uniform over the integers in ``[interval_min,
interval_max]`` and pulses peak at 1.  ``test_intervals`` sets the held-out conditions, which
may lie outside the training range (generalisation).

**Ready–Set–Go** (Jazayeri & Shadlen 2015, Curr. Biol. 25:2599; in RNNs, Wang et al. 2018,
Nat. Neurosci. 21:102).  A *Ready* pulse on channel 0 and a *Set* pulse on channel 1, separated
by the sample interval ``t_s``; the network must respond ``t_s`` after Set.  ``response="ramp"``
asks for an output that rises linearly from 0 at Set to 1 at the Go time and holds 1 after it
(a threshold crossing marks Go); ``response="bump"`` asks for a Gaussian bump at the Go time.
``t_s`` is drawn from ``intervals`` (a list of steps), as in the prior distributions of the
experiment.  With ``response_only``, the loss mask scores only the response window, from Set
on: the output before Set is free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .._validate import one_of
from .base import Trials, positive

__all__ = ["IntervalMatching", "ReadySetGo", "gaussian_bump"]


def gaussian_bump(t: np.ndarray, centre: np.ndarray, width: float) -> np.ndarray:
    """``exp(-(t - centre)² / (2 width²))``: ``t`` ``(time,)``, ``centre`` ``(trial,)`` →
    ``(trial, time)``."""
    return np.exp(-0.5 * ((t[None, :] - np.asarray(centre, float)[:, None]) / width) ** 2)


def _pulses(T: int, onsets: np.ndarray, width: int) -> np.ndarray:
    """``(trial, time)`` square pulses of ``width`` steps starting at each trial's onset."""
    t = np.arange(T)[None, :]
    on = np.asarray(onsets)[:, None]
    return ((t >= on) & (t < on + width)).astype(float)


@dataclass(frozen=True)
class IntervalMatching:
    """Reproduce an interval marked by two pulses (after Murray 2019, Fig. 3).

    Parameters (in time steps)
    --------------------------
    interval_min, interval_max: the range of Δ in training.
    first_cue: time of the first pulse (its onset, or its centre for Gaussian cues).
    cue: ``"square"`` (pulses ``cue_width`` steps long) or ``"gaussian"`` (standard deviation
        ``cue_width``, Murray's).
    cue_width: width of each input pulse.
    pulse_width: standard deviation of the Gaussian response.
    tail: steps simulated after the latest possible response.
    test_intervals: the held-out conditions (:meth:`every_condition`); None for five intervals
        evenly spanning the training range.  Longer ones lengthen the held-out trials only.
    """

    interval_min: int = 20
    interval_max: int = 60
    first_cue: int = 10
    cue: str = "square"
    cue_width: int = 5
    pulse_width: float = 4.0
    tail: int = 20
    test_intervals: list[int] | None = None
    name: ClassVar[str] = "interval"

    def __post_init__(self) -> None:
        for k in ("interval_min", "interval_max", "cue_width"):
            positive(k, getattr(self, k), integer=True)
        for k in ("first_cue", "tail"):
            positive(k, getattr(self, k), integer=True, allow_zero=True)
        positive("pulse_width", self.pulse_width)
        one_of("cue", self.cue, ("square", "gaussian"))
        if self.interval_max < self.interval_min:
            raise ValueError(
                f"interval_max ({self.interval_max}) must be >= interval_min ({self.interval_min})"
            )
        if self.cue_width >= self.interval_min:
            raise ValueError(
                f"cue_width ({self.cue_width}) must be shorter than interval_min "
                f"({self.interval_min}) so that the two pulses are distinct"
            )
        if self.test_intervals is not None:
            ts = np.asarray(self.test_intervals)
            if ts.ndim != 1 or ts.size == 0 or ts.dtype.kind not in "iu" or np.any(ts <= 0):
                raise ValueError(
                    "test_intervals must be a non-empty list of positive integers (steps); "
                    f"got {self.test_intervals!r}"
                )
            object.__setattr__(self, "test_intervals", [int(v) for v in ts])

    n_in = property(lambda self: 1)
    n_out = property(lambda self: 1)

    @property
    def n_steps(self) -> int:
        """The length of a training trial."""
        return self.first_cue + 2 * self.interval_max + self.tail

    def trials(self, intervals: np.ndarray) -> Trials:
        """The trials for the given intervals ``(trial,)``; a trial is :attr:`n_steps` long,
        or long enough for an interval beyond ``interval_max``."""
        d = np.asarray(intervals, dtype=int)
        T = self.first_cue + 2 * max(self.interval_max, int(d.max(initial=0))) + self.tail
        t = np.arange(T, dtype=float)
        cues = [np.full(d.shape, self.first_cue), self.first_cue + d]
        if self.cue == "gaussian":
            x = sum(gaussian_bump(t, c, self.cue_width) for c in cues)
        else:
            x = sum(_pulses(T, c, self.cue_width) for c in cues)
        target = gaussian_bump(t, self.first_cue + 2 * d, self.pulse_width)
        return Trials(x[:, :, None], target[:, :, None], None, {"interval": d})

    def sample(self, n_trials: int, rng: np.random.Generator) -> Trials:
        positive("n_trials", n_trials, integer=True)
        return self.trials(rng.integers(self.interval_min, self.interval_max + 1, n_trials))

    def every_condition(self, n: int = 5) -> Trials:
        """The held-out set: ``test_intervals``, else ``n`` intervals evenly spanning the range."""
        if self.test_intervals is not None:
            return self.trials(np.asarray(self.test_intervals))
        return self.trials(np.linspace(self.interval_min, self.interval_max, n).round())


@dataclass(frozen=True)
class ReadySetGo:
    """Measure an interval and reproduce it (Jazayeri & Shadlen 2015).

    Parameters (in time steps)
    --------------------------
    intervals: the sample intervals t_s to draw from.
    ready: time of the Ready pulse.
    cue_width: width of the Ready and Set pulses.
    response: ``"ramp"`` or ``"bump"``.
    pulse_width: the bump's standard deviation.
    tail: steps after the latest Go time.
    response_only: score only the response window, from Set on (a loss mask).
    """

    intervals: list[int] = field(default_factory=lambda: [24, 32, 40, 48])
    ready: int = 10
    cue_width: int = 3
    response: str = "ramp"
    pulse_width: float = 4.0
    tail: int = 20
    response_only: bool = False
    name: ClassVar[str] = "ready_set_go"

    def __post_init__(self) -> None:
        ts = np.asarray(self.intervals)
        if ts.ndim != 1 or ts.size == 0 or ts.dtype.kind not in "iu" or np.any(ts <= 0):
            raise ValueError(
                f"intervals must be a non-empty list of positive integers (steps); "
                f"got {self.intervals!r}"
            )
        object.__setattr__(self, "intervals", [int(v) for v in ts])
        positive("ready", self.ready, integer=True, allow_zero=True)
        positive("cue_width", self.cue_width, integer=True)
        positive("tail", self.tail, integer=True, allow_zero=True)
        positive("pulse_width", self.pulse_width)
        one_of("response", self.response, ("ramp", "bump"))
        if not isinstance(self.response_only, bool):
            raise ValueError(f"response_only must be true or false; got {self.response_only!r}")
        if self.cue_width >= min(self.intervals):
            raise ValueError(
                f"cue_width ({self.cue_width}) must be shorter than the shortest interval "
                f"({min(self.intervals)})"
            )

    n_in = property(lambda self: 2)
    n_out = property(lambda self: 1)

    @property
    def n_steps(self) -> int:
        return self.ready + 2 * max(self.intervals) + self.tail

    def trials(self, ts: np.ndarray) -> Trials:
        """The trials for sample intervals ``ts`` ``(trial,)``."""
        ts = np.asarray(ts, dtype=int)
        T = self.n_steps
        set_t = self.ready + ts
        go = set_t + ts
        x = np.stack(
            [
                _pulses(T, np.full(ts.shape, self.ready), self.cue_width),
                _pulses(T, set_t, self.cue_width),
            ],
            axis=2,
        )
        t = np.arange(T, dtype=float)
        if self.response == "ramp":
            target = np.clip((t[None, :] - set_t[:, None]) / ts[:, None], 0.0, 1.0)
        else:
            target = gaussian_bump(t, go, self.pulse_width)
        mask = None
        if self.response_only:
            mask = (t[None, :] >= set_t[:, None]).astype(float)[:, :, None]
        return Trials(x, target[:, :, None], mask, {"t_s": ts, "go": go})

    def sample(self, n_trials: int, rng: np.random.Generator) -> Trials:
        positive("n_trials", n_trials, integer=True)
        return self.trials(rng.choice(self.intervals, n_trials))

    def every_condition(self) -> Trials:
        """One trial per sample interval."""
        return self.trials(np.asarray(self.intervals))
