"""Pointwise activation functions ``f`` and their derivatives.

Every activation here has a derivative that can be written in terms of its own value,
``f'(u) = d(f(u))``.  The network keeps ``f(u)`` from the forward pass, so gradient code
never needs the pre-activation ``u`` a second time:

==========  =====================  ==============================
name        f(u)                   f'(u) in terms of f = f(u)
==========  =====================  ==============================
tanh        tanh(u)                1 - f²
relu        max(u, 0)              1 if f > 0 else 0 (0 at u = 0)
softplus    log(1 + eᵘ)            1 - e^(-f)   (= sigmoid(u))
sigmoid     1 / (1 + e^(-u))       f (1 - f)
linear      u                      1
==========  =====================  ==============================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

__all__ = ["Activation", "ACTIVATIONS", "get_activation"]


@dataclass(frozen=True)
class Activation:
    """A named pointwise nonlinearity.

    Attributes
    ----------
    name:
        The registry name, e.g. ``"tanh"``.
    forward:
        ``forward(u, out)`` writes ``f(u)`` into ``out`` (which may be ``u`` itself) and
        returns it.
    slope_from_value:
        ``slope_from_value(f, out)`` writes ``f'(u)``, given ``f = f(u)``, into ``out`` (which
        may be ``f`` itself, or None for a new array) and returns it.
    """

    name: str
    forward: Callable[[np.ndarray, np.ndarray | None], np.ndarray]
    slope_from_value: Callable[[np.ndarray, np.ndarray | None], np.ndarray]

    def __call__(self, u: np.ndarray) -> np.ndarray:
        """``f(u)``, elementwise."""
        u = np.asarray(u)
        return self.forward(u, None)

    def derivative(self, u: np.ndarray) -> np.ndarray:
        """``f'(u)``, elementwise."""
        f = self(u)
        return self.slope_from_value(f, f)


def _linear(u: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    if out is None:
        return u.copy()
    if out is not u:
        np.copyto(out, u)
    return out


def _tanh_slope(f: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    out = np.multiply(f, f, out=out)
    return np.subtract(1.0, out, out=out)


def _relu_slope(f: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    return np.sign(f, out=out)  # f >= 0, so sign(f) is 1 where u > 0 and 0 elsewhere


def _softplus_slope(f: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    out = np.negative(f, out=out)
    out = np.expm1(out, out=out)
    return np.negative(out, out=out)


def _sigmoid_slope(f: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    one_minus = 1.0 - f
    return np.multiply(f, one_minus, out=out)


def _linear_slope(f: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    if out is None:
        return np.ones_like(f)
    out.fill(1.0)
    return out


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("tanh", lambda u, out: np.tanh(u, out=out), _tanh_slope),
        Activation("relu", lambda u, out: np.maximum(u, 0.0, out=out), _relu_slope),
        Activation("softplus", lambda u, out: np.logaddexp(0.0, u, out=out), _softplus_slope),
        Activation("sigmoid", lambda u, out: expit(u, out=out), _sigmoid_slope),
        Activation("linear", _linear, _linear_slope),
    )
}


def get_activation(name: str | Activation) -> Activation:
    """Look an activation up by name; an :class:`Activation` passes through."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {name!r}")
    return ACTIVATIONS[name]
