r"""Motor tasks: center-out reaching, cued trajectory drawing, cued sine generation.

**Center-out reaching** (the delayed-reach paradigm of Georgopoulos et al. 1982; as an RNN task,
Sussillo et al. 2015, Nat. Neurosci. 18:1025).  Inputs: the target position ``(x, y)`` from
target onset to the end of the trial, and a go cue (1 from the go time on).  After a random
delay, the output (the 2-D hand position) must move from the centre to the target along a
minimum-jerk profile (Flash & Hogan 1985, J. Neurosci. 5:1688),

    p(s) = p0 + (p1 - p0)(10 s³ - 15 s⁴ + 6 s⁵),   s = (t - t_go) / duration ∈ [0, 1],

which starts and ends at rest (zero velocity and acceleration), then hold at the target.

**Cued trajectory drawing.**  A one-hot cue selects one of several closed curves, each drawn
once per ``period`` steps for the whole trial: a circle, a figure-eight (lemniscate of
Gerono), a three-petal rose and a cardioid, each scaled to fit the unit square.

**Cued sine generation** (Sussillo & Abbott 2009, Neuron 63:544, Fig. 4): a static input level
selects the frequency of a sine wave output; the level maps linearly onto the frequency range.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .base import Trials, positive

__all__ = ["CenterOutReaching", "CuedDrawing", "CuedSine", "minimum_jerk", "CURVES"]


def minimum_jerk(s: np.ndarray) -> np.ndarray:
    """``10 s³ - 15 s⁴ + 6 s⁵`` on ``s`` clipped to [0, 1] (Flash & Hogan 1985)."""
    s = np.clip(s, 0.0, 1.0)
    return s**3 * (10 - 15 * s + 6 * s * s)


@dataclass(frozen=True)
class CenterOutReaching:
    """Delayed center-out reaching with a minimum-jerk hand path.

    Parameters (time in steps)
    --------------------------
    n_targets: targets evenly spaced on a circle.
    radius: the circle's radius.
    target_onset: when the target appears.
    delay_min, delay_max: the delay from target onset to go, drawn per trial.
    duration: the movement time.
    hold: steps of holding at the target after the movement.
    """

    n_targets: int = 8
    radius: float = 1.0
    target_onset: int = 5
    delay_min: int = 10
    delay_max: int = 30
    duration: int = 30
    hold: int = 15
    name: ClassVar[str] = "reaching"

    def __post_init__(self) -> None:
        positive("n_targets", self.n_targets, integer=True)
        positive("radius", self.radius)
        for k in ("target_onset", "delay_min"):
            positive(k, getattr(self, k), integer=True, allow_zero=True)
        for k in ("delay_max", "duration", "hold"):
            positive(k, getattr(self, k), integer=True)
        if self.delay_max < self.delay_min:
            raise ValueError(
                f"delay_max ({self.delay_max}) must be >= delay_min ({self.delay_min})"
            )

    n_in = property(lambda self: 3)
    n_out = property(lambda self: 2)

    @property
    def n_steps(self) -> int:
        return self.target_onset + self.delay_max + self.duration + self.hold

    def trials(self, targets: np.ndarray, delays: np.ndarray) -> Trials:
        """Trials for target indices and delays, each ``(trial,)``."""
        k = np.asarray(targets, dtype=int)
        d = np.asarray(delays, dtype=int)
        T = self.n_steps
        angle = 2 * np.pi * k / self.n_targets
        goal = self.radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)  # (trial, 2)
        t = np.arange(T)[None, :]
        shown = (t >= self.target_onset).astype(float)  # (1, T)
        go_t = self.target_onset + d
        x = np.zeros((len(k), T, 3))
        x[:, :, :2] = shown[:, :, None] * goal[:, None, :]
        x[:, :, 2] = (t >= go_t[:, None]).astype(float)
        s = (t - go_t[:, None]) / self.duration
        target = minimum_jerk(s)[:, :, None] * goal[:, None, :]
        return Trials(x, target, None, {"target": k, "angle": angle, "delay": d})

    def sample(self, n_trials: int, rng: np.random.Generator) -> Trials:
        positive("n_trials", n_trials, integer=True)
        return self.trials(
            rng.integers(0, self.n_targets, n_trials),
            rng.integers(self.delay_min, self.delay_max + 1, n_trials),
        )

    def every_condition(self) -> Trials:
        """Every target once, at the middle delay."""
        mid = (self.delay_min + self.delay_max) // 2
        return self.trials(np.arange(self.n_targets), np.full(self.n_targets, mid))


def _circle(th):
    return np.cos(th), np.sin(th)


def _figure_eight(th):  # lemniscate of Gerono
    return np.sin(th), np.sin(th) * np.cos(th) * 2


def _rose(th):  # three petals
    r = np.cos(3 * th)
    return r * np.cos(th), r * np.sin(th)


def _cardioid(th):
    r = 1 - np.cos(th)
    return (r * np.cos(th) + 0.75) / 1.25, r * np.sin(th) / 1.3


CURVES = {"circle": _circle, "figure_eight": _figure_eight, "rose": _rose, "cardioid": _cardioid}


@dataclass(frozen=True)
class CuedDrawing:
    """Draw the closed curve a one-hot cue selects, once per ``period`` steps.

    Parameters
    ----------
    curves: names from :data:`CURVES` (the cue's channels, in order).
    period: steps per traversal of the curve.
    n_periods: traversals per trial.
    amplitude: the curves' scale.
    """

    curves: list[str] = field(default_factory=lambda: list(CURVES))
    period: int = 60
    n_periods: float = 1.0
    amplitude: float = 1.0
    name: ClassVar[str] = "drawing"

    def __post_init__(self) -> None:
        if not isinstance(self.curves, (list, tuple)) or not self.curves:
            raise ValueError(f"curves must be a non-empty list of names from {list(CURVES)}")
        unknown = [c for c in self.curves if c not in CURVES]
        if unknown or len(set(self.curves)) != len(self.curves):
            raise ValueError(
                f"curves must be distinct names from {list(CURVES)}; got {list(self.curves)}"
            )
        object.__setattr__(self, "curves", list(self.curves))
        positive("period", self.period, integer=True)
        positive("n_periods", self.n_periods)
        positive("amplitude", self.amplitude)
        if self.period < 8:
            raise ValueError(f"period must be at least 8 steps to trace a curve; got {self.period}")

    n_in = property(lambda self: len(self.curves))
    n_out = property(lambda self: 2)

    @property
    def n_steps(self) -> int:
        return int(round(self.n_periods * self.period))

    def trials(self, cues: np.ndarray) -> Trials:
        """Trials for curve indices ``(trial,)``."""
        c = np.asarray(cues, dtype=int)
        T = self.n_steps
        th = 2 * np.pi * np.arange(1, T + 1) / self.period
        paths = np.stack([np.stack(CURVES[name](th), axis=1) for name in self.curves])  # (k, T, 2)
        x = np.zeros((len(c), T, len(self.curves)))
        x[np.arange(len(c)), :, c] = 1.0
        names = np.asarray(self.curves)[c]
        return Trials(x, self.amplitude * paths[c], None, {"curve": c, "curve_name": names})

    def sample(self, n_trials: int, rng: np.random.Generator) -> Trials:
        positive("n_trials", n_trials, integer=True)
        return self.trials(rng.integers(0, len(self.curves), n_trials))

    def every_condition(self) -> Trials:
        return self.trials(np.arange(len(self.curves)))


@dataclass(frozen=True)
class CuedSine:
    """A static input level selects a sine wave's frequency (Sussillo & Abbott 2009).

    Parameters
    ----------
    periods: the periods (steps) to choose from; the cue level of period ``P_k`` is
        ``level_min + (level_max - level_min) · k / (K - 1)`` in the order given.
    n_steps_trial: trial length.
    level_min, level_max: the range of input levels.
    """

    periods: list[float] = field(default_factory=lambda: [20.0, 30.0, 40.0, 60.0])
    n_steps_trial: int = 120
    level_min: float = 0.2
    level_max: float = 1.0
    name: ClassVar[str] = "cued_sine"

    def __post_init__(self) -> None:
        p = (
            np.asarray(self.periods, dtype=float)
            if isinstance(self.periods, (list, tuple))
            else None
        )
        if p is None or p.ndim != 1 or p.size == 0 or not np.all(np.isfinite(p)) or np.any(p < 4):
            raise ValueError(
                f"periods must be a non-empty list of numbers >= 4 steps (a period shorter than "
                f"a few dt cannot be drawn); got {self.periods!r}"
            )
        object.__setattr__(self, "periods", [float(v) for v in p])
        positive("n_steps_trial", self.n_steps_trial, integer=True)
        for k in ("level_min", "level_max"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                raise ValueError(f"{k} must be a finite number; got {v!r}")
        if len(self.periods) > 1 and self.level_max <= self.level_min:
            raise ValueError(
                f"level_max ({self.level_max}) must exceed level_min ({self.level_min})"
            )

    n_in = property(lambda self: 1)
    n_out = property(lambda self: 1)

    @property
    def n_steps(self) -> int:
        return self.n_steps_trial

    def levels(self) -> np.ndarray:
        K = len(self.periods)
        return self.level_min + (self.level_max - self.level_min) * np.arange(K) / max(K - 1, 1)

    def trials(self, which: np.ndarray) -> Trials:
        k = np.asarray(which, dtype=int)
        T = self.n_steps
        period = np.asarray(self.periods)[k]
        t = np.arange(1, T + 1)
        x = np.broadcast_to(self.levels()[k][:, None, None], (len(k), T, 1))
        target = np.sin(2 * np.pi * t[None, :] / period[:, None])[:, :, None]
        return Trials(x, target, None, {"period": period, "level": self.levels()[k]})

    def sample(self, n_trials: int, rng: np.random.Generator) -> Trials:
        positive("n_trials", n_trials, integer=True)
        return self.trials(rng.integers(0, len(self.periods), n_trials))

    def every_condition(self) -> Trials:
        return self.trials(np.arange(len(self.periods)))
