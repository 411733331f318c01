r"""What every learning rule shares: the registry, the credit signal, and the readouts.

Notation (Marschall et al. 2020, JMLR 21, sec. 2; Menick et al. 2021, eq. 2).  For state
``s_t`` (h or v), the **influence** is ``M_t = ∂s_t/∂θ`` and obeys

    M_t = D_t M_{t-1} + Ī_t

with the **dynamics** (Jacobian) and **immediate influence**

    D_t = ∂s_t/∂s_{t-1} = diag(1-α) + diag(gain_t) W_rec diag(slope_{t-1})
    Ī_t[i, (k, j)] = δ_ik · gain_t[i] · â_t[j],   â_t = [ρ(s_{t-1}), x_t, 1]

where ``gain = α ⊙ φ'(u)`` and ``slope = ρ'(s)`` (see :mod:`bioplastic.network`), and θ is the
matrix ``Θ = [W_rec | W_in | b]`` acting on the presynaptic vector ``â``.  The **direct
credit** ``q_t = slope_t ⊙ (B e_t)`` is the output error ``e_t`` sent back to the units
through the spatial feedback ``B``; with ``B = W_outᵀ`` it is ``∂L_t/∂s_t``.  Then

* past-facing (RTRL):   ∂L/∂θ = Σ_t q_t M_t
* future-facing (BPTT): ∂L/∂θ = Σ_t c_t Ī_t  with  c_t = q_t + c_{t+1} D_{t+1}

and ``Σ_t c_t Ī_t`` collapses to one matrix product per parameter: for ``Θ``,
``Σ_t (gain_t ⊙ c_t)ᵀ â_t`` (:func:`recurrent_readout`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, Protocol

import numpy as np

from .. import kernels
from .._threads import gram
from ..network import PARAM_NAMES, LeakyRNN, Trace

__all__ = [
    "Rule",
    "RULES",
    "register",
    "make_rule",
    "is_reward",
    "direct_credit",
    "recurrent_readout",
    "output_readout",
    "Step",
    "steps",
    "theta_blocks",
    "presynaptic",
    "split_theta",
]


class Rule(Protocol):
    """A learning rule = a temporal-credit method; the spatial feedback ``B`` is passed in.

    A rule is a frozen dataclass whose fields are its options, with two faces:

    * per trial: ``gradient(net, trace, error, feedback, rng)``, weights fixed, summed over the
      batch, from a forward pass ``trace`` (computed once by the caller, with derivatives, and
      not used for its ``gain`` afterwards: BPTT overwrites it) and the output error;
    * online: ``init(net, n_trials, rng)`` → state, ``step(state, net, step)`` → state,
      ``read(state, net)`` → the sum so far (see :mod:`bioplastic.rules.online`).

    ``feedback`` is ``B`` ``(unit, output)`` (``W_outᵀ`` for exact credit); ``rng`` drives
    stochastic rules.
    """

    name: ClassVar[str]
    default_feedback: ClassVar[str]

    def gradient(
        self,
        net: LeakyRNN,
        trace: Trace,
        error: np.ndarray,
        feedback: np.ndarray,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]: ...

    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> Any: ...

    def step(self, state: Any, net: LeakyRNN, step: Step) -> Any: ...

    def read(self, state: Any, net: LeakyRNN) -> dict[str, np.ndarray]: ...


RULES: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: add a rule to :data:`RULES` under ``cls.name``."""
    name = cls.name
    needs = ("default_feedback", "gradient", "init", "step", "read")
    for attr in needs + (("noise",) if is_reward(cls) else ()):
        if not hasattr(cls, attr):
            raise TypeError(f"rule class {cls.__name__} lacks {attr!r}")
    if name in RULES and RULES[name] is not cls:
        raise ValueError(f"a rule named {name!r} is already registered ({RULES[name]!r})")
    RULES[name] = cls
    return cls


def is_reward(rule: Any) -> bool:
    """Whether a rule learns from a scalar reward (:mod:`.reward`), not an output error."""
    return getattr(rule, "signal", "error") == "reward"


