"""Every learning rule pinned down by a limit where it must be exact, in float64, both forms, α < 1."""

import itertools

import numpy as np
import pytest
from helpers import FORMS, faces, problems, rel_err, small_problem
from hypothesis import given, settings
from hypothesis import strategies as st

import bioplastic as bp
from bioplastic.gradient import rule_streams
from bioplastic.objective import output_error, prepare
from bioplastic.rules import RULES, make_rule, run_online
from bioplastic.rules.base import is_reward
from bioplastic.rules.feedback import feedback_matrix

OPTIONS = {
    "tbptt": {"truncation": 3},
    "fbptt": {"truncation": 3},
    "ebptt": {"truncation": 4},
    "snap": {"n": 2},
}
ALL_RULES = sorted(r for r in RULES if not is_reward(RULES[r]))  # from the output error
REWARD_RULES = sorted(r for r in RULES if is_reward(RULES[r]))  # tests/test_reward.py
STOCHASTIC = ("uoro", "kf_rtrl", "rkf_rtrl")
LOCAL = ("rflo", "eprop")


problem = small_problem


def grads(p, rule, net=None, **kw):
    opts = {**OPTIONS.get(rule, {}), **kw}
    return bp.gradient(net or p.net, p.x, p.target, p.mask, rule=rule, h0=p.h0, **opts)


def test_every_rule_is_registered_and_cites_its_paper():
    years = {
        "bptt": "1990",
        "rtrl": "1989",
        "tbptt": "1990",
        "fbptt": "2020",
        "ebptt": "1990",
        "rflo": "2019",
        "eprop": "2020",
        "snap": "2021",
        "snap1": "2021",
        "uoro": "2018",
        "kf_rtrl": "2018",
        "rkf_rtrl": "2020",
        "ok": "2019",
        "kernl": "2019",
        "dni": "2017",
        "node_perturbation": "1992",
        "miconi": "2017",
    }
    assert set(RULES) == set(years)
    assert set(REWARD_RULES) == {"node_perturbation", "miconi"}
    for name, cls in RULES.items():
        doc = __import__(cls.__module__, fromlist=["x"]).__doc__
        assert years[name] in doc, name
    assert RULES["rflo"].default_feedback == "random"
    assert all(RULES[r].default_feedback == "symmetric" for r in ALL_RULES if r != "rflo")


# ------------------------------------------------------------------ limits where a rule is exact
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("alpha", ["0.1", "per-unit"])
@pytest.mark.parametrize("rule", LOCAL)
def test_local_rules_are_exact_without_recurrence(form, alpha, rule):
    p = problem(form, alpha=alpha)
    net = p.net.with_params({"W_rec": np.zeros((5, 5))})
    exact = grads(p, "bptt", net)
    assert rel_err(grads(p, rule, net, feedback="symmetric"), exact) <= 1e-12
    # and they are not exact once the network is recurrent
    assert rel_err(grads(p, rule, feedback="symmetric"), grads(p, "bptt")) > 1e-3


@pytest.mark.parametrize("form", FORMS)
def test_snap1_is_rtrl_for_a_diagonal_network(form):
    p = problem(form)
    net = p.net.with_params({"W_rec": np.diag(np.random.default_rng(1).standard_normal(5))})
    assert rel_err(grads(p, "snap1", net), grads(p, "rtrl", net)) <= 1e-12
    assert rel_err(grads(p, "snap1"), grads(p, "rtrl")) > 1e-3


def eprop_rate_form_loop(net, B, x, y):
    """Bellec et al. 2020 for a leaky rate unit, per synapse: eligibility vector
    ε_t = (∂h_t/∂h_{t-1}) ε_{t-1} + ∂h_t/∂W with the own-state Jacobian 1-α (eq. 14), trace
    e_t = (∂z_t/∂h_t) ε_t with z = h (eq. 13), learning signal L_t = B (y_t - y*_t) (eq. 4)."""
    p, a = net.params, net.alpha
    n, T = net.n_rec, x.shape[1]
    h, eps, grad = np.zeros(n), np.zeros((n, n)), np.zeros((n, n))
    for t in range(T):
        u = p["W_rec"] @ h + p["W_in"] @ x[0, t] + p["b"]
        dh_dW = a * (1 - np.tanh(u) ** 2)  # ∂h_i/∂W_ij = α f'(u_i) h_j(t-1)
        for i in range(n):
            for j in range(n):
                eps[i, j] = (1 - a) * eps[i, j] + dh_dW[i] * h[j]
        h = (1 - a) * h + a * np.tanh(u)
        L = B @ (p["W_out"] @ h + p["b_out"] - y[0, t])
        grad += L[:, None] * eps  # dz/dh = 1 in the rate form
    return grad


