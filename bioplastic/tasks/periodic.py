r"""Periodic output: Murray 2019 (eLife 8:e43299), Fig. 2.

An RNN with no input, or a constant (tonic) input, must produce

    y*(t) = sin(2πt/P) + 0.5 sin(4πt/P) + 0.25 sin(8πt/P)

over one trial, where the period P is given in units of the network's time constant τ
(Murray uses P = 20τ to 160τ, N = 30 units and τ = 10 time steps).  Every trial is the same;
what varies across experiments is P.  With ``input="none"`` the network needs a nonzero
initial state to leave the origin (a tanh network with zero state, input and bias stays at 0).
The paper's Fig. 2 has "no external input"; Murray's notebook (RFLO_Example.ipynb) has an
input channel held at 0 and starts every trial at h = 0.1, which is
``models/murray2019_periodic.toml``.  ``input="tonic"``, a channel held at 1, is ours (and the
default of this class).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._validate import one_of
from .base import Trials, positive

__all__ = ["PeriodicOutput", "periodic_target"]


def periodic_target(t: np.ndarray, period: float) -> np.ndarray:
    """``sin(2πt/P) + 0.5 sin(4πt/P) + 0.25 sin(8πt/P)`` (Murray 2019, Fig. 2)."""
    w = 2 * np.pi * np.asarray(t, dtype=float) / period
    return np.sin(w) + 0.5 * np.sin(2 * w) + 0.25 * np.sin(4 * w)


@dataclass(frozen=True)
class PeriodicOutput:
    """Produce one period of a fixed periodic signal.

    Parameters
    ----------
    period: P in units of ``tau`` (Murray: 20 to 160).
    tau: the network time constant, in time steps of ``dt`` (Murray: 10).
    dt: the time step.
    input: ``"tonic"`` (one input channel held at 1) or ``"none"`` (no input channel).
    n_periods: the trial length, in periods.
    """

    period: float = 20.0
    tau: float = 10.0
    dt: float = 1.0
    input: str = "tonic"
    n_periods: float = 1.0
    name: ClassVar[str] = "periodic"

    def __post_init__(self) -> None:
        for k in ("period", "tau", "dt", "n_periods"):
            positive(k, getattr(self, k))
        one_of("input", self.input, ("tonic", "none"))
        if self.n_steps < 2:
            raise ValueError(
                f"a trial of n_periods · period · tau / dt = {self.n_steps} step(s) is too short; "
                "increase period, tau or n_periods, or decrease dt"
            )

    @property
    def n_in(self) -> int:
        return 1 if self.input == "tonic" else 0

    @property
    def n_out(self) -> int:
        return 1

    @property
    def n_steps(self) -> int:
        return int(round(self.n_periods * self.period * self.tau / self.dt))

    def sample(self, n_trials: int, rng: np.random.Generator | None = None) -> Trials:
        """``n_trials`` identical trials (``rng`` is accepted for the common interface)."""
        positive("n_trials", n_trials, integer=True)
        T = self.n_steps
        t = self.dt * np.arange(1, T + 1)
        y = periodic_target(t, self.period * self.tau)
        target = np.broadcast_to(y[None, :, None], (n_trials, T, 1))
        x = np.ones((n_trials, T, self.n_in))
        return Trials(x, target, None, {"period": np.full(n_trials, self.period)}, self.dt)
