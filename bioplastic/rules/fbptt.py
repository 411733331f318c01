r"""F-BPTT: future-facing truncated BPTT, each state's credit emitted once complete.

Marschall, Cho & Savin 2020 (JMLR 21, sec. 4.1.2, "F-BPTT"; their ``Future_BPTT``).  The
credit of state ``s_s`` is gathered from the errors of the next ``k`` steps,

    c_s = Σ_{t=s}^{s+k-1} q_t D_t ⋯ D_{s+1},

and at step ``t`` the rule emits the now complete ``(gain_s ⊙ c_s)ᵀ â_s`` of ``s = t - k + 1``.
Each state's credit is the window credit of truncated BPTT (``tbptt``); the difference is when
it is applied: ``tbptt`` adds each new error's contribution at once (partial credits of the
last k − 1 states), F-BPTT waits k − 1 steps and applies complete ones.  So within one trial
of T steps F-BPTT has emitted the states ``1 … T - k + 1`` only; on a continuing stream the
rest are emitted in the next chunk.  ``k = 1`` is ``tbptt`` with ``k = 1``.

Online: the last ``k`` steps and their growing credits; each new error is carried back
through them (O(k·n²) per step and trial).
"""

from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..network import LeakyRNN, Trace
from .base import Step, direct_credit, leak, output_readout, recurrent_readout, register
from .online import Stepwise, Sums
from .tbptt import check_truncation, window_credit

__all__ = ["FBPTT", "FutureState"]


@dataclass
class FutureState:
    window: deque  # the last k steps, oldest first
    credit: np.ndarray  # (k, trial, unit): credit gathered so far by window[i]
    sums: Sums
    cut: deque  # per step in the window: the units teacher forcing set after it, or None


@register
@dataclass(frozen=True)
class FBPTT(Stepwise):
    """Future-facing BPTT with a window of ``truncation`` steps (an int >= 1)."""

    truncation: int
    name: ClassVar[str] = "fbptt"
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
        k = self.truncation
        if error.shape[0] < k:
            warnings.warn(
                f"fbptt emits a state's credit {k - 1} steps after it, so a trial of "
                f"{error.shape[0]} steps < truncation={k} emits none (W_rec, W_in, b get 0): "
                "use a shorter truncation, or tbptt",
                stacklevel=2,
            )
        credit = window_credit(net, trace, direct_credit(net, trace, error, feedback), k)
        credit[max(credit.shape[0] - k + 1, 0) :] = 0.0  # still pending at the trial's end
        credit *= trace.gain
        return {**recurrent_readout(net, trace, credit), **output_readout(net, trace, error)}

    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> FutureState:
        credit = np.zeros((self.truncation, n_trials, net.n_rec), dtype=net.dtype)
        return FutureState(deque(), credit, Sums.zeros(net), deque())

    def step(self, state: FutureState, net: LeakyRNN, st: Step) -> FutureState:
        w, c = state.window, state.credit
        W_rec, lk = net.params["W_rec"], leak(net)
        j = len(w)
        w.append(st)
        state.cut.append(None)
        c[j] = st.credit
        q = st.credit
        for i in range(j - 1, -1, -1):  # carry the new error back through the window
            nxt = w[i + 1]
            back = (nxt.gain * q) @ W_rec
            if nxt.slope_prev is not None:
                back *= nxt.slope_prev
            q = lk * q + back
            if state.cut[i] is not None:  # teacher forcing: no credit through forced units
                q[state.cut[i]] = 0.0
            c[i] += q
        if len(w) == self.truncation:  # the oldest state's credit is complete
            old = w.popleft()
            state.cut.popleft()
            state.sums.theta += (old.gain * c[0]).T @ old.pre
            c[:-1] = c[1:]
            c[-1] = 0.0
        state.sums.add_readout(st)
        return state

    def clamp(self, state: FutureState, forced: np.ndarray) -> None:
        """Teacher forcing: no credit passes back through the newest step's forced units
        (:mod:`bioplastic.rules.bptt`)."""
        if state.window:
            state.cut[-1] = forced.copy()