def test_eprop_equals_rflo_for_the_same_feedback():
    """Two independent per-synapse derivations, Bellec's e-prop and Murray's RFLO (below), give
    the same numbers in the rate form, and so does the library for both names."""
    rng = np.random.default_rng(9)
    n = 3
    net = bp.LeakyRNN(
        rng.standard_normal((n, 2)),
        rng.standard_normal((n, n)),
        rng.standard_normal((2, n)),
        0.3 * rng.standard_normal(n),
        alpha=0.3,
    )
    B = rng.standard_normal((n, 2))
    x, y = rng.standard_normal((1, 10, 2)), rng.standard_normal((1, 10, 2))
    bellec = eprop_rate_form_loop(net, B, x, y)
    murray = rflo_murray_loop(net, B, x, y)[0]
    np.testing.assert_allclose(bellec, murray, rtol=1e-13, atol=1e-15)
    for rule in ("eprop", "rflo"):
        g = bp.gradient(net, x, y, rule=rule, feedback=B)["W_rec"]
        np.testing.assert_allclose(g, bellec, rtol=1e-13, atol=1e-15)


def rflo_murray_loop(net, B, x, y):
    """Murray 2019's RFLO traces P_ab, Q_ab and updates, written synapse by synapse."""
    p, a = net.params, net.alpha
    n, n_in, T = net.n_rec, net.n_in, x.shape[1]
    h = np.zeros(n)
    P, Q = np.zeros((n, n)), np.zeros((n, n_in))
    dW_rec, dW_in = np.zeros((n, n)), np.zeros((n, n_in))
    for t in range(T):
        u = p["W_rec"] @ h + p["W_in"] @ x[0, t] + p["b"]
        h_prev, h = h, (1 - a) * h + a * np.tanh(u)
        eps = p["W_out"] @ h + p["b_out"] - y[0, t]  # ε(t), the output error
        for i in range(n):
            for j in range(n):
                P[i, j] = (1 - a) * P[i, j] + a * (1 - np.tanh(u[i]) ** 2) * h_prev[j]
            for j in range(n_in):
                Q[i, j] = (1 - a) * Q[i, j] + a * (1 - np.tanh(u[i]) ** 2) * x[0, t, j]
        learn = B @ eps  # the random feedback projection of the error
        for i in range(n):
            dW_rec[i] += learn[i] * P[i]
            dW_in[i] += learn[i] * Q[i]
    return dW_rec, dW_in


