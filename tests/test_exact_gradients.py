"""BPTT, RTRL and truncated BPTT against each other and against finite differences.

All in float64, for both model forms, α ∈ {1, 0.1, per unit}, every activation, random shapes
(hypothesis), random masks and initial states, batch sizes 1-4; BPTT against RTRL and both against
finite differences on the compiled time loops and on the numpy path alike.
"""

import contextlib
import itertools

import numpy as np
import pytest
from helpers import (
    ACTIVATION_NAMES,
    ALPHAS,
    FORMS,
    central_difference,
    fd_gradient,
    kink_distance,
    make_problem,
    per_step,
    problems,
    reference_loss,
    rel_err,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import bioplastic as bp
from bioplastic import kernels

CASES = list(itertools.product(FORMS, ACTIVATION_NAMES, ALPHAS))
IDS = ["-".join(c) for c in CASES]


PATHS = [
    pytest.param("compiled", marks=pytest.mark.skipif(not kernels.available(), reason="no numba")),
    "numpy",
]


def on(path: str):
    """The time loops compiled (the default where numba imports) or numpy's."""
    return kernels.disabled() if path == "numpy" else contextlib.nullcontext()


def grads(p, rule, **options):
    return bp.gradient(p.net, p.x, p.target, p.mask, rule=rule, h0=p.h0, **options)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("form,activation,alpha", CASES, ids=IDS)
@settings(max_examples=12)
@given(data=st.data())
def test_bptt_equals_rtrl(form, activation, alpha, path, data):
    p = data.draw(problems(form, activation, alpha))
    with on(path):
        g_bptt, g_rtrl = grads(p, "bptt"), grads(p, "rtrl")
    assert set(g_bptt) == set(bp.PARAM_NAMES)
    for k, v in p.net.params.items():
        assert g_bptt[k].shape == v.shape and g_rtrl[k].shape == v.shape
    assert rel_err(g_rtrl, g_bptt) <= 1e-10


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("form,activation,alpha", CASES, ids=IDS)
@settings(max_examples=4)
@given(data=st.data())
def test_exact_gradients_match_finite_differences(form, activation, alpha, path, data):
    p = data.draw(problems(form, activation, alpha, max_n=5, max_T=8))
    if activation == "relu":  # a finite difference across the kink is not a derivative
        assume(kink_distance(p) > 1e-3)
    with on(path):
        fd = fd_gradient(p)
        # a central difference is good to about 1e-10 absolute (rounding ε|L|/h, h = 1e-5), so
        # a parameter whose gradient is below 1% of the whole is held to 1e-9 of the whole
        assert rel_err(grads(p, "bptt"), fd, floor=1e-2) <= 1e-7
        assert rel_err(grads(p, "rtrl"), fd, floor=1e-2) <= 1e-7


@pytest.mark.parametrize("form", FORMS)
def test_bptt_equals_rtrl_on_a_larger_network(form):
    """n = 24, T = 60, batch 5, per-unit α: long enough for the recurrence to matter."""
    rng = np.random.default_rng(7)
    p = make_problem(
        rng,
        form=form,
        activation="tanh",
        alpha="per-unit",
        B=5,
        T=60,
        n=24,
        n_in=3,
        n_out=2,
        masked=True,
        with_h0=True,
    )
    assert rel_err(grads(p, "rtrl"), grads(p, "bptt")) <= 1e-10


def test_loss_matches_the_reference_simulator():
    rng = np.random.default_rng(3)
    for form, act in itertools.product(FORMS, ACTIVATION_NAMES):
        p = make_problem(
            rng,
            form=form,
            activation=act,
            alpha="per-unit",
            B=3,
            T=7,
            n=4,
            n_in=2,
            n_out=2,
            masked=True,
            with_h0=True,
        )
        ours = bp.loss(p.net, p.x, p.target, p.mask, h0=p.h0)
        assert ours == pytest.approx(reference_loss(p.net, p.x, p.target, p.mask, p.h0), rel=1e-13)


# --------------------------------------------------------------------------- truncated BPTT
def truncated_reference(p, k: int) -> dict[str, np.ndarray]:
    """Σ_t ∂L_t/∂θ with θ perturbed only at steps t-k+1..t: BPTT(k) by its definition."""
    T = p.x.shape[1]
    params = p.net.params
    out = {}
    for name in ("W_in", "W_rec", "b"):
        total = np.zeros_like(params[name])
        for t in range(T):
            window = np.zeros(T, dtype=bool)
            window[max(0, t - k + 1) : t + 1] = True

            def loss_t(v, name=name, t=t, window=window):
                pt = {q: per_step(params[q], T) for q in ("W_in", "W_rec", "b")}
                pt[name][window] = v
                return reference_loss(p.net, p.x, p.target, p.mask, p.h0, pt, only_t=t)

            total += central_difference(loss_t, params[name])
        out[name] = total
    return out


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("k", [1, 2, 4])
def test_tbptt_matches_its_definition(form, k):
    rng = np.random.default_rng(11 + k)
    p = make_problem(
        rng,
        form=form,
        activation="tanh",
        alpha="per-unit",
        B=2,
        T=7,
        n=3,
        n_in=2,
        n_out=2,
        masked=True,
        with_h0=True,
    )
    ours = grads(p, "tbptt", truncation=k)
    ref = truncated_reference(p, k)
    assert rel_err({q: ours[q] for q in ref}, ref) <= 1e-7
    exact = grads(p, "bptt")  # the readout has no temporal credit
    np.testing.assert_array_equal(ours["W_out"], exact["W_out"])
    np.testing.assert_array_equal(ours["b_out"], exact["b_out"])


@pytest.mark.parametrize("form,activation,alpha", CASES[::3], ids=IDS[::3])
@settings(max_examples=8)
@given(data=st.data())
def test_tbptt_with_full_window_is_bptt(form, activation, alpha, data):
    p = data.draw(problems(form, activation, alpha))
    T = p.x.shape[1]
    exact = grads(p, "bptt")
    for k in (T, T + 5):
        assert rel_err(grads(p, "tbptt", truncation=k), exact) <= 1e-12


@pytest.mark.parametrize("form", FORMS)
def test_short_truncation_differs_measurably(form):
    rng = np.random.default_rng(5)
    p = make_problem(
        rng,
        form=form,
        activation="tanh",
        alpha="0.1",
        B=3,
        T=80,
        n=10,
        n_in=2,
        n_out=2,
        masked=False,
        with_h0=False,
    )
    exact = grads(p, "bptt")
    errors = [rel_err(grads(p, "tbptt", truncation=k), exact) for k in (1, 5, 20, 80)]
    assert errors[0] > 0.05  # one step of credit misses most of a slow (α = 0.1) network's
    assert errors[0] > errors[1] > errors[2] > errors[3]  # longer windows get closer
    assert errors[3] <= 1e-12


# --------------------------------------------------------------------------- softmax cross-entropy
@pytest.mark.parametrize("form,activation,alpha", CASES[::2], ids=IDS[::2])
@settings(max_examples=4)
@given(data=st.data())
def test_softmax_xent_gradients_are_exact(form, activation, alpha, data):
    """BPTT = RTRL = finite differences for loss='softmax_xent' (Marschall et al. 2020's Add)."""
    p = data.draw(problems(form, activation, alpha, max_n=5, max_T=8))
    k = p.target.shape[2]
    assume(k >= 2)
    if activation == "relu":
        assume(kink_distance(p) > 1e-3)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    target = rng.dirichlet(np.ones(k), size=p.target.shape[:2])
    fd = {
        name: central_difference(
            lambda v, name=name: bp.loss(
                p.net.with_params({name: v}), p.x, target, p.mask, h0=p.h0, loss="softmax_xent"
            ),
            w,
        )
        for name, w in p.net.params.items()
    }
    g = {
        r: bp.gradient(p.net, p.x, target, p.mask, rule=r, h0=p.h0, loss="softmax_xent")
        for r in ("bptt", "rtrl")
    }
    assert rel_err(g["rtrl"], g["bptt"]) <= 1e-10
    assert rel_err(g["bptt"], fd) <= 1e-6  # FD of a log-softmax: ~1e-7 at worst here


def test_softmax_xent_value_and_checks():
    net = bp.LeakyRNN.random(1, 4, 2, tau=2.0, seed=0)
    x = np.ones((2, 3, 1))
    y_net = net.run(x).outputs
    target = np.zeros((2, 3, 2))
    target[..., 0] = 1.0
    logp = y_net - np.log(np.exp(y_net).sum(-1, keepdims=True))
    assert bp.loss(net, x, target, loss="softmax_xent") == pytest.approx(-logp[..., 0].sum() / 2)
    with pytest.raises(ValueError, match="must be a probability distribution over the outputs"):
        bp.loss(net, x, 2 * target, loss="softmax_xent")
    with pytest.raises(
        ValueError, match=r"loss must be one of \['absolute', 'mse', 'softmax_xent'\]; got 'xent'"
    ):
        bp.gradient(net, x, target, loss="xent")
