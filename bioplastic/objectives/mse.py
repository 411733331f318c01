r"""Squared error (DESIGN.md; Murray 2019, eLife 8:e43299, eq. 3 without the 1/T):

.. math::  L = \frac{1}{n_\text{trials}} \sum_\text{trial} \sum_t \sum_k
               \tfrac12\, m_{tk}\, (y_{tk} - y^*_{tk})^2 ,
           \qquad e_{tk} = \frac{m_{tk} (y_{tk} - y^*_{tk})}{n_\text{trials}} .
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from . import register

__all__ = ["SquaredError"]


@register
class SquaredError:
    """``loss="mse"``: any finite targets."""

    name: ClassVar[str] = "mse"

    def check_target(self, target: np.ndarray, n_out: int) -> None:
        return None

    def error_and_loss(self, outputs, target, mask, n_trials):
        e = outputs - target
        sq = e * e if mask is None else mask * e * e
        if mask is not None:
            e *= mask
        value = float(0.5 * sq.sum() / n_trials)
        e /= n_trials
        return e, value

    def trial_losses(self, outputs, target, mask):
        sq = (outputs - target) ** 2
        if mask is not None:
            sq *= mask
        return 0.5 * sq.sum(axis=(0, 2))