def test_rflo_matches_murrays_equations_synapse_by_synapse():
    """A loop over synapses (a, b), written from Murray 2019's P and Q traces, on a tiny net."""
    rng = np.random.default_rng(2)
    n, n_in, n_out, T = 3, 2, 2, 9
    net = bp.LeakyRNN(
        rng.standard_normal((n, n_in)),
        rng.standard_normal((n, n)),
        rng.standard_normal((n_out, n)),
        0.2 * rng.standard_normal(n),
        alpha=0.2,
        plastic=("W_in", "W_rec", "W_out", "b_out"),
    )
    B = rng.standard_normal((n, n_out))
    x, y = rng.standard_normal((1, T, n_in)), rng.standard_normal((1, T, n_out))
    dW_rec, dW_in = rflo_murray_loop(net, B, x, y)
    g = bp.gradient(net, x, y, rule="rflo", feedback=B)
    np.testing.assert_allclose(g["W_rec"], dW_rec, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(g["W_in"], dW_in, rtol=1e-13, atol=1e-15)


def test_eprop_current_form_puts_the_slope_on_the_learning_signal():
    """Current form: ε_t = (1-α) ε_{t-1} + α â_t, learning signal f'(v_t)·(B e_t), per synapse."""
    rng = np.random.default_rng(3)
    n, T, a = 3, 8, 0.25
    net = bp.LeakyRNN(
        rng.standard_normal((n, 1)),
        rng.standard_normal((n, n)),
        rng.standard_normal((1, n)),
        alpha=a,
        form="current",
    )
    x, y = rng.standard_normal((1, T, 1)), rng.standard_normal((1, T, 1))
    p = net.params
    v = np.zeros(n)
    eps = np.zeros((n, n))
    dW = np.zeros((n, n))
    for t in range(T):
        r_prev = np.tanh(v)
        v = (1 - a) * v + a * (p["W_rec"] @ r_prev + p["W_in"] @ x[0, t])
        err = p["W_out"] @ np.tanh(v) - y[0, t]
        for i in range(n):
            for j in range(n):
                eps[i, j] = (1 - a) * eps[i, j] + a * r_prev[j]  # no f' inside the filter
        signal = (1 - np.tanh(v) ** 2) * (p["W_out"].T @ err)  # f'(v_t) on the learning signal
        dW += signal[:, None] * eps
    np.testing.assert_allclose(bp.gradient(net, x, y, rule="eprop")["W_rec"], dW, rtol=1e-13)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("rule", ALL_RULES)
@pytest.mark.parametrize("feedback", ["symmetric", "random"])
def test_readout_gradients_are_exact_for_every_rule(form, rule, feedback):
    p = problem(form)
    exact = grads(p, "bptt")
    g = grads(p, rule, feedback=feedback)
    for k in ("W_out", "b_out"):
        np.testing.assert_allclose(g[k], exact[k], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("form", FORMS)
def test_exact_credit_with_random_feedback_is_murrays_ablation(form):
    """BPTT and RTRL agree with each other for any B, and differ from the gradient."""
    p = problem(form)
    B = np.random.default_rng(5).standard_normal((5, 2))
    g_b, g_r = grads(p, "bptt", feedback=B), grads(p, "rtrl", feedback=B)
    assert rel_err(g_r, g_b) <= 1e-10
    assert rel_err(g_b, grads(p, "bptt")) > 1e-2
    np.testing.assert_array_equal(
        grads(p, "rtrl", feedback="random", seed=3)["W_rec"],
        grads(p, "rtrl", feedback="random", seed=3)["W_rec"],
    )


# ------------------------------------------------------------------ the two faces agree
@pytest.mark.parametrize("rule", ALL_RULES)
@settings(max_examples=6)
@given(data=st.data())
def test_per_trial_face_equals_the_online_face(rule, data):
    """The vectorised per-trial computation equals stepping init/step/read through the trial."""
    form = data.draw(st.sampled_from(FORMS))
    p = data.draw(
        problems(
            form,
            data.draw(st.sampled_from(["tanh", "softplus", "relu"])),
            data.draw(st.sampled_from(["0.1", "per-unit"])),
        )
    )
    r = make_rule(rule, OPTIONS.get(rule, {}))
    batch = prepare(p.net, p.x, p.target, p.mask, p.h0)
    fb_rng, _ = rule_streams(1)
    B = feedback_matrix(p.net, "random", fb_rng)
    per_trial, online = faces(r, p.net, batch, B, seed=2)
    assert rel_err(per_trial, online) <= 1e-12


@pytest.mark.parametrize("rule", ["bptt", "tbptt", "fbptt", "ebptt", "rflo", "snap1", "uoro"])
def test_online_read_midway_is_the_sum_so_far(rule):
    """Reading the online state after t steps gives the per-trial sum over the first t steps."""
    p = problem("rate", T=10, masked=False)
    r = make_rule(rule, OPTIONS.get(rule, {}))
    batch = prepare(p.net, p.x, p.target, None, p.h0)
    B = p.net.params["W_out"].T.copy()
    from bioplastic.objective import output_error
    from bioplastic.rules.base import direct_credit, steps

    trace = p.net.forward(batch.x, batch.h0, derivatives=True)
    e = output_error(trace, batch)
    state = r.init(p.net, 3, np.random.default_rng(0))
    for t, s in enumerate(steps(p.net, trace, e, direct_credit(p.net, trace, e, B))):
        state = r.step(state, p.net, s)
        if t == 5:
            midway = r.read(state, p.net)
    first6 = prepare(p.net, p.x[:, :6], p.target[:, :6], None, p.h0)
    assert rel_err(midway, faces(r, p.net, first6, B, seed=0)[0]) <= 1e-12


# ------------------------------------------------------------------ stochastic rules are unbiased
class ScriptedSigns:
    """Stands in for a Generator: ``random(shape)`` returns 0.25 (sign -1) or 0.75 (sign +1)."""

    def __init__(self, bits):
        self.bits = list(bits)

    def random(self, shape):
        k = int(np.prod(shape))
        out, self.bits = self.bits[:k], self.bits[k:]
        return np.where(np.array(out, dtype=bool), 0.75, 0.25).reshape(shape)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("rule,signs_per_step", [("uoro", 2), ("kf_rtrl", 2), ("rkf_rtrl", 2)])
def test_stochastic_rules_are_exactly_unbiased_over_all_sign_sequences(form, rule, signs_per_step):
    """Average over every possible sequence of random signs: E[estimate] = RTRL, to rounding."""
    rng = np.random.default_rng(8)
    n, T = 2, 3  # uoro/rkf draw n = 2 signs per step, kf_rtrl 2: 2^(2·3) = 64 sequences
    net = bp.LeakyRNN(
        rng.standard_normal((n, 1)),
        1.2 * rng.standard_normal((n, n)),
        rng.standard_normal((1, n)),
        rng.standard_normal(n),
        alpha=[0.3, 0.7],
        form=form,
    )
    x, y = rng.standard_normal((1, T, 1)), rng.standard_normal((1, T, 1))
    batch = prepare(net, x, y)
    B = net.params["W_out"].T.copy()
    r = RULES[rule]()
    total = None
    for bits in itertools.product([0, 1], repeat=signs_per_step * T):
        trace = net.forward(batch.x, batch.h0, derivatives=True)
        g = run_online(r, net, trace, output_error(trace, batch), B, ScriptedSigns(bits))
        total = g if total is None else {k: total[k] + g[k] for k in g}
    mean = {k: v / 2 ** (signs_per_step * T) for k, v in total.items()}
    exact = bp.gradient(net, x, y, rule="rtrl")
    assert rel_err(mean, exact) <= 1e-12
    assert rel_err(g, exact) > 1e-3  # a single sequence is not exact


def sample_means(rule, net, x, y, n_batches, per_batch, seed0=0):
    """Means of ``per_batch`` independent estimates (copies of one trial), ``n_batches`` times."""
    X, Y = np.repeat(x, per_batch, 0), np.repeat(y, per_batch, 0)  # the loss averages trials
    out = []
    for s in range(n_batches):
        g = bp.gradient(net, X, Y, rule=rule, seed=seed0 + s)
        out.append(np.concatenate([g[k].ravel() for k in ("W_rec", "W_in", "b")]))
    return np.array(out)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("rule", STOCHASTIC)
def test_stochastic_rules_converge_to_rtrl_in_the_mean(form, rule):
    """Seeded estimates on a realistic size: the sample mean's distance to RTRL is within the
    tolerance its own standard error sets, and that tolerance shrinks like 1/√samples.

    The batch means (each over 64 estimates) are close to Gaussian (CLT), so
    ``‖mean - exact‖² / Σ SE²`` has expectation about 1 whatever the correlations; 9 is a
    3-sigma-like bound.  A biased rule (RFLO here) fails the same check by orders of magnitude.
    """
    rng = np.random.default_rng(11)
    net = bp.LeakyRNN.random(2, 6, 2, tau=np.linspace(2, 8, 6), form=form, seed=3)
    x, y = rng.standard_normal((1, 15, 2)), rng.standard_normal((1, 15, 2))
    g = bp.gradient(net, x, y, rule="rtrl")
    exact = np.concatenate([g[k].ravel() for k in ("W_rec", "W_in", "b")])

    def check(n_batches):
        means = sample_means(rule, net, x, y, n_batches, 64)
        grand = means.mean(0)
        se2 = (means.var(0, ddof=1) / n_batches).sum()
        stat = np.sum((grand - exact) ** 2) / se2
        return stat, 3 * np.sqrt(se2)  # statistic, tolerance on ‖mean - exact‖

    stat_small, tol_small = check(16)
    stat_large, tol_large = check(256)
    assert stat_small < 9 and stat_large < 9
    assert tol_large < tol_small / 2.5  # 16x the samples: about 4x tighter
    # the check has power: RFLO's bias would score far above the bound of 9
    rflo = sample_means("rflo", net, x, y, 1, 1)[0]
    assert np.sum((rflo - exact) ** 2) / (tol_large / 3) ** 2 > 100


@pytest.mark.parametrize("rule", STOCHASTIC + ("rflo",))
def test_same_seed_same_numbers(rule):
    p = problem("rate")
    a, b, c = grads(p, rule, seed=4), grads(p, rule, seed=4), grads(p, rule, seed=5)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["W_rec"], c["W_rec"])


def test_random_signs_do_not_depend_on_how_they_are_drawn():
    from bioplastic.rules.online import random_signs

    whole = random_signs(np.random.default_rng(3), (5, 4, 3), np.float64)
    gen = np.random.default_rng(3)
    parts = np.stack([random_signs(gen, (4, 3), np.float64) for _ in range(5)])
    np.testing.assert_array_equal(whole, parts)
    assert set(np.unique(whole)) == {-1.0, 1.0}


# ------------------------------------------------------------------ structure holds for every rule
@pytest.mark.parametrize("rule", ALL_RULES)
def test_masks_and_frozen_parameters_hold_for_every_rule(rule):
    rng = np.random.default_rng(6)
    n = 5
    mask = rng.random((n, n)) < 0.5
    net = bp.LeakyRNN(
        rng.standard_normal((n, 2)),
        rng.standard_normal((n, n)) * mask,
        rng.standard_normal((2, n)),
        alpha=0.3,
        connectivity={"W_rec": mask},
        plastic=("W_rec", "W_out"),
    )
    x, y = rng.standard_normal((2, 8, 2)), rng.standard_normal((2, 8, 2))
    g = bp.gradient(net, x, y, rule=rule, **OPTIONS.get(rule, {}))
    assert np.all(g["W_rec"][~mask] == 0) and np.any(g["W_rec"][mask] != 0)
    for k in ("W_in", "b", "b_out"):
        assert not g[k].any()


# ------------------------------------------------------------------ feedback
def test_random_feedback_follows_murrays_scaling():
    net = bp.LeakyRNN.random(1, 400, 4, tau=5.0)
    B = feedback_matrix(net, "random", np.random.default_rng(0))
    assert B.shape == (400, 4)
    assert np.std(B) * np.sqrt(4) == pytest.approx(1.0, rel=0.03)
    np.testing.assert_array_equal(feedback_matrix(net, "adaptive", np.random.default_rng(0)), B)
    np.testing.assert_array_equal(feedback_matrix(net, "symmetric", None), net.params["W_out"].T)


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (
            {"rule": "rflo", "feedback": np.ones((4, 2))},
            ValueError,
            r"feedback must have dims \(unit, output\) = \(5, 2\); got shape \(4, 2\)",
        ),
        (
            {"rule": "rflo", "feedback": np.full((5, 2), np.nan)},
            ValueError,
            r"feedback must be finite",
        ),
        (
            {"rule": "rflo", "feedback": "transpose"},
            ValueError,
            r"feedback must be one of \['symmetric', 'random', 'random_unit', 'adaptive'\] or an array \(n_rec, n_out\) = \(5, 2\); got 'transpose'",
        ),
        (
            {"rule": "rflo", "truncation": 3},
            TypeError,
            r"rule 'rflo' takes no options; got unknown option\(s\) \['truncation'\]",
        ),
        ({"rule": "uoro", "seed": -1}, ValueError, r"seed must be a non-negative int; got -1"),
        ({"rule": "RFLO"}, ValueError, r"rule must be one of \[.*'rflo'.*\]; got 'RFLO'"),
    ],
)
def test_bad_feedback_and_options(kwargs, exc, pattern):
    p = problem("rate")
    with pytest.raises(exc, match=pattern):
        bp.gradient(p.net, p.x, p.target, **kwargs)


