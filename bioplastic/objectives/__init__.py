"""Objectives: what the network's outputs are scored by, and the output error every rule starts
from.  One file per objective, found by name in :data:`OBJECTIVES`.

An objective turns outputs ``y``, targets ``y*`` and a mask ``m`` (any leading dims, then
``output``) into the loss and the **output error** ``e = ∂L/∂y``; the loss is summed over time
and outputs and averaged over trials.  A new objective (a TD error, say) is one file with a
class like :class:`~bioplastic.objectives.mse.SquaredError` and one ``@register`` line; the
training loop and every rule take it by name (``loss="..."``).

| name | class (module) | after |
|---|---|---|
| ``mse`` | ``SquaredError`` (:mod:`.mse`) | DESIGN.md; Murray 2019 eq. 3 |
| ``softmax_xent`` | ``SoftmaxCrossEntropy`` (:mod:`.softmax_xent`) | Marschall et al. 2020 (Add) |
| ``absolute`` | ``AbsoluteError`` (:mod:`.absolute`) | Miconi 2017 (the trial error) |
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np

__all__ = ["Objective", "OBJECTIVES", "register", "get_objective"]


class Objective(Protocol):
    """What an objective gives: a check of its targets, and the output error with the loss."""

    name: ClassVar[str]

    def check_target(self, target: np.ndarray, n_out: int) -> None:
        """Raise a ``ValueError`` naming the fix if ``target (…, output)`` is not valid."""

    def error_and_loss(
        self, outputs: np.ndarray, target: np.ndarray, mask: np.ndarray | None, n_trials: int
    ) -> tuple[np.ndarray, float]:
        """``(∂L/∂y, L)`` for outputs, targets and mask of any leading dims ``(…, output)``;
        the loss may overflow to inf (the caller raises)."""

    def trial_losses(
        self, outputs: np.ndarray, target: np.ndarray, mask: np.ndarray | None
    ) -> np.ndarray:
        """Each trial's loss ``ℓ_b`` (``L = mean_b ℓ_b``) from time-major
        ``(time, trial, output)`` arrays: ``(trial,)`` (the reward rules' scalar)."""


OBJECTIVES: dict[str, Objective] = {}


def register(cls: type) -> type:
    """Class decorator: add an objective to :data:`OBJECTIVES` under its ``name``."""
    OBJECTIVES[cls.name] = cls()
    return cls


def get_objective(name: str) -> Objective:
    """The objective called ``name``; the error lists the known ones."""
    if not isinstance(name, str) or name not in OBJECTIVES:
        raise ValueError(f"loss must be one of {list(OBJECTIVES)}; got {name!r}")
    return OBJECTIVES[name]


from . import absolute, mse, softmax_xent  # noqa: E402, F401  (registration)
