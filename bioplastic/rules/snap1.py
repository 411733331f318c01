r"""SnAp-1: the sparse n-step approximation to RTRL with n = 1 (Menick et al. 2021, ICLR).

Menick, Elsen, Evci, Osindero, Simonyan & Graves, "Practical real time recurrent learning with
a sparse approximation".  SnAp-n keeps the entries of the influence ``J_t = I_t + D_t J_{t-1}``
(their eq. 2) that become nonzero within n steps of a parameter's use, and drops the rest
(eq. 3, ``J_t ≈ (I_t + D_t J_{t-1}) ⊙ mask``).  For n = 1 the mask keeps, for a synapse
``(i, j)``, only its own postsynaptic unit i, so ``D_t`` acts through its diagonal:

    P_t[i, j] = D_t[i, i] P_{t-1}[i, j] + gain_t[i] â_t[j],
    D_t[i, i] = 1 - α + gain_t[i] W_rec[i, i] slope_{t-1}[i].

Unlike RFLO/e-prop this keeps the self-connection ``W_ii``; with a diagonal ``W_rec`` the
kept entries are all there is and SnAp-1 equals RTRL (tested).  This is also Javed et al.
2023's "diagonal" approximation.  Cost O(n·m) per step per trial, like RFLO.

Feedback is symmetric by default (it is an approximation of the gradient's temporal credit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import _scratch
from ..network import LeakyRNN, Trace
from .base import Step, leak, register
from .trace import DiagonalTrace

__all__ = ["SnAp1"]


@register
@dataclass(frozen=True)
class SnAp1(DiagonalTrace):
    """Self-diagonal influence trace (no options)."""

    name: ClassVar[str] = "snap1"
    default_feedback: ClassVar[str] = "symmetric"

    def diagonal_all(self, net: LeakyRNN, trace: Trace) -> np.ndarray:
        d = np.multiply(
            trace.gain,
            np.diagonal(net.params["W_rec"]),
            out=_scratch.empty("diagonal", trace.gain.shape, net.dtype),
        )
        if trace.slope is not None:
            d *= trace.slope[:-1]
        d += leak(net)
        return d

    def diagonal_step(self, net: LeakyRNN, st: Step) -> np.ndarray:
        d = st.gain * np.diagonal(net.params["W_rec"])
        if st.slope_prev is not None:
            d *= st.slope_prev
        d += leak(net)
        return d
