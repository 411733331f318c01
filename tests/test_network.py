"""LeakyRNN: the equations, initialisation, dtypes, and the optional structure."""

import itertools

import numpy as np
import pytest
from helpers import ACTIVATION_NAMES, FORMS, F, make_problem, reference_run

import bioplastic as bp


@pytest.mark.parametrize("form,activation", list(itertools.product(FORMS, ACTIVATION_NAMES)))
def test_run_follows_the_equations(form, activation):
    rng = np.random.default_rng(0)
    p = make_problem(
        rng,
        form=form,
        activation=activation,
        alpha="per-unit",
        B=3,
        T=9,
        n=5,
        n_in=2,
        n_out=3,
        masked=False,
        with_h0=True,
    )
    states, outputs = p.net.run(p.x, p.h0)
    ref_states, ref_outputs, _ = reference_run(p.net, p.x, p.h0)
    assert states.shape == (3, 9, 5) and outputs.shape == (3, 9, 3)
    np.testing.assert_allclose(states, ref_states, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(outputs, ref_outputs, rtol=1e-13, atol=1e-14)
    if form == "current":
        np.testing.assert_allclose(p.net.rate(states), F[activation](ref_states), atol=1e-14)
    else:
        np.testing.assert_array_equal(p.net.rate(states), states)


def test_run_is_a_named_tuple_and_h0_defaults_to_zero():
    net = bp.LeakyRNN.random(1, 4, 2, tau=5.0)
    x = np.ones((2, 3, 1))
    traj = net.run(x)
    states, outputs = traj
    assert traj.states is states and traj.outputs is outputs
    np.testing.assert_array_equal(net.run(x, h0=np.zeros(4)).states, states)
    # a shared (unit,) initial state equals the same state given per trial
    h0 = np.arange(4.0) / 4
    np.testing.assert_array_equal(
        net.run(x, h0=h0).states, net.run(x, h0=np.stack([h0, h0])).states
    )


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("B,T", [(1, 4), (3, 1), (1, 1), (2, 5)])
def test_results_survive_later_calls(form, B, T):
    """run() returns fresh arrays, never views of memory a later call reuses."""
    net = bp.LeakyRNN.random(1, 3, 1, tau=5.0, form=form)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, 1))
    states, outputs = net.run(x)
    kept = states.copy(), outputs.copy()
    net.run(rng.standard_normal((B, T, 1)))
    bp.gradient(net, rng.standard_normal((B, T, 1)), rng.standard_normal((B, T, 1)))
    np.testing.assert_array_equal(states, kept[0])
    np.testing.assert_array_equal(outputs, kept[1])
    # stepping a trial in pieces, feeding each final state back as h0, is the whole trial
    h, pieces = None, []
    for t in range(T):
        s, _ = net.run(x[:, t : t + 1], h0=h)
        pieces.append(s)
        h = s[:, -1]
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), kept[0], rtol=1e-14, atol=1e-15)


def test_activation_slopes_are_accurate_where_they_are_tiny():
    u = np.linspace(-30, 30, 121)
    exact = {
        "tanh": 1 / np.cosh(u) ** 2,
        "sigmoid": np.exp(-np.abs(u)) / (1 + np.exp(-np.abs(u))) ** 2,
        "softplus": np.where(u < 0, np.exp(u) / (1 + np.exp(u)), 1 / (1 + np.exp(-u))),
        "relu": (u > 0).astype(float),
        "linear": np.ones_like(u),
    }
    for name, want in exact.items():
        got = bp.ACTIVATIONS[name].derivative(u)
        # tanh and sigmoid lose relative precision as f saturates (1 - f², f(1-f)); compare those
        # in absolute terms, softplus (computed as -expm1(-f)) relatively
        if name == "softplus":
            np.testing.assert_allclose(got, want, rtol=1e-12)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("act", ACTIVATION_NAMES)
def test_activation_derivatives(act):
    a = bp.ACTIVATIONS[act]
    u = np.linspace(-4, 4, 41) + 0.013  # avoid relu's kink at 0
    np.testing.assert_allclose(a(u), F[act](u), rtol=1e-14, atol=1e-15)
    h = 1e-6
    fd = (a(u + h) - a(u - h)) / (2 * h)
    np.testing.assert_allclose(a.derivative(u), fd, rtol=1e-7, atol=1e-9)


