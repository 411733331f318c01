r"""Truncated backpropagation through time, BPTT(k).

Williams & Peng 1990 (Neural Computation 2:490), the "BPTT(h)" of Williams & Zipser 1995.  Each
error is carried back at most ``k - 1`` steps: the loss at time t assigns credit to the states
``s_{t-k+1} … s_t`` only,

    ∂L/∂θ ≈ Σ_t Σ_{s=max(1, t-k+1)}^{t} (∂L_t/∂s_t) D_t ⋯ D_{s+1} Ī_s .

``k = 1`` keeps only each step's immediate influence; ``k ≥ T`` is exact BPTT.  The output weights
are unaffected (their gradient has no temporal credit).

Per trial it is computed for every t at once, by age: ``E_0 = q`` and
``E_{j+1}[s] = E_j[s+1] D_{s+1}``, so the credit on ``s_t`` is ``Σ_{j<k} E_j[t]``.  That is
``k`` matmuls over (time × trial) rows, not ``T·k`` small ones.  Online, the last ``k`` steps
are kept and each new error is carried back through them (O(k·n²) per step and trial).

This is the sliding-window truncation used to measure a rule's alignment with the gradient.
Marschall et al. 2020's two online variants are their own rules: ``fbptt`` (the same window
credit, each state's emitted once complete, k − 1 steps late) and ``ebptt`` (block-wise: every
k steps the exact gradient of the last k steps' losses).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..network import LeakyRNN, Trace
from .base import Step, direct_credit, leak, output_readout, recurrent_readout, register
from .bptt import backward_steps
from .online import Stepwise, Sums

__all__ = ["TBPTT", "WindowState", "check_truncation", "window_credit"]


def check_truncation(k: object) -> None:
    """A window or block of ``k`` steps: an int >= 1."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"truncation must be an int >= 1; got {k!r}")


def window_credit(net: LeakyRNN, trace: Trace, q: np.ndarray, k: int) -> np.ndarray:
    """The credit on each state from the errors of its own and the next ``k - 1`` steps.

    ``q``: the direct credit ``(time, trial, unit)``; returns ``Σ_{j<k} E_j`` (same shape), by
    age: ``E_0 = q``, ``E_{j+1}[s] = E_j[s+1] D_{s+1}``.
    """
    T, B, n = q.shape
    W_rec, lk = net.params["W_rec"], leak(net)
    gain, slope = trace.gain, trace.slope
    credit = q.copy()
    E = q  # E_j[s] for s = 1 .. T-j (array index s-1)
    for j in range(1, min(k, T)):
        nxt = E[1:]  # E_{j-1}[s+1]
        E = (nxt * gain[1 : T - j + 1]).reshape(-1, n) @ W_rec
        E = E.reshape(T - j, B, n)
        if slope is not None:
            E *= slope[1 : T - j + 1]
        E += lk * nxt
        credit[: T - j] += E
    return credit


@dataclass
class WindowState:
    window: deque  # the last k steps
    sums: Sums
    cut: deque  # per step in the window: the units teacher forcing set after it, or None


@register
@dataclass(frozen=True)
class TBPTT(Stepwise):
    """BPTT truncated to a window of ``truncation`` steps (an int >= 1)."""

    truncation: int
    name: ClassVar[str] = "tbptt"
    default_feedback: ClassVar[str] = "symmetric"

    def __post_init__(self) -> None:
        check_truncation(self.truncation)

    def gradient(
        self,
        net: LeakyRNN,
        trace: Trace,
        error: np.ndarray,
        feedback: np.ndarray,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        credit = window_credit(
            net, trace, direct_credit(net, trace, error, feedback), self.truncation
        )
        credit *= trace.gain
        return {**recurrent_readout(net, trace, credit), **output_readout(net, trace, error)}

    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> WindowState:
        k = self.truncation
        return WindowState(deque(maxlen=k), Sums.zeros(net), deque(maxlen=k))

    def step(self, state: WindowState, net: LeakyRNN, st: Step) -> WindowState:
        state.window.append(st)
        state.cut.append(None)
        # only the newest error travels back: earlier errors were carried back when they came
        state.sums.theta += backward_steps(
            net, list(state.window), newest_only=True, cut=list(state.cut)
        )
        state.sums.add_readout(st)
        return state

    def clamp(self, state: WindowState, forced: np.ndarray) -> None:
        """Teacher forcing: no credit passes back through the newest step's forced units
        (:mod:`bioplastic.rules.bptt`)."""
        state.cut[-1] = forced.copy()
