"""The one public entry point to every learning rule: :func:`gradient`."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._threads import blas_threads_for
from ._validate import check_seed
from .lstm import LSTM
from .network import LeakyRNN
from .objective import Batch, NonFiniteError, error_and_loss, prepare
from .rules import gated, reward
from .rules.base import Rule, finalize, is_reward, make_rule
from .rules.feedback import feedback_matrix

__all__ = ["gradient", "evaluate", "rule_streams"]


def rule_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Two independent generators from one seed: (feedback B, the rule's own sampling)."""
    fb, rule = np.random.SeedSequence(check_seed(seed)).spawn(2)
    return np.random.default_rng(fb), np.random.default_rng(rule)


def gradient(
    net: LeakyRNN | LSTM,
    x: ArrayLike,
    target: ArrayLike,
    mask: ArrayLike | None = None,
    rule: str = "bptt",
    *,
    feedback: str | ArrayLike | None = None,
    seed: int = 0,
    h0: ArrayLike | None = None,
    loss: str = "mse",
    **options: Any,
) -> dict[str, np.ndarray]:
    """A rule's estimate of ``∂L/∂θ`` on a batch of trials, with the weights held fixed.

    Parameters
    ----------
    net:
        The network: a :class:`LeakyRNN`, or an :class:`LSTM` (rules ``"bptt"``, ``"tbptt"``,
        ``"rtrl"`` on columns and constructive stages, ``"snap1"``: :mod:`bioplastic.rules.gated`).
    x:
        Inputs ``(trial, time, input)``.
    target, mask:
        ``(trial, time, output)``; the mask weights each output sample (all ones if None).
    rule:
        A temporal-credit method, a name in ``bioplastic.RULES``: exact ``"bptt"``, ``"rtrl"``;
        truncated ``"tbptt"``, ``"fbptt"``, ``"ebptt"`` (need ``truncation=k``); local
        ``"rflo"``, ``"eprop"``, ``"snap1"``, ``"snap"`` (SnAp-n: needs ``n=``), ``"kernl"``,
        ``"dni"``; stochastic ``"uoro"``, ``"kf_rtrl"``, ``"rkf_rtrl"``, ``"ok"``; reward-based
        ``"node_perturbation"``, ``"miconi"`` (noise injected into the units, a scalar reward
        per trial: :mod:`bioplastic.rules.reward`; a one-off estimate compares each noisy trial
        with itself run without noise: the running baseline, ``warmup`` and ``baseline_by``
        are training options).
    feedback:
        The spatial feedback: ``"symmetric"`` (``W_outᵀ``), ``"random"``, ``"adaptive"`` (the
        random start of a Kolen–Pollack ``B``), or an array ``(n_rec, n_out)``.  None takes the
        rule's default (``"random"`` for RFLO, ``"symmetric"`` for the others).
    seed:
        Seeds the random feedback and, independently, a stochastic rule's samples (and a
        reward rule's noise).
    h0:
        Initial state ``(trial, unit)`` or ``(unit,)``; zeros if None.
    loss:
        ``"mse"``, ``"softmax_xent"`` or ``"absolute"`` (see :mod:`bioplastic.objective`).
    **options:
        The rule's own options, checked against what that rule accepts.

    Returns
    -------
    dict
        Same keys and shapes as ``net.params``.  Frozen parameters (not in ``net.plastic``)
        and frozen entries (``net.plastic_masks``) get zeros; masked weights are exactly 0;
        ``W_out`` and ``b_out`` are exact for every rule.
    """
    if isinstance(net, LSTM):
        if feedback not in (None, "symmetric"):
            raise ValueError(
                f"an LSTM learns with exact credit only (feedback='symmetric'); got {feedback!r}"
            )
        return gated.gradient(net, prepare(net, x, target, mask, h0, loss), rule, options)
    r = make_rule(rule, options)
    if is_reward(r) and feedback is not None:
        raise ValueError(
            f"rule {rule!r} learns from a scalar reward and sends no error back: leave "
            f"feedback=None; got {feedback!r}"
        )
    batch = prepare(net, x, target, mask, h0, loss)
    fb_rng, rule_rng = rule_streams(seed)
    B = feedback_matrix(net, r.default_feedback if feedback is None else feedback, fb_rng)
    with blas_threads_for(net.n_rec):
        return evaluate(net, batch, r, B, rule_rng)[1]


def evaluate(
    net: LeakyRNN, batch: Batch, rule: Rule, feedback: np.ndarray, rng: np.random.Generator
) -> tuple[float, dict[str, np.ndarray]]:
    """The loss and a rule's gradient estimate from one forward pass (validated inputs).

    Raises :class:`~bioplastic.NonFiniteError` if the simulation, the loss or the estimate
    overflows.
    """
    if is_reward(rule):  # noise, a scalar reward per trial, a baseline (rules/reward.py)
        value, grads, _ = reward.evaluate(net, batch, rule, rng)
        return value, grads
    trace = net.forward(batch.x, batch.h0, derivatives=True, scratch=True)
    error, value = error_and_loss(
        trace.outputs, batch.target, batch.mask, batch.n_trials, batch.loss
    )
    with np.errstate(over="ignore", invalid="ignore"):
        grads = finalize(net, rule.gradient(net, trace, error, feedback, rng))
    for k, g in grads.items():
        if not np.isfinite(g).all():
            raise NonFiniteError(
                f"the {rule.name!r} gradient of {k} overflowed to inf/NaN although every input "
                "was finite; rescale the targets, inputs or weights"
            )
    return value, grads