def test_uoro_fast_path_guards_vanishing_norms():
    """α = 1 relu units that all fall silent make ‖D ã‖ = 0 mid-trial: ρ0 must then be 1, as in
    the guarded online step, and the per-trial result must still equal the online face."""
    rng = np.random.default_rng(0)
    n = 3
    net = bp.LeakyRNN(
        np.ones((n, 1)),
        0.5 * rng.standard_normal((n, n)),
        rng.standard_normal((1, n)),
        alpha=1.0,
        activation="relu",
    )
    x = np.ones((2, 8, 1))
    x[:, 4:] = -50.0  # silences every unit from step 5 on
    y = rng.standard_normal((2, 8, 1))
    r = RULES["uoro"]()
    batch = prepare(net, x, y)
    B = net.params["W_out"].T.copy()
    fast, online = faces(r, net, batch, B, seed=5)
    assert all(np.isfinite(v).all() for v in fast.values())
    assert rel_err(fast, online) <= 1e-12


def one_step(rule_name, form, signs):
    """A random nonzero state of a stochastic rule, one step with scripted signs, and that step."""
    from bioplastic.rules.base import direct_credit, steps

    rng = np.random.default_rng(21)
    n = 4
    net = bp.LeakyRNN(
        rng.standard_normal((n, 2)),
        rng.standard_normal((n, n)) / 2,
        rng.standard_normal((1, n)),
        rng.standard_normal(n),
        alpha=[0.2, 0.4, 0.6, 0.8],
        form=form,
    )
    x, y = rng.standard_normal((1, 3, 2)), rng.standard_normal((1, 3, 1))
    batch = prepare(net, x, y)
    trace = net.forward(batch.x, batch.h0, derivatives=True)
    e = output_error(trace, batch)
    st = list(steps(net, trace, e, direct_credit(net, trace, e, net.params["W_out"].T)))[2]
    r = RULES[rule_name]()
    state = r.init(net, 1, ScriptedSigns(signs))
    for name in ("a", "b", "u", "A", "B"):  # random nonzero factors
        if hasattr(state, name):
            setattr(state, name, rng.standard_normal(getattr(state, name).shape))
    before = {k: np.array(v) for k, v in vars(state).items() if isinstance(v, np.ndarray)}
    D = np.diag(1 - np.asarray(net.alpha)) + st.gain[0][:, None] * net.params["W_rec"] * (
        1.0 if st.slope_prev is None else st.slope_prev[0][None, :]
    )
    return r.step(state, net, st), before, st, D


