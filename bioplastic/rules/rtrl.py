r"""Real-time recurrent learning: the exact gradient, in forward mode.

Williams & Zipser 1989 (Neural Computation 1:270, eqs. 8-12, the sensitivities ``p^k_ij``);
Marschall et al. 2020 (JMLR 21, eqs. 3-5) for the leaky network.  The influence
``M_t = ∂s_t/∂Θ`` of the state on ``Θ = [W_rec | W_in | b]`` is carried forward,

    M_t = D_t M_{t-1} + Ī_t,     D_t = diag(1-α) + diag(gain_t) W_rec diag(slope_{t-1}),
    Ī_t[i, (k, j)] = δ_ik gain_t[i] â_t[j],

and the gradient is read out as it goes, ``∂L/∂Θ = Σ_t q_t M_t`` (notation of
:mod:`bioplastic.rules.base`).  ``W_out`` and ``b_out`` get their exact gradient directly.

Layout: ``influence[b, i, k, j] = ∂s_i/∂Θ_kj`` for trial b, ``(trial, unit, unit, m)`` with
``m = n_rec + n_in + 1`` (fewer when some of ``W_rec, W_in, b`` are frozen: frozen blocks are
not tracked).  Each step is **one batched matmul** ``D_t @ M_{t-1}`` of ``(trial, n, n)`` by
``(trial, n, n·m)``, with the leak folded into ``D_t``; the immediate term touches only the
diagonal blocks ``k = i``.  Cost O(trial · n⁴) time and O(trial · n³) memory per step.

On a structured network (masks that keep parameters from reaching every unit: columnar,
constructive, sparse; Javed et al. 2023) the influence is carried only where it can be nonzero
(:mod:`bioplastic.rules.influence`), as groups stacked by shape in one flat array per trial,
and time and memory scale with that pattern: O(parameters) per step on a columnar network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._threads import blas_threads_for_call
from ..network import LeakyRNN
from .base import Step, leak, register
from .influence import Blocks, influence_blocks
from .online import Stepwise, Sums, theta_width

__all__ = ["RTRL", "RTRLState", "initial_state", "step_blocks"]


@dataclass
class RTRLState:
    """RTRL's running state.  Arrays are updated in place by :meth:`RTRL.step`."""

    influence: np.ndarray  # (trial, unit, unit·m): M_t, viewed 4-D by `influence4`
    spare: np.ndarray  # same shape: the next M is written here, then the two swap
    sums: Sums
    blocks: tuple[Blocks, ...] | None = None  # structured: influence is (trial, Σ sizes)

    def parts(self, M: np.ndarray) -> list[np.ndarray]:
        """A structured influence's groups, each viewed ``(trial, G, r, u, J)``."""
        out, start = [], 0
        for bl in self.blocks:
            (G, r), u, J = bl.reach.shape, bl.units.shape[1], bl.cols.shape[1]
            out.append(M[:, start : start + bl.size].reshape(M.shape[0], G, r, u, J))
            start += bl.size
        return out

    @property
    def influence4(self) -> np.ndarray:
        """The influence as ``(trial, unit i, unit k, m)``: ``∂s_i/∂Θ_kj``."""
        B, n, _ = self.influence.shape
        return self.influence.reshape(B, n, n, -1)


def _diagonal_blocks(M: np.ndarray) -> np.ndarray:
    """A writable ``(trial, unit, m)`` view of ``M[b, i, (i, j)]``, the blocks Ī_t touches."""
    B, n, nm = M.shape
    s0, s1, s2 = M.strides
    m = nm // n
    return np.lib.stride_tricks.as_strided(M, (B, n, m), (s0, s1 + m * s2, s2), writeable=True)


@register
@dataclass(frozen=True)
class RTRL(Stepwise):
    """Exact temporal credit by real-time recurrent learning (no options)."""

    name: ClassVar[str] = "rtrl"
    default_feedback: ClassVar[str] = "symmetric"

    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> RTRLState:
        """Zero influence and zero gradient, for ``n_trials`` trials run side by side."""
        return initial_state(net, n_trials, influence_blocks(net))

    def step(self, state: RTRLState, net: LeakyRNN, st: Step) -> RTRLState:
        """Advance ``M_{t-1} → M_t`` and add ``q_t M_t`` (and the readout terms) to the sums."""
        state.sums.add_readout(st)
        if state.blocks is not None:
            return step_blocks(state, net, st)
        B, n, nm = state.influence.shape
        if nm == 0:
            return state
        D = net.params["W_rec"] * st.gain[:, :, None]  # (trial, i, k)
        if st.slope_prev is not None:
            D *= st.slope_prev[:, None, :]
        diag = np.arange(n)
        D[:, diag, diag] += leak(net)
        with blas_threads_for_call(2.0 * B * n * n * nm):  # more threads where it pays
            M = np.matmul(D, state.influence, out=state.spare)
        _diagonal_blocks(M)[...] += st.gain[:, :, None] * st.pre[:, None, :]
        state.sums.theta += (st.credit.reshape(1, B * n) @ M.reshape(B * n, nm)).reshape(n, -1)
        state.influence, state.spare = M, state.influence
        return state

    def clamp(self, state: RTRLState, forced: np.ndarray) -> None:
        """Teacher forcing: a forced unit's state no longer depends on the parameters."""
        if state.blocks is None:
            state.influence[forced] = 0.0
            return
        for bl, M in zip(state.blocks, state.parts(state.influence), strict=True):
            M[forced[:, bl.reach]] = 0.0


def initial_state(net: LeakyRNN, n_trials: int, blocks: tuple[Blocks, ...] | None) -> RTRLState:
    """Zero influence, dense ``(trial, unit, unit·m)`` or on ``blocks`` ``(trial, Σ sizes)``."""
    n = net.n_rec
    if blocks is None:
        shape = (n_trials, n, n * theta_width(net))
    else:
        shape = (n_trials, sum(bl.size for bl in blocks))
    return RTRLState(
        np.zeros(shape, dtype=net.dtype), np.empty(shape, dtype=net.dtype), Sums.zeros(net), blocks
    )


def step_blocks(state: RTRLState, net: LeakyRNN, st: Step) -> RTRLState:
    """The step on a structured influence, group shape by group shape (module docstring)."""
    W_rec, lk = net.params["W_rec"], leak(net)
    theta = state.sums.theta
    for bl, M, out in zip(
        state.blocks, state.parts(state.influence), state.parts(state.spare), strict=True
    ):
        R, U, J = bl.reach, bl.units, bl.cols
        B, G, r, u, m = M.shape
        D = W_rec[R[:, :, None], R[:, None, :]] * st.gain[:, R, None]  # (trial, G, r, r)
        if st.slope_prev is not None:
            D *= st.slope_prev[:, R][:, :, None, :]
        diag = np.arange(r)
        D[:, :, diag, diag] += lk if np.ndim(lk) == 0 else lk[R]
        np.matmul(D, M.reshape(B, G, r, u * m), out=out.reshape(B, G, r, u * m))
        g = np.arange(G)[:, None]
        out[:, g, bl.local, np.arange(u), :] += st.gain[:, U, None] * st.pre[:, J][:, :, None, :]
        theta[U[:, :, None], J[:, None, :]] += np.einsum("bgr,bgruj->guj", st.credit[:, R], out)
    state.influence, state.spare = state.spare, state.influence
    return state
