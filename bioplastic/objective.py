r"""The training objective and the validated data a gradient is computed on.

The loss (DESIGN.md; Murray 2019 eq. 3 without the 1/T) is

.. math::  L = \frac{1}{n_\text{trials}} \sum_\text{trial} \sum_t \sum_k
               \tfrac12\, m_{tk}\, (y_{tk} - y^*_{tk})^2

with the mask ``m = 1`` when none is given.  Its derivative with respect to the output is the
**output error** ``e_t = m ⊙ (y_t - y*_t) / n_trials``, the signal every rule starts from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._validate import as_float_array, check_finite, check_shape
from .network import LeakyRNN, Trace

__all__ = ["Batch", "NonFiniteError", "prepare", "loss", "output_error"]


class NonFiniteError(FloatingPointError):
    """A simulation, loss or gradient overflowed to inf or NaN although every input was finite.

    Raised instead of returning non-finite numbers; training loops catch it to stop a diverging
    run (typically the weights or the learning rate are too large).
    """


@dataclass(frozen=True)
class Batch:
    """Validated trials for one network.

    ``x`` is trial-major as given; ``target`` and ``mask`` are stored **time-major**
    ``(time, trial, output)`` to match :class:`~bioplastic.network.Trace`.
    """

    x: np.ndarray  # (trial, time, input)
    h0: np.ndarray  # (trial, unit)
    target: np.ndarray  # (time, trial, output)
    mask: np.ndarray | None  # (time, trial, output), or None for all ones

    @property
    def n_trials(self) -> int:
        return self.x.shape[0]


def prepare(
    net: LeakyRNN,
    x: ArrayLike,
    target: ArrayLike,
    mask: ArrayLike | None = None,
    h0: ArrayLike | None = None,
) -> Batch:
    """Validate ``x (trial, time, input)``, ``target`` and ``mask (trial, time, output)``."""
    if not isinstance(net, LeakyRNN):
        raise TypeError(f"net must be a bioplastic.LeakyRNN; got {type(net).__name__}")
    x = net.check_inputs(x)
    B, T, _ = x.shape
    dims = [("trial", B), ("time", T), ("output", net.n_out)]
    tgt = as_float_array("target", target, net.dtype)
    check_shape("target", tgt, dims)
    check_finite("target", tgt)
    m = None
    if mask is not None:
        m = as_float_array("mask", mask, net.dtype, allow_bool=True)
        check_shape("mask", m, dims)
        check_finite("mask", m)
        if (m < 0).any():
            raise ValueError(f"mask must be >= 0 (weights of each output sample); min is {m.min()}")
        m = np.ascontiguousarray(m.transpose(1, 0, 2))
    return Batch(
        x=x,
        h0=net.check_h0(h0, B),
        target=np.ascontiguousarray(tgt.transpose(1, 0, 2)),
        mask=m,
    )


def output_error(trace: Trace, batch: Batch) -> np.ndarray:
    """``e_t = ∂L/∂y_t = m ⊙ (y_t - y*_t) / n_trials``, time-major ``(time, trial, output)``."""
    e = trace.outputs - batch.target
    if batch.mask is not None:
        e *= batch.mask
    e /= batch.n_trials
    return e


def loss_value(trace: Trace, batch: Batch) -> float:
    """The loss of an already-simulated batch; raises :class:`NonFiniteError` on overflow."""
    with np.errstate(over="ignore", invalid="ignore"):
        r = trace.outputs - batch.target
        sq = r * r if batch.mask is None else batch.mask * r * r
        value = float(0.5 * sq.sum() / batch.n_trials)
    if not np.isfinite(value):
        raise NonFiniteError(
            f"the loss overflowed to {value} (largest |output - target| = "
            f"{np.max(np.abs(r)):g}); rescale the targets or the readout weights"
        )
    return value


def loss(
    net: LeakyRNN,
    x: ArrayLike,
    target: ArrayLike,
    mask: ArrayLike | None = None,
    *,
    h0: ArrayLike | None = None,
) -> float:
    """The masked squared-error loss ``L`` (module docstring) of ``net`` on these trials.

    Parameters
    ----------
    x: ``(trial, time, input)``;  target, mask: ``(trial, time, output)``;
    h0: ``(trial, unit)`` or ``(unit,)``, zeros if None.
    """
    batch = prepare(net, x, target, mask, h0)
    return loss_value(net.forward(batch.x, batch.h0), batch)