@pytest.mark.parametrize("form", FORMS)
def test_uoro_scalings_are_tallec_and_olliviers(form):
    state, s0, st, D = one_step("uoro", form, [1, 0, 1, 1])
    nu = np.array([1.0, -1.0, 1.0, 1.0])
    Da = D @ s0["a"][0]
    rho0 = np.sqrt(np.linalg.norm(s0["b"][0]) / np.linalg.norm(Da))
    rho1 = np.sqrt(np.linalg.norm(np.outer(nu * st.gain[0], st.pre[0])) / np.linalg.norm(nu))
    np.testing.assert_allclose(state.a[0], rho0 * Da + rho1 * nu, rtol=1e-13)
    np.testing.assert_allclose(
        state.b[0], s0["b"][0] / rho0 + np.outer(nu * st.gain[0], st.pre[0]) / rho1, rtol=1e-13
    )


@pytest.mark.parametrize("form", FORMS)
def test_kf_rtrl_scalings_are_mujikas(form):
    state, s0, st, D = one_step("kf_rtrl", form, [0, 1])
    c1, c2 = -1.0, 1.0
    DA = D @ s0["A"][0]
    p1 = np.sqrt(np.linalg.norm(DA) / np.linalg.norm(s0["u"][0]))
    p2 = np.sqrt(np.linalg.norm(np.diag(st.gain[0])) / np.linalg.norm(st.pre[0]))
    np.testing.assert_allclose(state.u[0], c1 * p1 * s0["u"][0] + c2 * p2 * st.pre[0], rtol=1e-13)
    np.testing.assert_allclose(state.A[0], c1 * DA / p1 + c2 * np.diag(st.gain[0]) / p2, rtol=1e-13)


