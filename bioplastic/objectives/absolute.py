r"""Absolute error (Miconi 2017, eLife 6:e20899, Methods, "Description of tasks": a trial's error
is the mean absolute difference between output and target over the response period; give the
mask ``1/n_steps`` on those steps and 0 elsewhere):

.. math::  L = \frac{1}{n_\text{trials}} \sum_\text{trial} \sum_{t,k} m_{tk} |y_{tk} - y^*_{tk}| ,
           \qquad e_{tk} = \frac{m_{tk}\, \mathrm{sign}(y_{tk} - y^*_{tk})}{n_\text{trials}} .

Its gradient is discontinuous at ``y = y*``; it is meant for the reward rules, which use only
the loss.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from . import register

__all__ = ["AbsoluteError"]


@register
class AbsoluteError:
    """``loss="absolute"``: any finite targets."""

    name: ClassVar[str] = "absolute"

    def check_target(self, target: np.ndarray, n_out: int) -> None:
        return None

    def error_and_loss(self, outputs, target, mask, n_trials):
        d = outputs - target
        a = np.abs(d) if mask is None else mask * np.abs(d)
        e = np.sign(d) if mask is None else mask * np.sign(d)
        return e / n_trials, float(a.sum() / n_trials)

    def trial_losses(self, outputs, target, mask):
        a = np.abs(outputs - target)
        if mask is not None:
            a *= mask
        return a.sum(axis=(0, 2))
