r"""Online prediction by TD(λ): the network predicts the discounted sum of a signal in the stream.

Sutton 1988 (Machine Learning 3:9) and Sutton & Barto 2018, sec. 12.2 (semi-gradient TD(λ));
Javed et al. 2023 (seed 003, sections 3 and 6) learn trace patterning this way, the gradient
of the prediction supplied by their exact RTRL traces.  The network's one output is the
prediction ``ŷ_t`` of the return ``G_t = Σ_{k≥0} γ^k c_{t+k+1}`` of the task's cumulant
``c`` (one of its inputs: ``task.cumulant_index``, the US in trace patterning).  At each step

    δ_{t-1} = c_t + γ ŷ_t − ŷ_{t-1},         θ ← θ + η δ_{t-1} z_{t-1},
    z_t     = γλ z_{t-1} + ∇_θ ŷ_t,

where ``∇_θ ŷ_t`` is the learning rule's estimate of the prediction's gradient (its credit
fed with ``∂ŷ_t/∂y_t = 1``: exact for RTRL and for SnAp-n covering the network's reach,
approximate for RFLO, e-prop, SnAp-1, UORO, …), and the optimizer takes ``−δ z`` as its
gradient (SGD: exactly the update above).
``ŷ_t`` is computed once, with the weights before this step's update: it is both the
bootstrap of ``δ_{t-1}`` and the prediction whose gradient enters ``z_t``.  (Javed et al.'s
code evaluates ``ŷ_{t+1}`` for δ with the old weights and then recomputes step t+1 with the
new ones: a difference of the order of the step size.)  With γ = 0, ``δ_{t-1} = c_t − ŷ_{t-1}``:
online regression of the next cumulant; with λ = 0 the trace is the last gradient alone.

One stream (``batch_size = 1``), one output, updates every step.  The task's target is the true
return (computed from the stream ahead), never seen by the learner: the loss recorded per chunk
and on the held-out stream is the mse objective against it, ``½ Σ_t (ŷ_t − G_t)²``.
"""

from __future__ import annotations

import numpy as np

from ..errors import NonFiniteError
from ..network import PARAM_NAMES
from ..objective import error_and_loss
from ..rules.base import Step, finalize, theta_blocks
from ..tasks.base import Trials
from .run import Run
from .state import RunState

__all__ = ["td_update", "check_td"]


def check_td(td: object) -> tuple[float, float]:
    """``(γ, λ)`` from the ``td`` setting ``{"gamma": γ, "lambda": λ}``, each in [0, 1]."""
    if not isinstance(td, dict) or set(td) != {"gamma", "lambda"}:
        raise ValueError(f"td must be a table {{gamma = γ, lambda = λ}}; got {td!r}")
    out = []
    for k in ("gamma", "lambda"):
        v = td[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise ValueError(f"td.{k} must be a number in [0, 1]; got {v!r}")
        out.append(float(v))
    return out[0], out[1]


def td_update(run: Run, state: RunState, trials: Trials) -> float:
    """One chunk of the stream, TD(λ) updates every step; returns the chunk's
    ``½ Σ_t (ŷ_t − G_t)²`` against the true return."""
    from .updates import _reset_sums, apply

    gamma, lam = check_td(run.settings.td)
    net = state.net
    x, target = trials.x, trials.target
    _, T, _ = x.shape
    c = x[0, :, run.task.cumulant_index]
    if state.h is None:
        state.h = np.zeros((1, net.n_rec), dtype=net.dtype)
        state.rule_state = run.rule.init(net, 1, state.rngs["rule"])
        state.td = {"z": {k: np.zeros_like(v) for k, v in net.params.items()}, "prev": None}
    h, rule_state, z = state.h, state.rule_state, state.td["z"]
    blocks = [name for name, _ in theta_blocks(net)]
    one = np.ones((1, 1), dtype=net.dtype)
    total = 0.0
    for t in range(T):
        p = net.params
        out = net.step(h, x[:, t])
        y = out.rate @ p["W_out"].T + p["b_out"]
        total += error_and_loss(y, target[:, t], None, 1, "mse")[1]
        prev = state.td["prev"]
        if prev is not None:  # δ_{t-1} and the update with z_{t-1}
            delta = c[t] + gamma * float(y[0, 0]) - prev
            apply(run, state, {k: -delta * z[k] for k in PARAM_NAMES}, 1)
        B = np.ascontiguousarray(p["W_out"].T) if run.symmetric else state.B
        q = one @ B.T
        if out.slope is not None:
            q = q * out.slope
        parts = {"W_rec": out.rate_prev, "W_in": x[:, t], "b": one}
        pre = np.concatenate([parts[b] for b in blocks], axis=1) if blocks else np.empty((1, 0))
        rule_state = run.rule.step(
            rule_state, net, Step(pre, out.gain, out.slope_prev, q, one, out.rate)
        )
        grad = finalize(net, run.rule.read(rule_state, net))  # ∇ŷ_t, at the weights of ŷ_t
        _reset_sums(rule_state, net)
        for k in PARAM_NAMES:
            z[k] *= gamma * lam
            z[k] += grad[k]
        state.td["prev"] = float(y[0, 0])
        h = out.state
        net = state.net
    if not np.isfinite(total):
        raise NonFiniteError(f"the loss is {total}")
    state.h, state.rule_state = h, rule_state
    state.history.append("grad_norm", float(np.sqrt(sum(np.sum(z[k] ** 2) for k in PARAM_NAMES))))
    return total
