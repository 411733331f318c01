"""Errors that several layers of bioplastic raise and catch."""

from __future__ import annotations

__all__ = ["NonFiniteError"]


class NonFiniteError(FloatingPointError):
    """A simulation, loss or gradient overflowed to inf or NaN although every input was finite.

    Raised instead of returning non-finite numbers; training loops catch it to stop a diverging
    run (typically the weights or the learning rate are too large).
    """
