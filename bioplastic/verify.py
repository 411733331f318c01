"""Finite-difference checks of any rule against ``bioplastic.loss``, for small networks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from .gradient import gradient
from .network import LeakyRNN
from .objective import loss

__all__ = ["central_difference", "finite_difference_gradient", "relative_error", "compare_exact"]


def central_difference(
    fun: Callable[[np.ndarray], float], value: np.ndarray, step: float = 1e-5
) -> np.ndarray:
    """``∂fun/∂value`` entry by entry, by the 4-point central difference.

    ``(8 [f(v+h) - f(v-h)] - [f(v+2h) - f(v-2h)]) / 12h`` has truncation error O(h⁴); with
    h = 1e-5 in float64 the total error is about 1e-10 relative.  Costs 4 calls per entry.
    """
    value = np.asarray(value, dtype=np.float64)
    grad = np.zeros_like(value)
    v = value.copy()
    for idx in np.ndindex(value.shape):

        def at(delta: float) -> float:
            v[idx] = value[idx] + delta
            return fun(v)

        grad[idx] = (8 * (at(step) - at(-step)) - (at(2 * step) - at(-2 * step))) / (12 * step)
        v[idx] = value[idx]
    return grad


def finite_difference_gradient(
    net: LeakyRNN,
    x: ArrayLike,
    target: ArrayLike,
    mask: ArrayLike | None = None,
    *,
    h0: ArrayLike | None = None,
    step: float = 1e-5,
) -> dict[str, np.ndarray]:
    """Central differences of :func:`bioplastic.loss` for every parameter (small nets only)."""
    return {
        k: central_difference(
            lambda v, k=k: loss(net.with_params({k: v}), x, target, mask, h0=h0), w, step
        )
        for k, w in net.params.items()
    }


def relative_error(estimate: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> float:
    """``max_k ‖estimate_k - reference_k‖ / ‖reference‖`` over all parameters together."""
    scale = np.sqrt(sum(float(np.sum(np.square(reference[k]))) for k in reference))
    worst = max(float(np.linalg.norm(estimate[k] - reference[k])) for k in reference)
    return float(worst / max(scale, np.finfo(np.float64).tiny))


def compare_exact(
    net: LeakyRNN,
    x: ArrayLike,
    target: ArrayLike,
    mask: ArrayLike | None = None,
    *,
    h0: ArrayLike | None = None,
) -> dict[str, float]:
    """Relative errors between BPTT, RTRL and finite differences on one batch."""
    g_bptt = gradient(net, x, target, mask, rule="bptt", h0=h0)
    g_rtrl = gradient(net, x, target, mask, rule="rtrl", h0=h0)
    fd = finite_difference_gradient(net, x, target, mask, h0=h0)
    return {
        "bptt_vs_rtrl": relative_error(g_rtrl, g_bptt),
        "bptt_vs_fd": relative_error(g_bptt, fd),
        "rtrl_vs_fd": relative_error(g_rtrl, fd),
    }
