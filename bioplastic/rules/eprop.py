r"""e-prop: eligibility traces × learning signals (Bellec et al. 2020, Nat. Commun. 11:3625).

Bellec et al. factorise the gradient as ``dE/dW_ji = Σ_t L_j^t e_ji^t`` (their eq. 1) with the
learning signal ``L_j^t = Σ_k B_jk (y_k^t - y*_k^t)`` (eq. 4, random or symmetric ``B``) and
the eligibility trace ``e_ji^t = (∂z_j^t/∂h_j^t) ε_ji^t`` (eq. 13), where the eligibility
vector follows the neuron's *own* state dynamics only, ``ε^t = (∂h^t/∂h^{t-1}) ε^{t-1} +
∂h^t/∂W`` (eq. 14): dependencies through other neurons are dropped.

For a leaky unit the own-state Jacobian is the leak ``1 - α`` in both model forms (the
recurrent weights, even the self-connection, are "other" paths), so ``d_t = 1 - α`` as in RFLO:

* **rate form** (``z = h``, ``∂z/∂h = 1``):
  ``ε_t = (1-α) ε_{t-1} + α f'(u_t) â_t`` and ``L_t = B e_t``.  This is RFLO exactly; with the
  same ``B`` the two give identical numbers (tested).
* **current form** (``z = r = f(v)``): ``∂v_t/∂W_ij = α â_t[j]`` has no ``f'``, so
  ``ε_t = (1-α) ε_{t-1} + α â_t`` with ``â = [f(v_{t-1}), x_t, 1]``, and the factor
  ``∂z_j/∂h_j = f'(v_t)`` multiplies the *filtered* trace at readout:
  ``e_t = f'(v_t) ε_t``.  So ``f'`` sits outside the filter, on the learning signal
  ``f'(v_t) ⊙ (B e_t)`` — the analogue of the LIF neuron's pseudo-derivative ``ψ_j^t``.

Default feedback: ``"symmetric"`` (Bellec's "symmetric e-prop"); ``"random"`` and
``"adaptive"`` give their random and adaptive variants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import register
from .trace import DiagonalTrace

__all__ = ["EProp"]


@register
@dataclass(frozen=True)
class EProp(DiagonalTrace):
    """Own-state eligibility trace × learning signal (no options)."""

    name: ClassVar[str] = "eprop"
    default_feedback: ClassVar[str] = "symmetric"
