r"""BPTT, truncated BPTT and per-unit forward-mode traces, written once for any gated-unit model.

They run on :class:`~bioplastic.LeakyRNN` and :class:`~bioplastic.LSTM` alike, through the
local factors of :mod:`bioplastic.model` (``gate``, ``hold``, ``slope``, ``â``).  With
``q_t = ∂L_t/∂s_t = slope_t ⊙ (W_outᵀ e_t)`` the direct credit on a unit's state:

* **backward** one step (the transpose of the step's Jacobian):
  ``δ_t[q, i] = gate_t[i, q] · c_t[i]`` (the credit on the gate currents) and
  ``c_{t-1}[i] = holdᵀ_t[i] c_t[i] + slope_{t-1}[i] Σ_q (W_rec[q]ᵀ δ_t[q])[i]``;
* **BPTT** (Werbos 1990): ``c_t = q_t + back(c_{t+1})``, ``∂L/∂Θ[q] = Σ_t δ_t[q] âᵀ_t``;
* **truncated BPTT(k)** (Williams & Peng 1990): the credit on ``s_t`` sums the errors of
  ``t … t+k-1`` only, ``c_t = Σ_{j<k} back^j(q_{t+j})``, computed by age (``k`` vectorised
  passes over time, as :mod:`bioplastic.rules.tbptt`);
* **per-unit traces** (Javed et al. 2023, Appendix C: ``TH``, ``TC``; Menick et al. 2021's
  SnAp-1): for the parameters ``Θ[q, i, :]`` of unit i, ``P_t = D_t[i] P_{t-1} + gate_t[i, q] âᵀ_t``
  with the unit's own block of the Jacobian ``D_t[i] = hold_t[i] + Σ_q gate_t[i, q] W_rec[q, i, i]
  slope_{t-1}[i]ᵀ``, and ``∂L/∂Θ = Σ_t q_t · P_t``.  This drops every path through another unit:
  it is SnAp-1 on a dense network, and **exact RTRL** when no other unit hears a unit whose
  parameters learn (columns, constructive and hybrid stages: :func:`traces_exact`).  Cost
  O(parameters · d²) per step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import NonFiniteError
from ..model import Local, Model, gated_params, local, model_layout
from ..objective import Batch, error_and_loss
from .base import RULES, finalize

__all__ = ["GATED_RULES", "gradient", "bptt", "tbptt", "traces", "traces_exact", "heard", "back"]

GATED_RULES: tuple[str, ...] = ("bptt", "tbptt", "rtrl", "snap1")


def back(
    W_rec: np.ndarray, L: Local, c: np.ndarray, t: slice | int
) -> tuple[np.ndarray, np.ndarray]:
    """One step back from the credit ``c`` on ``s_{t+1}`` (array index ``t`` of ``gate``):
    returns the credit on the gate currents ``δ (…, B, Q, n)`` and on ``s_t`` ``(…, B, n, d)``."""
    Q, n = W_rec.shape[:2]
    delta = np.einsum("...nqd,...nd->...qn", L.gate[t], c)
    through = (delta.reshape(*delta.shape[:-2], Q * n) @ W_rec.reshape(Q * n, n))[..., None]
    prev = np.einsum("...nde,...nd->...ne", L.hold[t], c) + L.slope[t] * through
    return delta, prev


def _readout(P: dict, L: Local, error: np.ndarray, credit: np.ndarray) -> dict[str, np.ndarray]:
    """Gradients from the total credit on each state ``(T, B, n, d)``."""
    delta = np.einsum("tbnqd,tbnd->tbqn", L.gate, credit)
    return {
        "W_in": np.einsum("tbqn,tbm->qnm", delta, L.inputs),
        "W_rec": np.einsum("tbqn,tbj->qnj", delta, L.rates[:-1]),
        "b": delta.sum((0, 1)),
        "W_out": np.einsum("tbk,tbn->kn", error, L.rates[1:]),
        "b_out": error.sum((0, 1)),
    }


def direct(P: dict, L: Local, error: np.ndarray) -> np.ndarray:
    """``q_t = slope_t ⊙ (W_outᵀ e_t)`` ``(T, B, n, d)``."""
    return (error @ P["W_out"])[..., None] * L.slope[1:]


def bptt(P: dict, L: Local, error: np.ndarray) -> dict[str, np.ndarray]:
    """Exact ``∂L/∂θ`` by backpropagation through time (gate layout)."""
    q = direct(P, L, error)
    credit = q.copy()
    for t in range(q.shape[0] - 1, 0, -1):
        credit[t - 1] += back(P["W_rec"], L, credit[t], t)[1]
    return _readout(P, L, error, credit)


def tbptt(P: dict, L: Local, error: np.ndarray, truncation: int) -> dict[str, np.ndarray]:
    """BPTT with each error carried back at most ``truncation - 1`` steps."""
    q = direct(P, L, error)
    T = q.shape[0]
    credit, E = q.copy(), q
    for j in range(1, min(truncation, T)):
        E = back(P["W_rec"], L, E[1:], slice(1, T - j + 1))[1]  # E_j[s] = back(E_{j-1}[s+1])
        credit[: T - j] += E
    return _readout(P, L, error, credit)


def traces(P: dict, L: Local, error: np.ndarray) -> dict[str, np.ndarray]:
    """The per-unit forward-mode traces, read out with the direct credit (gate layout)."""
    q = direct(P, L, error)
    T, B, n, d = q.shape
    Q, m = P["W_in"].shape[0], L.inputs.shape[2]
    trace = np.zeros((B, Q, n, m + n + 1, d), dtype=q.dtype)  # ∂s[i]/∂Θ[q, i, :]
    total = np.zeros((Q, n, m + n + 1), dtype=q.dtype)
    for t in range(T):
        trace = trace_step(P, L, t, trace)
        total += np.einsum("bqnpd,bnd->qnp", trace, q[t])
    return {
        "W_in": total[..., :m],
        "W_rec": total[..., m : m + n],
        "b": total[..., -1],
        "W_out": np.einsum("tbk,tbn->kn", error, L.rates[1:]),
        "b_out": error.sum((0, 1)),
    }


def trace_step(P: dict, L: Local, t: int, trace: np.ndarray) -> np.ndarray:
    """One step of the per-unit traces ``(B, Q, n, m+n+1, d)`` over ``Θ = [W_in | W_rec | b]``:
    ``P_t = D_t[i] P_{t-1} + gate_t[i, q] âᵀ_t`` with ``â_t = [x_t, ρ(s_{t-1}), 1]``."""
    W_self = np.diagonal(P["W_rec"], axis1=1, axis2=2)  # (Q, n): each unit's self-weights
    D = L.hold[t] + np.einsum("bnqd,qn,bne->bnde", L.gate[t], W_self, L.slope[t])
    ones = np.ones((L.inputs.shape[1], 1), dtype=trace.dtype)
    pre = np.concatenate([L.inputs[t], L.rates[t], ones], axis=1)
    out = np.einsum("bnde,bqnpe->bqnpd", D, trace)
    out += np.einsum("bnqd,bp->bqnpd", L.gate[t], pre)
    return out


def learning_units(model: Model) -> np.ndarray:
    """Bool ``(unit,)``: the units with at least one learning incoming entry (W_in, W_rec, b)."""
    P, masks, n = gated_params(model), model.plastic_masks, model.n_rec
    out = np.zeros(n, dtype=bool)
    for k in ("W_in", "W_rec", "b"):
        if k not in model.plastic or P[k].size == 0:
            continue
        if k not in masks:
            return np.ones(n, dtype=bool)
        out |= masks[k].reshape(P[k].shape[0], n, -1).any(axis=(0, 2))
    return out


def heard(model: Model) -> np.ndarray:
    """Bool ``(unit,)``: the units another unit hears (by the ``W_rec`` connectivity mask;
    without one the layer is dense)."""
    n = model.n_rec
    conn = model.connectivity.get("W_rec", np.ones((n, n), dtype=bool))
    return (conn & ~np.eye(n, dtype=bool)).any(axis=0)


def traces_exact(model: Model) -> bool:
    """The per-unit traces are exact RTRL: no other unit hears a unit whose parameters learn."""
    return not (heard(model) & learning_units(model)).any()


def gradient(
    model: Model, batch: Batch, rule: str, options: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """A gated-unit rule's ``∂L/∂θ`` on a validated batch, in the model's own layout."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {list(GATED_RULES)} on this model; got {rule!r}")
    if rule not in GATED_RULES:
        raise ValueError(
            f"rule {rule!r} is written for the leaky RNN only; on an {type(model).__name__} "
            f"use one of {list(GATED_RULES)}"
        )
    accepted = ("truncation",) if rule == "tbptt" else ()
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(f"rule {rule!r} takes options {list(accepted)}; got unknown {unknown}")
    if rule == "tbptt":
        k = options.get("truncation")
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError(f"rule 'tbptt' needs truncation=k, an int >= 1; got {k!r}")
    if rule == "rtrl" and not traces_exact(model):
        raise ValueError(
            "exact RTRL on this model is the per-unit traces, exact only when no other unit "
            "hears a unit whose parameters learn (columns, or a constructive stage); here some "
            "do.  Use rule='bptt' (exact), 'tbptt' or 'snap1' (the diagonal approximation)"
        )
    P = gated_params(model)
    L = local(model, batch.x, batch.h0)
    error, _ = error_and_loss(L.outputs, batch.target, batch.mask, batch.n_trials, batch.loss)
    with np.errstate(over="ignore", invalid="ignore"):
        if rule == "bptt":
            g = bptt(P, L, error)
        elif rule == "tbptt":
            g = tbptt(P, L, error, int(options["truncation"]))
        else:
            g = traces(P, L, error)
    grads = finalize(model, model_layout(model, g))
    for k, v in grads.items():
        if not np.isfinite(v).all():
            raise NonFiniteError(f"the {rule!r} gradient of {k} overflowed to inf/NaN")
    return grads
