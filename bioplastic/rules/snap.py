r"""SnAp-n: RTRL's influence kept where a parameter reaches a unit within n steps (Menick et
al. 2021, ICLR).

Menick, Elsen, Evci, Osindero, Simonyan & Graves, "Practical real time recurrent learning with
a sparse approximation", eq. 3: ``J_t ≈ (I_t + D_t J_{t-1}) ⊙ mask_n``, where ``mask_n`` keeps,
for a parameter of unit k (row k of ``W_rec``, ``W_in``, ``b``), the units that k reaches in
at most n − 1 steps along ``W_rec``'s connections (the immediate term ``I_t`` alone reaches k
itself: n = 1).  That is the structured influence of exact RTRL
(:mod:`bioplastic.rules.influence`) with the reach cut at n − 1 steps, and it runs on the
same code (Javed et al. 2023, seed 003, section 2: "SnAp-k … first identifies parameters
whose influence on a state is zero for k steps and then assumes the future influence to be
zero as well").

* n = 1 is SnAp-1, the self-diagonal trace of :mod:`bioplastic.rules.snap1` (tested equal);
* n − 1 ≥ the longest shortest path in ``W_rec``'s mask (its diameter) is RTRL (tested
  equal): on a dense network that is n = 2, on a chain of 7 units n = 7;
* cost per step and trial: ``Σ_g |R_g|² · |U_g| · |J_g|`` over groups of units with one
  reach set (``R_g``: the reached units, ``U_g``: the group's units, ``J_g``: the columns of
  their rows) — O(n⁴) on a dense network for n ≥ 2, like RTRL, so SnAp-n pays off on sparse
  ``W_rec`` masks, as Menick et al. use it.

Feedback is symmetric by default (it is an approximation of the gradient's temporal credit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..network import LeakyRNN
from .base import Step, register
from .influence import influence_blocks
from .online import Stepwise
from .rtrl import RTRL, RTRLState, initial_state, step_blocks

__all__ = ["SnAp"]


@register
@dataclass(frozen=True)
class SnAp(Stepwise):
    """SnAp-n, with ``n`` (an int >= 1) the number of steps a parameter's influence may
    travel before it is dropped."""

    n: int
    name: ClassVar[str] = "snap"
    default_feedback: ClassVar[str] = "symmetric"

    def __post_init__(self) -> None:
        if not isinstance(self.n, (int, np.integer)) or isinstance(self.n, bool) or self.n < 1:
            raise ValueError(f"n must be an int >= 1 (SnAp-1, SnAp-2, …); got {self.n!r}")

    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> RTRLState:
        """Zero influence on SnAp-n's pattern, for ``n_trials`` trials run side by side."""
        return initial_state(net, n_trials, influence_blocks(net, hops=int(self.n) - 1))

    def step(self, state: RTRLState, net: LeakyRNN, st: Step) -> RTRLState:
        """``J_t = (I_t + D_t J_{t-1}) ⊙ mask_n``, and ``q_t J_t`` added to the sums."""
        state.sums.add_readout(st)
        return step_blocks(state, net, st)

    clamp = RTRL.clamp
