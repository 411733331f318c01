r"""E-BPTT: block-wise BPTT, every k steps the exact gradient of the last k steps' losses.

Williams & Peng 1990 (Neural Computation 2:490), "BPTT(h; h)"; Marschall, Cho & Savin 2020
(JMLR 21, sec. 4.1.2, "E-BPTT"; their ``Efficient_BPTT``).  Time is cut into blocks of ``k``
steps.  At the end of each block BPTT runs back over it alone, the state that began the block
held fixed:

    c_t = q_t + c_{t+1} D_{t+1}  for t in the block,   c = 0 after the block's last step,

and adds ``Σ_t (gain_t ⊙ c_t)ᵀ â_t`` over the block: exactly the gradient of that block's
losses with respect to the parameters acting within it.  With ``k ≥ T`` it is BPTT.  Reading
before a block ends gives the same for the part of the block seen so far.  In training, an
online update (``update_every``) also ends the block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..network import LeakyRNN, Trace
from .base import Step, output_readout, recurrent_readout, register
from .bptt import BPTT, BufferState, backward, backward_steps
from .tbptt import check_truncation

__all__ = ["EBPTT"]


def block(trace: Trace, a: int, b: int) -> Trace:
    """Steps ``a+1 … b`` of a trace, starting from its state at ``a`` (a writeable gain)."""
    slope = None if trace.slope is None else trace.slope[a : b + 1]
    return Trace(
        trace.inputs[a:b],
        trace.states[a : b + 1],
        trace.rates[a : b + 1],
        trace.outputs[a:b],
        trace.gain[a:b].copy(),
        slope,
    )


@register
@dataclass(frozen=True)
class EBPTT:
    """BPTT within blocks of ``truncation`` steps (an int >= 1)."""

    truncation: int
    name: ClassVar[str] = "ebptt"
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
        T, k = error.shape[0], self.truncation
        G = np.concatenate(
            [
                backward(net, block(trace, a, min(a + k, T)), error[a : a + k], feedback)
                for a in range(0, T, k)
            ]
        )
        return {**recurrent_readout(net, trace, G), **output_readout(net, trace, error)}

    init = BPTT.init  # the steps of the current block, and the sums
    read = BPTT.read  # the sums plus the credit of the block so far
    clamp = BPTT.clamp  # teacher forcing cuts the credit at the forced units

    def step(self, state: BufferState, net: LeakyRNN, st: Step) -> BufferState:
        state.push(st)
        if len(state.steps) == self.truncation:
            state.sums.theta += backward_steps(net, state.steps, cut=state.cut)
            state.clear()
        return state
