"""Optimisers with explicit state, in the style of optax: ``init(params)`` → state,
``update(grads, state)`` → (updates, state); the caller adds the updates to the parameters.

* :class:`SGD`: ``Δθ = -η_θ g``, with one learning rate per parameter if wanted (Murray 2019
  uses separate η for W_in, W_rec and W_out).
* :class:`Adam`: Kingma & Ba 2015, Algorithm 1 (bias-corrected first and second moments).

Both take ``clip_norm``: before the step, the gradient of all plastic parameters together is
rescaled to norm at most ``clip_norm`` (Pascanu et al. 2013).  SGD also takes ``clip_value``:
after the step, each weight's change is clipped to ``[-clip_value, clip_value]`` (Miconi 2017,
Methods, "Learning rule").  Parameters missing from ``grads`` are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .network import PARAM_NAMES

__all__ = ["SGD", "Adam", "AdamState", "clip_by_global_norm", "OPTIMIZERS"]


def clip_by_global_norm(
    grads: Mapping[str, np.ndarray], clip_norm: float | None = None
) -> tuple[dict[str, np.ndarray], float]:
    """Rescale ``grads`` so that their joint norm is at most ``clip_norm``.

    Returns the (possibly) rescaled gradients and the norm before clipping.
    """
    norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))
    if clip_norm is None or norm <= clip_norm:
        return dict(grads), norm
    scale = clip_norm / norm
    return {k: g * scale for k, g in grads.items()}, norm


def _check_lr(lr: float | Mapping[str, float]) -> dict[str, float]:
    if isinstance(lr, Mapping):
        unknown = set(lr) - set(PARAM_NAMES)
        if unknown:
            raise ValueError(
                f"lr has unknown parameter name(s) {sorted(unknown)}; accepted: {list(PARAM_NAMES)}"
            )
        rates = {k: lr.get(k, 0.0) for k in PARAM_NAMES}
    else:
        rates = {k: lr for k in PARAM_NAMES}
    for k, v in rates.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
            raise ValueError(f"lr for {k} must be a finite number >= 0; got {v!r}")
    return {k: float(v) for k, v in rates.items()}


def _check_clip(clip: float | None, name: str = "clip_norm") -> None:
    if clip is not None and (
        isinstance(clip, bool)
        or not isinstance(clip, (int, float))
        or not np.isfinite(clip)
        or clip <= 0
    ):
        raise ValueError(f"{name} must be None or a finite number > 0; got {clip!r}")


@dataclass(frozen=True)
class SGD:
    """Stochastic gradient descent.

    ``lr`` is one learning rate, or ``{param: lr}`` (parameters not named get 0).
    """

    lr: float | Mapping[str, float] = 0.01
    clip_norm: float | None = None
    clip_value: float | None = None
    name = "sgd"

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _check_lr(self.lr))
        _check_clip(self.clip_norm)
        _check_clip(self.clip_value, "clip_value")

    def init(self, params: Mapping[str, np.ndarray]) -> dict:
        return {}

    def update(
        self, grads: Mapping[str, np.ndarray], state: dict
    ) -> tuple[dict[str, np.ndarray], dict]:
        if self.clip_norm is not None:
            grads, _ = clip_by_global_norm(grads, self.clip_norm)
        updates = {k: -self.lr[k] * g for k, g in grads.items()}
        if self.clip_value is not None:  # each weight's change, as Miconi 2017 (Methods)
            c = self.clip_value
            updates = {k: np.clip(u, -c, c) for k, u in updates.items()}
        return updates, state


@dataclass
class AdamState:
    """Adam's moments and step count."""

    step: int
    m: dict[str, np.ndarray] = field(default_factory=dict)
    v: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Adam:
    """Adam (Kingma & Ba 2015).  ``lr`` is one learning rate or ``{param: lr}``."""

    lr: float | Mapping[str, float] = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    clip_norm: float | None = None
    name = "adam"

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _check_lr(self.lr))
        _check_clip(self.clip_norm)
        for k in ("beta1", "beta2"):
            v = getattr(self, k)
            if not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise ValueError(f"{k} must lie in [0, 1); got {v!r}")
        if not isinstance(self.eps, (int, float)) or not self.eps > 0:
            raise ValueError(f"eps must be a number > 0; got {self.eps!r}")

    def init(self, params: Mapping[str, np.ndarray]) -> AdamState:
        return AdamState(
            0,
            {k: np.zeros_like(v) for k, v in params.items()},
            {k: np.zeros_like(v) for k, v in params.items()},
        )

    def update(
        self, grads: Mapping[str, np.ndarray], state: AdamState
    ) -> tuple[dict[str, np.ndarray], AdamState]:
        if self.clip_norm is not None:
            grads, _ = clip_by_global_norm(grads, self.clip_norm)
        t = state.step + 1
        m = {k: self.beta1 * state.m[k] + (1 - self.beta1) * g for k, g in grads.items()}
        v = {k: self.beta2 * state.v[k] + (1 - self.beta2) * g * g for k, g in grads.items()}
        c1, c2 = 1 - self.beta1**t, 1 - self.beta2**t
        updates = {k: -self.lr[k] * (m[k] / c1) / (np.sqrt(v[k] / c2) + self.eps) for k in grads}
        return updates, AdamState(t, {**state.m, **m}, {**state.v, **v})


OPTIMIZERS: dict[str, type] = {"sgd": SGD, "adam": Adam}