def test_random_follows_murray_2019_and_is_seeded():
    net = bp.LeakyRNN.random(3, 400, 2, tau=10.0, g=1.5, seed=1)
    p = net.params
    assert np.std(p["W_rec"]) * np.sqrt(400) == pytest.approx(1.5, rel=0.01)
    assert np.abs(p["W_out"]).max() <= 0.1 / np.sqrt(400)
    assert np.abs(p["W_in"]).max() <= 1 / np.sqrt(3)
    assert net.alpha == 0.1 and net.tau == 10.0
    again = bp.LeakyRNN.random(3, 400, 2, tau=10.0, g=1.5, seed=1)
    other = bp.LeakyRNN.random(3, 400, 2, tau=10.0, g=1.5, seed=2)
    for k in p:
        np.testing.assert_array_equal(p[k], again.params[k])
    assert not np.array_equal(p["W_rec"], other.params["W_rec"])
    # no global random state is touched
    np.random.seed(0)
    before = np.random.random()
    np.random.seed(0)
    bp.LeakyRNN.random(3, 10, 2, tau=10.0, seed=5)
    assert np.random.random() == before


def test_the_other_initialisations_follow_their_papers():
    """Murray 2019's Methods (W_out ten times the notebook's) and Marschall et al.'s code
    (orthogonal W_rec); Dale's law as ξ_j |W_ij| (Murray's Methods) keeps |W_rec|."""
    m = bp.LeakyRNN.random(3, 400, 2, tau=10.0, init="murray_methods", seed=1).params
    code = bp.LeakyRNN.random(3, 400, 2, tau=10.0, init="murray", seed=1).params
    np.testing.assert_array_equal(m["W_rec"], code["W_rec"])
    np.testing.assert_allclose(m["W_out"], 10 * code["W_out"], rtol=1e-15)
    np.testing.assert_allclose(m["W_in"], np.sqrt(3) * code["W_in"], rtol=1e-15)
    o = bp.LeakyRNN.random(3, 64, 2, tau=2.0, g=1.0, init="marschall", seed=1).params
    np.testing.assert_allclose(o["W_rec"] @ o["W_rec"].T, np.eye(64), atol=1e-12)
    big = bp.LeakyRNN.random(4, 2000, 2, tau=2.0, init="marschall", seed=1).params
    assert np.std(big["W_out"]) * np.sqrt(2000) == pytest.approx(1.0, rel=0.03)
    assert np.std(big["W_in"]) * 2 == pytest.approx(1.0, rel=0.03)
    kw = dict(tau=10.0, init="murray_methods", seed=3)
    plain = bp.LeakyRNN.random(0, 30, 1, **kw)
    dale = bp.LeakyRNN.random(0, 30, 1, exc_fraction=0.5, **kw)
    np.testing.assert_array_equal(np.abs(dale.params["W_rec"]), np.abs(plain.params["W_rec"]))
    assert np.all(dale.params["W_rec"][:, :15] >= 0) and np.all(dale.params["W_rec"][:, 15:] <= 0)
    with pytest.raises(ValueError, match=r"init must be one of \['murray', 'murray_methods'"):
        bp.LeakyRNN.random(1, 3, 1, tau=2.0, init="xavier")


def test_tau_and_alpha_are_interchangeable_and_per_unit():
    W = bp.LeakyRNN.random(1, 3, 1, tau=2.0).params
    a = bp.LeakyRNN(W["W_in"], W["W_rec"], W["W_out"], tau=np.array([1.0, 2.0, 4.0]), dt=0.5)
    b = bp.LeakyRNN(W["W_in"], W["W_rec"], W["W_out"], alpha=[0.5, 0.25, 0.125])
    np.testing.assert_array_equal(a.alpha, b.alpha)
    x = np.random.default_rng(0).standard_normal((2, 5, 1))
    np.testing.assert_array_equal(a.run(x).states, b.run(x).states)


