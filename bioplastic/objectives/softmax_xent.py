r"""Softmax cross-entropy (for the Add task of Marschall, Cho & Savin 2020, JMLR 21, sec. 5).

The outputs are logits, ``p_t = softmax(y_t)``, and the target ``y*_t`` is a probability
distribution over the outputs:

.. math::  L = -\frac{1}{n_\text{trials}} \sum_\text{trial} \sum_t \sum_k
               m_{tk}\, y^*_{tk} \log p_{tk} ,
           \qquad e_t = \frac{(\sum_j m_j y^*_j)\, p_t - m \odot y^*_t}{n_\text{trials}}

(``p_t - y*_t`` when the mask is 1).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from . import register

__all__ = ["SoftmaxCrossEntropy"]


@register
class SoftmaxCrossEntropy:
    """``loss="softmax_xent"``: at least 2 outputs; each target a distribution over them."""

    name: ClassVar[str] = "softmax_xent"

    def check_target(self, target: np.ndarray, n_out: int) -> None:
        if n_out < 2:
            raise ValueError(
                "loss='softmax_xent' needs at least 2 outputs (classes); the net has 1"
            )
        if (
            (target < 0).any()
            or (target > 1).any()
            or not np.allclose(target.sum(axis=-1), 1.0, atol=1e-6)
        ):
            raise ValueError(
                "with loss='softmax_xent' each target (trial, time, :) must be a probability "
                "distribution over the outputs: entries in [0, 1] summing to 1"
            )

    def error_and_loss(self, outputs, target, mask, n_trials):
        z = outputs - outputs.max(axis=-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        w = target if mask is None else mask * target
        value = float(-(w * logp).sum() / n_trials)
        e = w.sum(axis=-1, keepdims=True) * np.exp(logp) - w
        e /= n_trials
        return e, value

    def trial_losses(self, outputs, target, mask):
        z = outputs - outputs.max(axis=-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        w = target if mask is None else mask * target
        return -(w * logp).sum(axis=(0, 2))