@pytest.mark.parametrize("form", FORMS)
def test_rkf_rtrl_scalings_are_marschalls(form):
    state, s0, st, D = one_step("rkf_rtrl", form, [0, 1, 1, 0])
    nu = np.array([-1.0, 1.0, 1.0, -1.0])
    DB = D @ s0["B"][0]
    proj = nu[:, None] * st.gain[0][:, None] * st.pre[0][None, :]
    p0 = np.sqrt(np.linalg.norm(DB) / np.linalg.norm(s0["a"][0]))
    p1 = np.sqrt(np.linalg.norm(proj) / np.linalg.norm(nu))
    np.testing.assert_allclose(state.a[0], p0 * s0["a"][0] + p1 * nu, rtol=1e-13)
    np.testing.assert_allclose(state.B[0], DB / p0 + proj / p1, rtol=1e-13)


def test_random_feedback_scalings():
    """ "random": N(0, 1)/√n_out (Murray's notebook); "random_unit": N(0, 1) whatever n_out
    (Murray's Methods); the same for one output."""
    net = bp.LeakyRNN.random(1, 500, 4, tau=2.0)
    scaled = bp.rules.feedback_matrix(net, "random", np.random.default_rng(0))
    unit = bp.rules.feedback_matrix(net, "random_unit", np.random.default_rng(0))
    assert np.std(unit) == pytest.approx(1.0, rel=0.05)
    np.testing.assert_allclose(scaled, unit / 2.0, rtol=1e-15)
    one = bp.LeakyRNN.random(1, 5, 1, tau=2.0)
    np.testing.assert_array_equal(
        bp.rules.feedback_matrix(one, "random", np.random.default_rng(1)),
        bp.rules.feedback_matrix(one, "random_unit", np.random.default_rng(1)),
    )
