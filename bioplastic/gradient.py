"""The one public entry point to every learning rule: :func:`gradient`."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .network import LeakyRNN
from .objective import NonFiniteError, prepare
from .rules.base import finalize, make_rule

__all__ = ["gradient"]


def gradient(
    net: LeakyRNN,
    x: ArrayLike,
    target: ArrayLike,
    mask: ArrayLike | None = None,
    rule: str = "bptt",
    *,
    h0: ArrayLike | None = None,
    **options: Any,
) -> dict[str, np.ndarray]:
    """A rule's estimate of ``∂L/∂θ`` on a batch of trials, with the weights held fixed.

    Parameters
    ----------
    net:
        The network.
    x:
        Inputs ``(trial, time, input)``.
    target, mask:
        ``(trial, time, output)``; the mask weights each output sample (all ones if None).
    rule:
        A name in ``bioplastic.rules.RULES``: ``"bptt"`` and ``"rtrl"`` (exact), ``"tbptt"``
        (needs ``truncation=k``).
    h0:
        Initial state ``(trial, unit)`` or ``(unit,)``; zeros if None.
    **options:
        The rule's own options, checked against what that rule accepts.

    Returns
    -------
    dict
        Same keys and shapes as ``net.params``.  Frozen parameters (not in ``net.plastic``)
        get zeros; masked weights are exactly 0.
    """
    r = make_rule(rule, options)
    batch = prepare(net, x, target, mask, h0)
    with np.errstate(over="ignore", invalid="ignore"):
        grads = finalize(net, r.gradient(net, batch))
    for k, g in grads.items():
        if not np.isfinite(g).all():
            raise NonFiniteError(
                f"the {rule!r} gradient of {k} overflowed to inf/NaN although every input was "
                "finite; rescale the targets, inputs or weights"
            )
    return grads
