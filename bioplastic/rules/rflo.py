r"""RFLO: random-feedback local online learning (Murray 2019, eLife 8:e43299).

Murray, "Local online learning in recurrent networks with random feedback", Results section
"Random feedback local online (RFLO) learning" and Methods.  Starting from RTRL's influence
recursion (his ∂h_j(t)/∂W_ab, the RTRL equation of the Methods), RFLO drops the term that
carries influence through other units' recurrent weights, keeping only the leak.  With α = dt/τ,
the eligibility traces of the recurrent and input synapses are

    P_ab(t) = (1 - α) P_ab(t-1) + α φ'(u_a(t)) h_b(t-1)
    Q_ab(t) = (1 - α) Q_ab(t-1) + α φ'(u_a(t)) x_b(t)

and the updates are ``ΔW_rec ∝ Σ_t (B ε_t)_a P_ab(t)``, ``ΔW_in ∝ Σ_t (B ε_t)_a Q_ab(t)``,
``ΔW_out ∝ Σ_t ε_t h_tᵀ``, with the output error ``ε_t`` and a fixed random ``B`` in place of
``W_outᵀ``.  Here ``P`` and ``Q`` (and the bias, ``â_j = 1``) are the columns of one trace over
``â_t = [h_{t-1}, x_t, 1]``, ``d_t = 1 - α`` in :mod:`bioplastic.rules.trace`, and the
returned values are gradients (the update is ``-η`` times them).

Murray's code gives ``x`` the time index of the *current* step, as here (``u_t`` uses
``x_t``); one seed derivation writes ``x_{t-1}`` in ``Q``, which is a different network.

Default feedback: ``"random"``.  With ``feedback="symmetric"`` this is Murray's "local
without random feedback" ablation (Fig. 2d).

**Current form.**  The same derivation (keep only the leak of ``∂v_t/∂v_{t-1}``) gives
``P_t = (1-α) P_{t-1} + α â_t`` with ``â = [f(v_{t-1}), x_t, 1]`` and the learning signal
``f'(v_t) ⊙ (B e_t)``: ``f'`` moves out of the filter and onto the learning signal.  This is
the rule e-prop derives, see :mod:`bioplastic.rules.eprop`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import register
from .trace import DiagonalTrace

__all__ = ["RFLO"]


@register
@dataclass(frozen=True)
class RFLO(DiagonalTrace):
    """Leak-only eligibility trace × random feedback (no options)."""

    name: ClassVar[str] = "rflo"
    default_feedback: ClassVar[str] = "random"
