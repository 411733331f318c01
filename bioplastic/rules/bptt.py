r"""Backpropagation through time: the exact gradient, in reverse mode.

Rumelhart, Hinton & Williams 1986; Werbos 1990 (Proc. IEEE 78:1550).  For the leaky network this
is seed 000's eqs. for δ_t, and Murray 2019 eLife 8:e43299, Methods, "Backpropagation through
time".  The credit assigned to the state ``s_t`` is

    c_t = q_t + c_{t+1} D_{t+1},      c_{T+1} = 0
        = q_t + (1-α) ⊙ c_{t+1} + slope_t ⊙ W_recᵀ (gain_{t+1} ⊙ c_{t+1})

with ``q_t = slope_t ⊙ B e_t`` (see :mod:`bioplastic.rules.base`), and

    ∂L/∂W_rec = Σ_t (gain_t ⊙ c_t) ρ(s_{t-1})ᵀ,  ∂L/∂W_in = Σ_t (gain_t ⊙ c_t) x_tᵀ,
    ∂L/∂b = Σ_t gain_t ⊙ c_t,                 ∂L/∂W_out = Σ_t e_t ρ(s_t)ᵀ.

With ``B = W_outᵀ`` (the default) this is the gradient; with a random ``B`` it is Murray's
"random feedback without locality" ablation (Fig. 2d).  The factor α sits inside ``gain``;
dropping it (the paper-era bug listed in REFERENCES.md) is caught by the finite-difference
tests at α < 1.  Cost: one (trial × unit) × (unit × unit) matmul per step backward, then one
matrix product per parameter.

The online face buffers the steps it is given and runs this recursion over them when read.

**Teacher forcing** (Williams & Zipser 1989, Neural Computation 1:270, "Teacher-forced
real-time recurrent learning"): after step t the forced units' states are replaced by their
targets, which no parameter moves, so no credit from later steps passes back through them:
``c_t = q_t + (1 - m_t) ⊙ (c_{t+1} D_{t+1})`` with ``m_t`` the forced units (``clamp``).  The
direct credit ``q_t`` stays: the error at t is that of the unit's own output, before forcing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .. import _scratch, kernels
from .._threads import over_ranges, split_ranges
from ..network import LeakyRNN, Trace
from .base import Step, leak, output_readout, recurrent_readout, register
from .online import Sums

__all__ = ["BPTT", "backward", "BufferState"]


def backward(net: LeakyRNN, trace: Trace, error: np.ndarray, feedback: np.ndarray) -> np.ndarray:
    """Run ``c_t = q_t + c_{t+1} D_{t+1}`` back from ``t = T``; return ``gain_t ⊙ c_t``.

    ``error``: the output error ``e_t`` ``(time, trial, output)``; ``feedback``: ``B``
    ``(unit, output)``.  Returns ``(time, trial, unit)`` for t = 1..T.  In the rate form the
    result is written over ``trace.gain`` (each ``gain_t`` is used once, just before its slot is
    overwritten), so no new ``T × trial × unit`` array is allocated; the trace must not be used
    for its gain afterwards.

    Per step: ``G_{t+1} W_rec`` and ``e_t Bᵀ`` (the direct credit) are two matmuls into
    ``(trial, unit)`` buffers, then four in-place vector operations.
    """
    T = error.shape[0]
    F, lk = np.ascontiguousarray(feedback.T), leak(net)
    W_rec = np.asfortranarray(net.params["W_rec"])  # BLAS's faster layout for G @ W_rec
    gain, slope = trace.gain, trace.slope
    G = gain if gain.flags.writeable else _scratch.empty("credit", gain.shape, net.dtype)
    loops = kernels.recurrence_loops()
    if loops is not None and error.dtype == F.dtype == G.dtype:
        lk_n = np.full(gain.shape[2], lk, net.dtype)
        has_slope = slope is not None
        slope_ = slope if has_slope else gain[:1]  # a placeholder the loop never reads
        args = (G, gain, slope_, has_slope, np.ascontiguousarray(error), F, W_rec, lk_n)
        n = G.shape[2]
        over_ranges(loops.credit_loop, args, split_ranges(G.shape[1], 2.0 * G.size * n))
        return G
    c = error[T - 1] @ F
    if slope is not None:
        c *= slope[T]
    np.multiply(c, gain[T - 1], out=G[T - 1])
    back, direct = np.empty_like(c), np.empty_like(c)
    for t in range(T - 2, -1, -1):  # array index t holds time t+1
        np.matmul(G[t + 1], W_rec, out=back)
        back += np.matmul(error[t], F, out=direct)
        if slope is not None:
            back *= slope[t + 1]
        c *= lk
        c += back
        np.multiply(c, gain[t], out=G[t])
    return G


@dataclass
class BufferState:
    """Online state of a future-facing rule: the steps seen so far, and per step the units
    teacher forcing set after it (``None``: none)."""

    steps: list[Step] = field(default_factory=list)
    sums: Sums | None = None
    cut: list[np.ndarray | None] = field(default_factory=list)

    def push(self, st: Step) -> None:
        self.steps.append(st)
        self.cut.append(None)
        self.sums.add_readout(st)

    def clear(self) -> None:
        """Forget the buffered steps (their credit has been summed)."""
        self.steps.clear()
        self.cut.clear()


def backward_steps(
    net: LeakyRNN,
    window: Sequence[Step],
    *,
    newest_only: bool = False,
    cut: Sequence[np.ndarray | None] | None = None,
) -> np.ndarray:
    """``Σ_s (gain_s ⊙ c_s)ᵀ â_s`` over buffered steps, ``c`` run back from the last one.

    ``c_s = q_s + (1 - m_s) ⊙ (c_{s+1} D_{s+1})``, with ``m_s = cut[s]`` the units teacher
    forcing set after step s (boolean ``(trial, unit)``; none if ``cut`` or its entry is
    ``None``); with ``newest_only`` only the last step's ``q`` enters (the credit of that one
    error, as truncated BPTT needs it).  Returns ``(unit, m)``.
    """
    W_rec, lk = net.params["W_rec"], leak(net)
    last = window[-1]
    c = last.credit.copy()
    theta = (last.gain * c).T @ last.pre
    for i in range(len(window) - 2, -1, -1):
        st, nxt = window[i], window[i + 1]
        back = (nxt.gain * c) @ W_rec
        if nxt.slope_prev is not None:
            back *= nxt.slope_prev
        c = lk * c + back
        if cut is not None and cut[i] is not None:
            c[cut[i]] = 0.0
        if not newest_only:
            c += st.credit
        theta += (st.gain * c).T @ st.pre
    return theta


@register
@dataclass(frozen=True)
class BPTT:
    """Exact temporal credit by backpropagation through time (no options)."""

    name: ClassVar[str] = "bptt"
    default_feedback: ClassVar[str] = "symmetric"

    def gradient(
        self,
        net: LeakyRNN,
        trace: Trace,
        error: np.ndarray,
        feedback: np.ndarray,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        G = backward(net, trace, error, feedback)
        return {**recurrent_readout(net, trace, G), **output_readout(net, trace, error)}

    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> BufferState:
        return BufferState([], Sums.zeros(net))

    def step(self, state: BufferState, net: LeakyRNN, st: Step) -> BufferState:
        state.push(st)
        return state

    def read(self, state: BufferState, net: LeakyRNN) -> dict[str, np.ndarray]:
        sums = state.sums
        if state.steps:  # the buffered steps' credit, added to what was already summed
            theta = backward_steps(net, state.steps, cut=state.cut)
            sums = Sums(sums.theta + theta, sums.W_out, sums.b_out)
        return sums.grads(net)

    def clamp(self, state: BufferState, forced: np.ndarray) -> None:
        """Teacher forcing: no credit from later steps passes back through the forced units
        of the newest step (module docstring)."""
        if state.steps:
            state.cut[-1] = forced.copy()
