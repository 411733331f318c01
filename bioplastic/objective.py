r"""The training objective and the validated data a gradient is computed on.

Two losses, with the mask ``m = 1`` when none is given:

* ``"mse"`` (DESIGN.md; Murray 2019 eq. 3 without the 1/T):

  .. math::  L = \frac{1}{n_\text{trials}} \sum_\text{trial} \sum_t \sum_k
                 \tfrac12\, m_{tk}\, (y_{tk} - y^*_{tk})^2

* ``"softmax_xent"`` (for the Add task of Marschall et al. 2020): the outputs are logits,
  ``p_t = softmax(y_t)``, the target ``y*_t`` is a probability distribution over the outputs,
  and

  .. math::  L = -\frac{1}{n_\text{trials}} \sum_\text{trial} \sum_t \sum_k
                 m_{tk}\, y^*_{tk} \log p_{tk} .

The derivative with respect to the output is the **output error** ``e_t = ∂L/∂y_t``, the
signal every rule starts from: ``m ⊙ (y_t - y*_t) / n_trials`` for ``"mse"``, and
``((Σ_j m_j y*_j) p_t - m ⊙ y*_t) / n_trials`` for ``"softmax_xent"`` (``p_t - y*_t`` when the
mask is 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._validate import as_float_array, check_finite, check_shape, one_of
from .network import LeakyRNN, Trace

__all__ = ["Batch", "NonFiniteError", "LOSSES", "prepare", "loss", "output_error", "error_and_loss"]

LOSSES: tuple[str, ...] = ("mse", "softmax_xent")


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
    loss: str = "mse"  # one of LOSSES

    @property
    def n_trials(self) -> int:
        return self.x.shape[0]


def prepare(
    net: LeakyRNN,
    x: ArrayLike,
    target: ArrayLike,
    mask: ArrayLike | None = None,
    h0: ArrayLike | None = None,
    loss: str = "mse",
) -> Batch:
    """Validate ``x (trial, time, input)``, ``target`` and ``mask (trial, time, output)``."""
    one_of("loss", loss, LOSSES)
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
    if loss == "softmax_xent":
        check_distribution(tgt, net.n_out)
    return Batch(
        x=x,
        h0=net.check_h0(h0, B),
        target=np.ascontiguousarray(tgt.transpose(1, 0, 2)),
        mask=m,
        loss=loss,
    )


def check_distribution(target: np.ndarray, n_out: int) -> None:
    """For ``softmax_xent``: each target must be a probability distribution over the outputs."""
    if n_out < 2:
        raise ValueError("loss='softmax_xent' needs at least 2 outputs (classes); the net has 1")
    if (
        (target < 0).any()
        or (target > 1).any()
        or not np.allclose(target.sum(axis=-1), 1.0, atol=1e-6)
    ):
        raise ValueError(
            "with loss='softmax_xent' each target (trial, time, :) must be a probability "
            "distribution over the outputs: entries in [0, 1] summing to 1"
        )


def error_and_loss(
    outputs: np.ndarray, target: np.ndarray, mask: np.ndarray | None, n_trials: int, kind: str
) -> tuple[np.ndarray, float]:
    """The output error ``∂L/∂y`` (same shape as ``outputs``) and the loss, for any leading
    dims ``(..., output)``.  Raises :class:`NonFiniteError` on overflow."""
    with np.errstate(over="ignore", invalid="ignore"):
        if kind == "mse":
            e = outputs - target
            sq = e * e if mask is None else mask * e * e
            if mask is not None:
                e *= mask
            value = float(0.5 * sq.sum() / n_trials)
        else:
            z = outputs - outputs.max(axis=-1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
            w = target if mask is None else mask * target
            value = float(-(w * logp).sum() / n_trials)
            e = w.sum(axis=-1, keepdims=True) * np.exp(logp) - w
        e /= n_trials
    if not np.isfinite(value):
        raise NonFiniteError(
            f"the loss overflowed to {value} (largest |output| = {np.max(np.abs(outputs)):g}); "
            "rescale the targets or the readout weights"
        )
    return e, value


def output_error(trace: Trace, batch: Batch) -> np.ndarray:
    """``e_t = ∂L/∂y_t`` (module docstring), time-major ``(time, trial, output)``."""
    return error_and_loss(trace.outputs, batch.target, batch.mask, batch.n_trials, batch.loss)[0]


def loss_value(trace: Trace, batch: Batch) -> float:
    """The loss of an already-simulated batch; raises :class:`NonFiniteError` on overflow."""
    return error_and_loss(trace.outputs, batch.target, batch.mask, batch.n_trials, batch.loss)[1]


def loss(
    net: LeakyRNN,
    x: ArrayLike,
    target: ArrayLike,
    mask: ArrayLike | None = None,
    *,
    h0: ArrayLike | None = None,
    loss: str = "mse",
) -> float:
    """The loss ``L`` (module docstring) of ``net`` on these trials.

    Parameters
    ----------
    x: ``(trial, time, input)``;  target, mask: ``(trial, time, output)``;
    h0: ``(trial, unit)`` or ``(unit,)``, zeros if None;
    loss: ``"mse"`` or ``"softmax_xent"``.
    """
    batch = prepare(net, x, target, mask, h0, loss)
    return loss_value(net.forward(batch.x, batch.h0), batch)
