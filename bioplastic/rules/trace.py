r"""Diagonal influence traces: the machinery RFLO, e-prop and SnAp-1 share.

Each keeps, per synapse ``(i, j)`` of ``Θ = [W_rec | W_in | b]``, only the influence on its own
postsynaptic unit, ``P_t[i, j] ≈ M_t[i, (i, j)]``, and replaces the dynamics ``D_t`` by a
diagonal ``d_t``:

    P_t[i, j] = d_t[i] P_{t-1}[i, j] + gain_t[i] â_t[j]          (the eligibility trace)
    ∂L/∂Θ[i, j] ≈ Σ_t q_t[i] P_t[i, j]                           (trace × learning signal)

* leak only, ``d_t = 1 - α`` (RFLO, e-prop);
* the self-diagonal Jacobian, ``d_t = D_t[i, i] = 1 - α + gain_t[i] W_rec[i, i] slope_{t-1}[i]``
  (SnAp-1).

**Per trial** the weights are fixed, and exchanging the two sums gives the same number without
a trace per synapse:

    Σ_t q_t[i] P_t[i, j] = Σ_s gain_s[i] q̃_s[i] â_s[j],    q̃_s = q_s + d_{s+1} ⊙ q̃_{s+1}

a backward filter of the learning signal (one vector operation per step, or
``scipy.signal.lfilter`` when ``d`` is one scalar) followed by one matrix product.  **Online**
the trace ``P`` ``(trial, unit, m)`` is carried step by step.  Both faces are tested equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.signal import lfilter

from .. import _scratch
from ..network import LeakyRNN, Trace
from .base import Step, direct_credit, leak, output_readout, recurrent_readout
from .online import Stepwise, Sums, theta_width

__all__ = ["DiagonalTrace", "TraceState", "backward_filter"]


def backward_filter(q: np.ndarray, d: float | np.ndarray) -> np.ndarray:
    """``q̃_s = q_s + d_{s+1} ⊙ q̃_{s+1}`` over time (axis 0), **in place** in ``q``.

    ``d`` is a scalar, a per-unit ``(unit,)`` array, or time-varying ``(time, trial, unit)``
    with ``d[s]`` the factor at time s+1 (array index s holds time s+1, as in ``q``).  A scalar
    filter over few units runs in ``scipy.signal.lfilter``; otherwise one vector multiply-add
    per step (faster once a step holds a few hundred numbers).
    """
    T = q.shape[0]
    if np.ndim(d) == 0 and q[0].size < 256:
        q[:] = lfilter([1.0], [1.0, -float(d)], q[::-1], axis=0)[::-1]
        return q
    varying = np.ndim(d) == 3
    carry = np.empty_like(q[0])
    for s in range(T - 2, -1, -1):
        np.multiply(q[s + 1], d[s + 1] if varying else d, out=carry)
        q[s] += carry
    return q


@dataclass
class TraceState:
    """Online state of a diagonal-trace rule."""

    trace: np.ndarray  # (trial, unit, m): P_t[i, j] per trial
    sums: Sums


@dataclass(frozen=True)
class DiagonalTrace(Stepwise):
    """Base class; a subclass defines ``name``, ``default_feedback`` and the two ``d`` hooks."""

    name: ClassVar[str]
    default_feedback: ClassVar[str]

    # --- the diagonal d_t, per trial (all t at once) and per step
    def diagonal_all(self, net: LeakyRNN, trace: Trace) -> float | np.ndarray:
        """``d`` for ``backward_filter``: scalar, ``(unit,)`` or ``(time, trial, unit)``."""
        return leak(net)

    def diagonal_step(self, net: LeakyRNN, st: Step) -> float | np.ndarray:
        """``d_t`` for one step, broadcastable to ``(trial, unit)``."""
        return leak(net)

    # --- per-trial face
    def gradient(
        self,
        net: LeakyRNN,
        trace: Trace,
        error: np.ndarray,
        feedback: np.ndarray,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        e = error
        d = self.diagonal_all(net, trace)
        q = direct_credit(
            net, trace, e, feedback, out=_scratch.empty("credit", trace.gain.shape, net.dtype)
        )
        q = backward_filter(q, d)
        q *= trace.gain
        return {**recurrent_readout(net, trace, q), **output_readout(net, trace, e)}

    # --- online face
    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> TraceState:
        return TraceState(
            np.zeros((n_trials, net.n_rec, theta_width(net)), dtype=net.dtype), Sums.zeros(net)
        )

    def step(self, state: TraceState, net: LeakyRNN, st: Step) -> TraceState:
        P = state.trace
        d = self.diagonal_step(net, st)
        P *= d[..., None] if np.ndim(d) else d
        P += st.gain[:, :, None] * st.pre[:, None, :]
        state.sums.theta += np.einsum("bi,bij->ij", st.credit, P)
        state.sums.add_readout(st)
        return state

    def clamp(self, state: TraceState, forced: np.ndarray) -> None:
        """Teacher forcing: a forced unit's trace restarts from 0."""
        state.trace[forced] = 0.0