def make_rule(name: str, options: Mapping[str, Any]) -> Rule:
    """Build rule ``name`` with ``options``; unknown names or options raise, listing valid ones."""
    if not isinstance(name, str) or name not in RULES:
        raise ValueError(f"rule must be one of {sorted(RULES)}; got {name!r}")
    cls = RULES[name]
    accepted = [f.name for f in fields(cls)]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        takes = f"takes options {accepted}" if accepted else "takes no options"
        raise TypeError(f"rule {name!r} {takes}; got unknown option(s) {unknown}")
    required = [
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    ]
    missing = [k for k in required if k not in options]
    if missing:
        raise TypeError(
            f"rule {name!r} needs option(s) {missing}, "
            f"e.g. gradient(..., rule={name!r}, {missing[0]}=...)"
        )
    return cls(**options)


def direct_credit(
    net: LeakyRNN,
    trace: Trace,
    error: np.ndarray,
    feedback: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``q_t = slope_t ⊙ (B e_t)``, time-major ``(time, trial, unit)``, written to ``out``.

    ``feedback`` is the spatial feedback ``B`` ``(unit, output)``; ``W_outᵀ`` gives the exact
    ``∂L_t/∂s_t`` (:mod:`bioplastic.rules.feedback`).
    """
    T, B, k = error.shape
    if out is None:
        out = np.empty((T, B, net.n_rec), dtype=net.dtype)
    q = out
    np.matmul(error.reshape(T * B, k), feedback.T, out=q.reshape(T * B, net.n_rec))
    if trace.slope is not None:
        q *= trace.slope[1:]
    return q


def column_sums(A: np.ndarray) -> np.ndarray:
    """``A.sum(axis=0)`` of a tall 2-D array, as one GEMV (several times faster for few columns)."""
    return np.ones(A.shape[0], dtype=A.dtype) @ A


def few_columns_gram(A: np.ndarray, G: np.ndarray) -> np.ndarray:
    """``Aᵀ G`` ``(k, n)`` for a tall ``A`` ``(K, k)`` with a few columns (the inputs, the
    outputs) and ``G`` ``(K, n)``: compiled where the kernels run, else BLAS."""
    loops = kernels.recurrence_loops()
    if loops is None or A.shape[1] > 8 or not (A.dtype == G.dtype == np.float64):
        return A.T @ G
    out = np.empty((A.shape[1], G.shape[1]))
    loops.few_columns_gram(np.ascontiguousarray(A), np.ascontiguousarray(G), out)
    return out


def recurrent_readout(net: LeakyRNN, trace: Trace, current: np.ndarray) -> dict[str, np.ndarray]:
    """Gradients of ``W_rec, W_in, b`` from the credit on each unit's input current.

    ``current[t-1] = gain_t ⊙ c_t`` ``(time, trial, unit)``, where ``c_t`` is the credit
    assigned to ``s_t``.  One matrix product per parameter over all trials and time steps.
    """
    T, B, n = current.shape
    G = current.reshape(T * B, n)
    out = {}
    if "W_rec" in net.plastic:
        out["W_rec"] = gram(G, trace.rates[:-1].reshape(T * B, n))
    if "W_in" in net.plastic:
        out["W_in"] = np.ascontiguousarray(few_columns_gram(trace.inputs.reshape(T * B, -1), G).T)
    if "b" in net.plastic:
        out["b"] = column_sums(G)
    return out


def output_readout(net: LeakyRNN, trace: Trace, error: np.ndarray) -> dict[str, np.ndarray]:
    """Exact ``W_out, b_out`` gradients ``Σ_t e_t ρ(s_t)ᵀ`` and ``Σ_t e_t``."""
    T, B, k = error.shape
    E = error.reshape(T * B, k)
    out = {}
    if "W_out" in net.plastic:
        out["W_out"] = few_columns_gram(E, trace.rates[1:].reshape(T * B, net.n_rec))
    if "b_out" in net.plastic:
        out["b_out"] = column_sums(E)
    return out


def finalize(net: LeakyRNN, grads: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every key of ``net.params``: frozen parameters and entries (``net.plastic_masks``) get
    zeros, masked weights exactly 0."""
    params, learning = net.params, net.plastic_masks
    out = {}
    for k in PARAM_NAMES:
        g = grads.get(k) if k in net.plastic else None
        g = np.zeros_like(params[k]) if g is None else np.asarray(g, dtype=net.dtype)
        if g.shape != params[k].shape:  # a rule bug, never user input
            raise AssertionError(
                f"rule returned {k} of shape {g.shape}, expected {params[k].shape}"
            )
        for mask in (net.connectivity.get(k), learning.get(k)):
            if mask is not None:
                g = np.where(mask, g, 0.0).astype(net.dtype)
        out[k] = g
    return out


def leak(net: LeakyRNN) -> float | np.ndarray:
    """``1 - α`` in the network's dtype (a float or an ``(n_rec,)`` array)."""
    a = net.alpha
    return 1.0 - a if isinstance(a, float) else (1.0 - a).astype(net.dtype)


# ---------------------------------------------------------------------------------------------
# Past-facing (online) rules see the network one step at a time.


@dataclass(frozen=True)
class Step:
    """The signals at one time step t, as an online rule sees them.  Arrays are ``(trial, ·)``."""

    pre: np.ndarray  # â_t: the plastic blocks of [ρ(s_{t-1}), x_t, 1]   (trial, m)
    gain: np.ndarray  # gain_t = α φ'(u_t)                               (trial, unit)
    slope_prev: np.ndarray | None  # ρ'(s_{t-1}); None in the rate form (trial, unit)
    credit: np.ndarray  # q_t = slope_t ⊙ (B e_t), the direct credit       (trial, unit)
    error: np.ndarray  # e_t = ∂L_t/∂y_t                                 (trial, output)
    rate: np.ndarray  # ρ(s_t)                                           (trial, unit)


def theta_blocks(net: LeakyRNN) -> list[tuple[str, slice]]:
    """The plastic blocks of ``Θ = [W_rec | W_in | b]`` and their columns in ``â``."""
    widths = (("W_rec", net.n_rec), ("W_in", net.n_in), ("b", 1))
    blocks, start = [], 0
    for name, w in widths:
        if name in net.plastic:
            blocks.append((name, slice(start, start + w)))
            start += w
    return blocks


def presynaptic(net: LeakyRNN, trace: Trace) -> np.ndarray:
    """``â_t`` for t = 1..T ``(time, trial, m)``: plastic blocks of ``[ρ(s_{t-1}), x_t, 1]``."""
    T, B, _ = trace.outputs.shape
    parts = {
        "W_rec": lambda: trace.rates[:-1],
        "W_in": lambda: trace.inputs,
        "b": lambda: np.ones((T, B, 1), dtype=net.dtype),
    }
    blocks = theta_blocks(net)
    if not blocks:
        return np.empty((T, B, 0), dtype=net.dtype)
    return np.concatenate([parts[name]() for name, _ in blocks], axis=2)


def split_theta(net: LeakyRNN, theta: np.ndarray) -> dict[str, np.ndarray]:
    """Split a ``(unit, m)`` gradient of ``Θ`` into ``W_rec``, ``W_in``, ``b``."""
    out = {name: theta[:, cols] for name, cols in theta_blocks(net)}
    if "b" in out:
        out["b"] = out["b"][:, 0]
    return out


def steps(net: LeakyRNN, trace: Trace, error: np.ndarray, credit: np.ndarray):
    """Yield the :class:`Step` of each time t = 1..T of a simulated batch."""
    pre = presynaptic(net, trace)
    slope = trace.slope
    for t in range(error.shape[0]):
        yield Step(
            pre=pre[t],
            gain=trace.gain[t],
            slope_prev=None if slope is None else slope[t],
            credit=credit[t],
            error=error[t],
            rate=trace.rates[t + 1],
        )