@pytest.mark.parametrize("form", FORMS)
def test_float32_when_asked(form):
    net64 = bp.LeakyRNN.random(2, 8, 2, tau=np.linspace(2, 10, 8), form=form, seed=3)
    net32 = net64.astype(np.float32)
    assert net32.dtype == np.float32 and net64.dtype == np.float64
    assert all(v.dtype == np.float32 for v in net32.params.values())
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 30, 2)), rng.standard_normal((4, 30, 2))
    states, outputs = net32.run(x)
    assert states.dtype == np.float32 and outputs.dtype == np.float32
    assert net32.alpha.dtype == np.float32  # α too, so nothing is promoted to float64
    trace = net32.forward(x.astype(np.float32), np.zeros((4, 8), np.float32), derivatives=True)
    for a in (trace.states, trace.rates, trace.outputs, trace.gain):
        assert a.dtype == np.float32
    for rule in ("bptt", "rtrl"):
        g32, g64 = bp.gradient(net32, x, y, rule=rule), bp.gradient(net64, x, y, rule=rule)
        for k in g64:
            assert g32[k].dtype == np.float32
            np.testing.assert_allclose(g32[k], g64[k], rtol=2e-3, atol=2e-5 * np.abs(g64[k]).max())
    # float32 keeps α exact in float64 for the round trip back
    np.testing.assert_array_equal(net32.astype(np.float64).alpha, net64.alpha)


def test_params_are_read_only_copies():
    W = np.eye(3) * 0.5
    net = bp.LeakyRNN(np.ones((3, 1)), W, np.ones((1, 3)), alpha=0.5)
    W[0, 0] = 9.0  # the caller's array is not shared
    assert net.params["W_rec"][0, 0] == 0.5
    with pytest.raises(ValueError, match="read-only"):
        net.params["W_rec"][0, 0] = 1.0
    assert set(net.params) == set(bp.PARAM_NAMES)
    np.testing.assert_array_equal(net.params["b"], np.zeros(3))


def test_with_params_replaces_and_validates():
    net = bp.LeakyRNN.random(1, 3, 1, tau=2.0)
    new = net.with_params({"b": np.ones(3)})
    np.testing.assert_array_equal(new.params["b"], np.ones(3))
    np.testing.assert_array_equal(new.params["W_rec"], net.params["W_rec"])
    assert new.alpha == net.alpha and new.form == net.form
    with pytest.raises(ValueError, match="W_rc"):
        net.with_params({"W_rc": np.eye(3)})
    with pytest.raises(ValueError, match=r"b must keep its shape \(3,\)"):
        net.with_params({"b": np.ones(4)})


# --------------------------------------------------------------------------- structure
def masked_net(rng, form="rate"):
    n = 6
    masks = {
        "W_rec": rng.random((n, n)) < 0.5,
        "W_in": rng.random((n, 2)) < 0.5,
        "W_out": rng.random((2, n)) < 0.7,
    }
    W_in = rng.standard_normal((n, 2)) * masks["W_in"]
    W_rec = 1.5 * rng.standard_normal((n, n)) / np.sqrt(n) * masks["W_rec"]
    W_out = rng.standard_normal((2, n)) * masks["W_out"]
    return bp.LeakyRNN(W_in, W_rec, W_out, alpha=0.3, form=form, connectivity=masks), masks


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("rule,options", [("bptt", {}), ("rtrl", {}), ("tbptt", {"truncation": 3})])
def test_masked_weights_get_exactly_zero_gradient(form, rule, options):
    rng = np.random.default_rng(1)
    net, masks = masked_net(rng, form)
    x, y = rng.standard_normal((3, 12, 2)), rng.standard_normal((3, 12, 2))
    g = bp.gradient(net, x, y, rule=rule, **options)
    dense = bp.LeakyRNN(**net.params, alpha=0.3, form=form)
    g_dense = bp.gradient(dense, x, y, rule=rule, **options)
    for k, m in masks.items():
        assert np.all(g[k][~m] == 0.0)
        if rule == "rtrl":  # a masked network's influence is structured: another sum order
            np.testing.assert_allclose(g[k][m], g_dense[k][m], rtol=1e-12, atol=1e-14)
        else:
            np.testing.assert_array_equal(g[k][m], g_dense[k][m])
        assert np.count_nonzero(g_dense[k][~m]) > 0  # the mask did something


def test_masked_weights_must_start_at_zero():
    rng = np.random.default_rng(0)
    net, masks = masked_net(rng)
    p = net.params
    W_rec = p["W_rec"] + 0.1
    with pytest.raises(ValueError, match=r"W_rec has \d+ nonzero weight\(s\) where connectivity"):
        bp.LeakyRNN(p["W_in"], W_rec, p["W_out"], alpha=0.3, connectivity=masks)


