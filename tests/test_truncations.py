"""Marschall et al. 2020's online BPTT variants, pinned to limits where they must be exact.

* ``ebptt`` (block-wise): every k steps exactly the gradient of the last k steps' losses, the
  state that began the block held fixed: checked against exact BPTT run on each block as its
  own problem, started from the full run's state; with k ≥ T it is BPTT.
* ``fbptt`` (future-facing): each state's window credit, emitted k − 1 steps late: when the
  last k − 1 errors are zero it equals ``tbptt`` (itself checked against a plain-loop
  reference with per-step parameters in test_exact_gradients.py); read after t steps it is the
  per-trial face on the first t steps.
"""

from functools import partial

import numpy as np
import pytest
from helpers import FORMS, reference_loss, rel_err, small_problem

import bioplastic as bp
from bioplastic.objective import output_error, prepare
from bioplastic.rules import make_rule
from bioplastic.rules.base import direct_credit, steps

problem = partial(small_problem, T=11)


def states(p):
    """The full run's states s_0 … s_T ``(trial, time+1, unit)``."""
    batch = prepare(p.net, p.x, p.target, p.mask, p.h0)
    return np.moveaxis(p.net.forward(batch.x, batch.h0).states, 0, 1)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("k", [1, 3, 4])
def test_ebptt_is_bptt_on_each_block_from_the_runs_state(form, k):
    p = problem(form)
    S = states(p)
    T = p.x.shape[1]
    total = None
    for a in range(0, T, k):
        b = min(a + k, T)
        g = bp.gradient(
            p.net, p.x[:, a:b], p.target[:, a:b], p.mask[:, a:b], rule="bptt", h0=S[:, a]
        )
        total = g if total is None else {n: total[n] + g[n] for n in g}
    got = bp.gradient(p.net, p.x, p.target, p.mask, rule="ebptt", truncation=k, h0=p.h0)
    assert rel_err(got, total) <= 1e-12
    if k > 1:  # blocks are not BPTT
        assert rel_err(got, bp.gradient(p.net, p.x, p.target, p.mask, h0=p.h0)) > 1e-3


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("k", [11, 50])
def test_ebptt_with_a_block_the_whole_trial_is_bptt(form, k):
    p = problem(form)
    got = bp.gradient(p.net, p.x, p.target, p.mask, rule="ebptt", truncation=k, h0=p.h0)
    assert rel_err(got, bp.gradient(p.net, p.x, p.target, p.mask, h0=p.h0)) <= 1e-12


def online_reads(rule, p):
    """The online face's read after each step t = 1..T."""
    net = p.net
    batch = prepare(net, p.x, p.target, p.mask, p.h0)
    trace = net.forward(batch.x, batch.h0, derivatives=True)
    e = output_error(trace, batch)
    B = net.params["W_out"].T.copy()
    state = rule.init(net, p.x.shape[0], np.random.default_rng(0))
    out = []
    for s in steps(net, trace, e, direct_credit(net, trace, e, B)):
        state = rule.step(state, net, s)
        out.append(rule.read(state, net))
    return out


@pytest.mark.parametrize("name", ["ebptt", "fbptt"])
@pytest.mark.parametrize("form", FORMS)
def test_read_after_t_steps_is_the_per_trial_face_on_the_first_t(name, form):
    p = problem(form, T=9)
    rule = make_rule(name, {"truncation": 3})
    reads = online_reads(rule, p)
    for t in range(1, 10):
        first = bp.gradient(
            p.net, p.x[:, :t], p.target[:, :t], p.mask[:, :t], rule=name, truncation=3, h0=p.h0
        )
        assert rel_err(reads[t - 1], first) <= 1e-12, t


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("k", [1, 2, 4])
def test_fbptt_is_tbptt_when_the_last_errors_are_zero(form, k):
    p = problem(form)
    mask = p.mask.copy()
    mask[:, p.x.shape[1] - (k - 1) :] = 0.0
    f = bp.gradient(p.net, p.x, p.target, mask, rule="fbptt", truncation=k, h0=p.h0)
    t = bp.gradient(p.net, p.x, p.target, mask, rule="tbptt", truncation=k, h0=p.h0)
    assert rel_err(f, t) <= 1e-12
    if k > 1:  # with the last errors present, F-BPTT has not yet emitted their credit
        f = bp.gradient(p.net, p.x, p.target, p.mask, rule="fbptt", truncation=k, h0=p.h0)
        t = bp.gradient(p.net, p.x, p.target, p.mask, rule="tbptt", truncation=k, h0=p.h0)
        assert rel_err(f, t) > 1e-3


@pytest.mark.parametrize("form", FORMS)
def test_fbptt_emits_each_states_complete_window_credit_k_minus_1_steps_late(form):
    """The W_rec increment at step t is ``(gain_s ⊙ c_s)ᵀ ρ(s_{s-1})`` for s = t - k + 1, with
    ``c_s = ∂(L_s + … + L_t)/∂s_s``: here by central differences of the plain-loop reference
    loss of steps s+1 … t started from the perturbed state s_s, plus ∂L_s/∂s_s."""
    k, T, p = 3, 8, problem(form, T=8, masked=False)
    net = p.net
    reads = online_reads(make_rule("fbptt", {"truncation": k}), p)
    for t in range(1, k):  # nothing recurrent is emitted before the first window closes
        assert np.abs(reads[t - 1]["W_rec"]).max() == 0.0
    batch = prepare(net, p.x, p.target, None, p.h0)
    trace = net.forward(batch.x, batch.h0, derivatives=True)
    nB = p.x.shape[0]
    W_out = net.params["W_out"]
    for t in range(k, T + 1):
        s = t - k + 1
        S = trace.states[s].copy()  # (trial, unit)
        slope = np.ones_like(S) if trace.slope is None else trace.slope[s]
        e_s = (trace.outputs[s - 1] - p.target[:, s - 1]) / nB
        c = slope * (e_s @ W_out)  # ∂L_s/∂s_s
        eps = 1e-6
        for b in range(nB):
            for i in range(net.n_rec):
                d = np.zeros_like(S)
                d[b, i] = eps
                xs, ys = p.x[:, s:t], p.target[:, s:t]
                up = reference_loss(net, xs, ys, h0=S + d)
                down = reference_loss(net, xs, ys, h0=S - d)
                c[b, i] += (up - down) / (2 * eps)
        inc = reads[t - 1]["W_rec"] - reads[t - 2]["W_rec"]
        expect = (trace.gain[s - 1] * c).T @ trace.rates[s - 1]
        np.testing.assert_allclose(inc, expect, rtol=1e-6, atol=1e-9 * np.abs(expect).max())


@pytest.mark.parametrize("name", ["ebptt", "fbptt"])
@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_truncation_must_be_a_positive_int(name, bad):
    with pytest.raises(ValueError, match="truncation must be an int >= 1"):
        make_rule(name, {"truncation": bad})
    with pytest.raises(TypeError, match="needs option"):
        make_rule(name, {})


def test_fbptt_warns_when_a_trial_is_shorter_than_its_window():
    p = problem("rate", T=4)
    with pytest.warns(UserWarning, match="emits none"):
        g = bp.gradient(p.net, p.x, p.target, p.mask, rule="fbptt", truncation=7, h0=p.h0)
    assert not g["W_rec"].any()
