r"""The training objective and the validated data a gradient is computed on.

The objectives themselves (squared error, softmax cross-entropy, …) live one file each in
:mod:`bioplastic.objectives` and are found by name (``loss="mse"``); this module validates a
batch (:func:`prepare`), and gives the loss and the **output error** ``e_t = ∂L/∂y_t``, the
signal every rule starts from, for whichever objective the batch names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from . import kernels
from ._validate import as_float_array, check_finite, check_shape
from .errors import NonFiniteError
from .lstm import LSTM
from .network import LeakyRNN, Trace
from .objectives import OBJECTIVES, get_objective

__all__ = [
    "Batch",
    "NonFiniteError",
    "LOSSES",
    "prepare",
    "loss",
    "output_error",
    "error_and_loss",
    "trial_losses",
]

#: the objectives' names (registered in :mod:`bioplastic.objectives`)
LOSSES: tuple[str, ...] = tuple(OBJECTIVES)


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
    loss: str = "mse"  # an objective's name (bioplastic.objectives)

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
    objective = get_objective(loss)
    if not isinstance(net, (LeakyRNN, LSTM)):
        raise TypeError(f"net must be a bioplastic.LeakyRNN or LSTM; got {type(net).__name__}")
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
        m = kernels.time_major(m)
    objective.check_target(tgt, net.n_out)
    return Batch(
        x=x,
        h0=net.check_h0(h0, B),
        target=kernels.time_major(tgt),
        mask=m,
        loss=loss,
    )


def error_and_loss(
    outputs: np.ndarray, target: np.ndarray, mask: np.ndarray | None, n_trials: int, kind: str
) -> tuple[np.ndarray, float]:
    """The output error ``∂L/∂y`` (same shape as ``outputs``) and the loss, for any leading
    dims ``(..., output)``.  Raises :class:`NonFiniteError` on overflow."""
    with np.errstate(over="ignore", invalid="ignore"):
        e, value = get_objective(kind).error_and_loss(outputs, target, mask, n_trials)
    if not np.isfinite(value):
        raise NonFiniteError(
            f"the loss overflowed to {value} (largest |output| = {np.max(np.abs(outputs)):g}); "
            "rescale the targets or the readout weights"
        )
    return e, value


def trial_losses(
    outputs: np.ndarray, target: np.ndarray, mask: np.ndarray | None, kind: str
) -> np.ndarray:
    """Each trial's own loss ``ℓ_b`` (summed over time and outputs, not averaged), from
    time-major ``(time, trial, output)`` arrays: ``(trial,)``, with ``L = mean_b ℓ_b``."""
    with np.errstate(over="ignore", invalid="ignore"):
        return get_objective(kind).trial_losses(outputs, target, mask)


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
    loss: ``"mse"``, ``"softmax_xent"`` or ``"absolute"``.
    """
    batch = prepare(net, x, target, mask, h0, loss)
    return loss_value(net.forward(batch.x, batch.h0), batch)
