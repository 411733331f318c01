"""The online face shared by every rule: explicit state, ``init`` → ``step`` → ``read``.

An online rule sees one :class:`~bioplastic.rules.base.Step` at a time (optax style: the state
is plain data handed back and forth, never hidden).  For speed, ``step`` updates the state's
arrays in place and returns the same object; keep using the returned state.

Every state carries :class:`Sums`, the running gradient estimate: the recurrent block
``Θ = [W_rec | W_in | b]`` (what the rule approximates) and the readout ``W_out, b_out`` (exact
for every rule, ``Σ_t e_t ρ(s_t)ᵀ`` and ``Σ_t e_t``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network import LeakyRNN, Trace
from .base import Step, direct_credit, leak, split_theta, steps, theta_blocks

__all__ = [
    "Stepwise",
    "Sums",
    "theta_width",
    "apply_jacobian",
    "run_online",
    "random_signs",
    "balance",
    "norms",
]


def theta_width(net: LeakyRNN) -> int:
    """``m``: the number of columns of the plastic part of ``Θ = [W_rec | W_in | b]``."""
    return sum(cols.stop - cols.start for _, cols in theta_blocks(net))


@dataclass
class Sums:
    """Running sums of an online gradient estimate."""

    theta: np.ndarray  # (unit, m)
    W_out: np.ndarray  # (output, unit)
    b_out: np.ndarray  # (output,)

    @classmethod
    def zeros(cls, net: LeakyRNN) -> Sums:
        d = net.dtype
        return cls(
            np.zeros((net.n_rec, theta_width(net)), dtype=d),
            np.zeros((net.n_out, net.n_rec), dtype=d),
            np.zeros(net.n_out, dtype=d),
        )

    def add_readout(self, st: Step) -> None:
        """Add the exact readout terms of step t."""
        self.W_out += st.error.T @ st.rate
        self.b_out += st.error.sum(axis=0)

    def grads(self, net: LeakyRNN) -> dict[str, np.ndarray]:
        """The sums as a gradient dict (copies)."""
        out = split_theta(net, self.theta.copy())
        out["W_out"] = self.W_out.copy()
        out["b_out"] = self.b_out.copy()
        return out


def apply_jacobian(net: LeakyRNN, st: Step, X: np.ndarray) -> np.ndarray:
    """``D_t X`` for ``X`` of shape ``(trial, unit, ...)``, without forming ``D_t``.

    ``D_t = diag(1-α) + diag(gain_t) W_rec diag(slope_{t-1})`` (see :mod:`.base`).
    """
    extra = (slice(None), slice(None)) + (None,) * (X.ndim - 2)
    Y = X if st.slope_prev is None else X * st.slope_prev[extra]
    Y = np.matmul(net.params["W_rec"], Y) if X.ndim > 2 else Y @ net.params["W_rec"].T
    Y *= st.gain[extra]
    lk = leak(net)
    Y += X * (lk if np.ndim(lk) == 0 else lk[(slice(None),) + (None,) * (X.ndim - 2)])
    return Y


def run_online(
    rule,
    net: LeakyRNN,
    trace: Trace,
    error: np.ndarray,
    feedback: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """The per-trial sum computed by stepping the rule's online face through a simulated batch."""
    e = error
    state = rule.init(net, e.shape[1], rng)
    for st in steps(net, trace, e, direct_credit(net, trace, e, feedback)):
        state = rule.step(state, net, st)
    return rule.read(state, net)


class Stepwise:
    """Mixin for rules defined by their online face: ``read`` returns the running sums, and the
    per-trial face steps the online face through the batch (override it to vectorise)."""

    def read(self, state, net: LeakyRNN) -> dict[str, np.ndarray]:
        """The estimate summed over the steps taken so far."""
        return state.sums.grads(net)

    def gradient(
        self,
        net: LeakyRNN,
        trace: Trace,
        error: np.ndarray,
        feedback: np.ndarray,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        return run_online(self, net, trace, error, feedback, rng)


def random_signs(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Independent ±1 with probability ½ each.

    Drawn as ``rng.random(shape) < ½`` (one 64-bit draw per sign), so drawing a ``(T, ...)``
    block at once gives the same signs as T draws of ``(...)``.
    """
    u = rng.random(shape)
    u -= 0.5  # u < ½ → -1, else +1: the sign of u - ½ (+0.0 at u = ½ gives +1), in place
    return np.copysign(1.0, u, out=u).astype(dtype, copy=False)


def balance(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``√(numerator / denominator)``, or 1 where either is 0 (any positive value that does not
    depend on the current step's random signs keeps an estimate unbiased)."""
    ok = (numerator > 0) & (denominator > 0)
    return np.sqrt(np.where(ok, numerator, 1.0) / np.where(ok, denominator, 1.0))


def norms(X: np.ndarray) -> np.ndarray:
    """Frobenius norm of each trial's slice, ``(trial,)``."""
    flat = X.reshape(X.shape[0], -1)
    return np.sqrt(np.vecdot(flat, flat))
