"""Re-simulate a saved run's trained network in Brian2 (``bioplastic info --brian2-check``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..training import held_out
from .network import simulate_brian2

__all__ = ["Brian2Check", "brian2_check"]


@dataclass(frozen=True)
class Brian2Check:
    """The largest deviation of Brian2 from ``net.run`` on a run's held-out trials."""

    state: float  # max |s_brian2 - s| over trials, steps and units
    output: float  # max |y_brian2 - y|
    scale: float  # max |s|, for a relative reading
    n_trials: int
    n_steps: int
    codegen: str

    def ok(self, tolerance: float = 1e-9) -> bool:
        """Whether the states agree to ``tolerance × max(1, max |s|)``."""
        return self.state <= tolerance * max(1.0, self.scale)

    def __str__(self) -> str:
        return (
            f"Brian2 ({self.codegen}, Euler at the network's dt) against net.run on "
            f"{self.n_trials} held-out trials × {self.n_steps} steps: max |Δstate| = "
            f"{self.state:.2e} (max |state| {self.scale:.3g}), max |Δoutput| = {self.output:.2e}"
        )


def brian2_check(ds: xr.Dataset, *, codegen: str = "numpy") -> Brian2Check:
    """Simulate the network ``ds`` ends with on its held-out trials, in Brian2 and with
    ``net.run``; return the largest deviations (float64 for both)."""
    net, trials, h0 = held_out(ds)
    net = net.astype(np.float64) if net.dtype != np.float64 else net
    states, outputs = net.run(trials.x, h0)
    b_states, b_outputs = simulate_brian2(net, trials.x, h0=h0, codegen=codegen)
    return Brian2Check(
        float(np.abs(b_states - states).max()),
        float(np.abs(b_outputs - outputs).max()),
        float(np.abs(states).max()),
        trials.x.shape[0],
        trials.x.shape[1],
        codegen,
    )