def test_constrain_projects_onto_masks_and_dale():
    net = bp.LeakyRNN.random(1, 10, 1, tau=5.0, exc_fraction=0.8, seed=4)
    d = net.dale
    assert d is not None and (d > 0).sum() == 8
    W = net.params["W_rec"]
    assert np.all(W[:, :8] >= 0) and np.all(W[:, 8:] <= 0)
    assert np.max(np.abs(np.linalg.eigvals(W))) == pytest.approx(1.5)
    stepped = {"W_rec": W - 0.05}  # a gradient step that flips some excitatory weights
    with pytest.raises(ValueError, match="Dale's law"):
        net.with_params(stepped)
    fixed = net.constrain(stepped)
    assert np.all(fixed["W_rec"][:, :8] >= 0) and np.all(fixed["W_rec"][:, 8:] <= 0)
    flipped = (W - 0.05) * d < 0
    assert flipped.any() and np.all(fixed["W_rec"][flipped] == 0)
    np.testing.assert_array_equal(fixed["W_rec"][~flipped], (W - 0.05)[~flipped])
    net.with_params(fixed)  # accepted
    assert net.constrain(fixed)["W_rec"].tolist() == fixed["W_rec"].tolist()  # idempotent

    rng = np.random.default_rng(0)
    mnet, masks = masked_net(rng)
    ones = {k: np.ones_like(v) for k, v in mnet.params.items()}
    out = mnet.constrain(ones)
    for k, m in masks.items():
        np.testing.assert_array_equal(out[k], m.astype(float))
    np.testing.assert_array_equal(out["b"], np.ones(6))


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("plastic", [("W_rec",), ("W_in", "b_out"), ("W_out", "b"), ()])
def test_frozen_parameters_get_zero_gradient_and_the_rest_stay_exact(form, plastic):
    rng = np.random.default_rng(2)
    full = bp.LeakyRNN.random(2, 5, 2, tau=4.0, form=form, seed=1)
    part = bp.LeakyRNN(**full.params, alpha=full.alpha, form=form, plastic=plastic)
    assert part.plastic == frozenset(plastic)
    x, y = rng.standard_normal((2, 10, 2)), rng.standard_normal((2, 10, 2))
    g_full = bp.gradient(full, x, y, rule="bptt")
    for rule in ("bptt", "rtrl"):
        g = bp.gradient(part, x, y, rule=rule)
        assert set(g) == set(bp.PARAM_NAMES)
        for k in bp.PARAM_NAMES:
            if k in plastic:
                np.testing.assert_allclose(g[k], g_full[k], rtol=1e-12, atol=1e-15)
            else:
                assert g[k].shape == full.params[k].shape and not g[k].any()


def test_repr_names_the_structure():
    net = bp.LeakyRNN.random(1, 10, 1, tau=5.0, exc_fraction=0.5, seed=0)
    r = repr(bp.LeakyRNN(**net.params, alpha=0.2, dale=net.dale, plastic=["W_rec"]))
    assert "n_rec=10" in r and "5 E / 5 I" in r and "plastic=['W_rec']" in r


@pytest.mark.parametrize("form,activation", list(itertools.product(FORMS, ACTIVATION_NAMES)))
def test_step_by_step_equals_forward(form, activation):
    rng = np.random.default_rng(4)
    p = make_problem(
        rng,
        form=form,
        activation=activation,
        alpha="per-unit",
        B=3,
        T=7,
        n=5,
        n_in=2,
        n_out=2,
        masked=False,
        with_h0=True,
    )
    net = p.net
    trace = net.forward(p.x, p.h0, derivatives=True)
    s = p.h0
    for t in range(7):
        out = net.step(s, p.x[:, t])
        np.testing.assert_allclose(out.state, trace.states[t + 1], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(out.rate, trace.rates[t + 1], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(out.rate_prev, trace.rates[t], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(out.gain, trace.gain[t], rtol=1e-13, atol=1e-15)
        if form == "current":
            np.testing.assert_allclose(out.slope_prev, trace.slope[t], rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(out.slope, trace.slope[t + 1], rtol=1e-13, atol=1e-15)
        else:
            assert out.slope is None and out.slope_prev is None
        s = out.state
