"""KeRNL (Roth, Kanitscheider & Fiete 2019): exact limits, and β, γ learned as the public
implementations of its Algorithm 1 (Marschall et al.'s, Hosseini's) do; the paper's own text
was not available.

The references here re-simulate the network from its equations and write KeRNL's updates
synapse by synapse; nothing calls bioplastic's gradient code except the rule under test and the
exact RTRL it is compared with.
"""

import numpy as np
import pytest
from helpers import FORMS, rel_err, small_problem

import bioplastic as bp
from bioplastic.objective import output_error, prepare
from bioplastic.rules import make_rule
from bioplastic.rules.base import direct_credit, steps
from bioplastic.training.updates import _reset_sums

F = {"tanh": (np.tanh, lambda u: 1.0 - np.tanh(u) ** 2)}


problem = small_problem


def grads(p, rule, net=None, **kw):
    return bp.gradient(net or p.net, p.x, p.target, p.mask, rule=rule, h0=p.h0, **kw)


def stepped(rule, net, x, target, h0=None, seed=0, B=None):
    """Step the online face through a batch; yield the state after each step."""
    batch = prepare(net, x, target, None, h0)
    trace = net.forward(batch.x, batch.h0, derivatives=True)
    e = output_error(trace, batch)
    W_outT = net.params["W_out"].T.copy()
    state = rule.init(net, x.shape[0], np.random.default_rng(seed))
    for st in steps(net, trace, e, direct_credit(net, trace, e, W_outT)):
        state = rule.step(state, net, st)
        yield state


# ------------------------------------------------------------------ limits where KeRNL is exact
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("alpha", ["per-unit", "one"])
@pytest.mark.parametrize("rates", [(0.0, 0.0), (0.1, 0.001), (2.0, 1.0)])
def test_exact_without_recurrence(form, alpha, rates):
    """W_rec = 0: D_t = diag(1-α), so RTRL's influence is δ_ki P_ij(t) with the leak trace P.
    β = I and e^{-γ} = 1-α make β e exactly that; the copy then obeys d_t = (1-α) d_{t-1} + ξ_t
    = Ω_t, so δ_t = 0 and β, γ stay put even with learning switched on."""
    p = problem(form, alpha=alpha)
    net = p.net.with_params({"W_rec": np.zeros((5, 5))})
    opts = {"beta_rate": rates[0], "gamma_rate": rates[1], "noise_std": 0.3}
    assert rel_err(grads(p, "kernl", net, **opts), grads(p, "rtrl", net)) <= 1e-10
    if alpha == "per-unit":  # and not exact once the network is recurrent
        assert rel_err(grads(p, "kernl", **opts), grads(p, "rtrl")) > 1e-3


@pytest.mark.parametrize("form", FORMS)
def test_frozen_kernl_is_rflo_with_the_same_feedback(form):
    """β = I, e^{-γ} = 1-α, learning rates 0: RFLO's trace and learning signal, for any W_rec
    and any feedback (Marschall et al.'s reduction of KeRNL to RFLO)."""
    p = problem(form)
    B = np.random.default_rng(4).standard_normal((5, 2))
    frozen = grads(p, "kernl", feedback=B, beta_rate=0, gamma_rate=0)
    assert rel_err(frozen, grads(p, "rflo", feedback=B)) <= 1e-12


# ------------------------------------------------------------------ the β, γ updates, step by step
def kernl_loop(net, x, y, h0, xi, eta_b, eta_g):
    """KeRNL written out per unit and per synapse, for a batch of trials with shared β, γ.

    The network is re-simulated from its equations (both forms).  The perturbed copy's
    deviation is propagated by the Jacobian ∂s_t/∂s_{t-1}, built entry by entry; ``xi`` holds
    the injected noise ``(time, trial, unit)``.  Returns β and γ after each step, and the
    summed estimate of ∂L/∂[W_rec | W_in | b].
    """
    f, df = F["tanh"]
    p = net.params
    a = np.broadcast_to(np.asarray(net.alpha, float), (net.n_rec,))
    Bn, T, _ = x.shape
    n, n_in = net.n_rec, net.n_in
    m = n + n_in + 1
    beta, gamma = np.eye(n), -np.log(1 - a)
    s = h0.copy()
    e = np.zeros((Bn, n, m))
    d, om, Gm = np.zeros((Bn, n)), np.zeros((Bn, n)), np.zeros((Bn, n))
    grad = np.zeros((n, m))
    history = []
    for t in range(T):
        k = np.exp(-gamma)
        gb, gg = np.zeros((n, n)), np.zeros(n)
        new_beta_terms = []
        for b in range(Bn):
            rho_prev = s[b] if net.form == "rate" else f(s[b])
            drho_prev = np.ones(n) if net.form == "rate" else df(s[b])
            u = p["W_rec"] @ rho_prev + p["W_in"] @ x[b, t] + p["b"]
            if net.form == "rate":
                s_new, gain = (1 - a) * s[b] + a * f(u), a * df(u)
            else:
                s_new, gain = (1 - a) * s[b] + a * u, a
            ahat = np.concatenate([rho_prev, x[b, t], [1.0]])
            D = np.zeros((n, n))
            for i in range(n):
                for j in range(n):
                    D[i, j] = gain[i] * p["W_rec"][i, j] * drho_prev[j] + (i == j) * (1 - a[i])
            for i in range(n):
                for j in range(m):
                    e[b, i, j] = k[i] * e[b, i, j] + gain[i] * ahat[j]
            d[b] = D @ d[b] + xi[t, b]
            for i in range(n):
                Gm[b, i] = k[i] * (Gm[b, i] - om[b, i])
                om[b, i] = k[i] * om[b, i] + xi[t, b, i]
            delta = beta @ om[b] - d[b]
            for kk in range(n):
                for i in range(n):
                    gb[kk, i] += delta[kk] * om[b, i] / Bn
            for i in range(n):
                gg[i] += sum(delta[kk] * beta[kk, i] for kk in range(n)) * Gm[b, i] / Bn
            r = s_new if net.form == "rate" else f(s_new)
            err = (p["W_out"] @ r + p["b_out"] - y[b, t]) / Bn  # ∂L/∂y, L averages trials
            q = p["W_out"].T @ err * (1.0 if net.form == "rate" else df(s_new))
            new_beta_terms.append((q, b))
            s[b] = s_new
        beta, gamma = beta - eta_b * gb, gamma - eta_g * gg
        for q, b in new_beta_terms:  # the estimate uses the updated β
            for i in range(n):
                signal = sum(q[kk] * beta[kk, i] for kk in range(n))
                grad[i] += signal * e[b, i]
        history.append((beta.copy(), gamma.copy()))
    return history, grad


@pytest.mark.parametrize("form", FORMS)
def test_beta_and_gamma_follow_the_implementations_equations_step_by_step(form):
    rng = np.random.default_rng(7)
    n, n_in, n_out, T, Bn = 3, 2, 2, 10, 2
    net = bp.LeakyRNN(
        rng.standard_normal((n, n_in)),
        1.2 * rng.standard_normal((n, n)),
        rng.standard_normal((n_out, n)),
        0.3 * rng.standard_normal(n),
        0.2 * rng.standard_normal(n_out),
        alpha=[0.2, 0.5, 0.8],
        form=form,
    )
    x, y = rng.standard_normal((Bn, T, n_in)), rng.standard_normal((Bn, T, n_out))
    h0 = 0.5 * rng.standard_normal((Bn, n))
    sigma, eta_b, eta_g = 0.3, 0.7, 0.4
    rule = make_rule("kernl", {"beta_rate": eta_b, "gamma_rate": eta_g, "noise_std": sigma})
    xi = sigma * np.random.default_rng(3).standard_normal((T, Bn, n))  # the rule's draws
    history, grad = kernl_loop(net, x, y, h0, xi, eta_b, eta_g)
    states = stepped(rule, net, x, y, h0, seed=3)
    for t, (state, (beta, gamma)) in enumerate(zip(states, history, strict=True)):
        np.testing.assert_allclose(state.beta, beta, rtol=1e-12, atol=1e-14, err_msg=f"t={t}")
        np.testing.assert_allclose(state.gamma, gamma, rtol=1e-12, atol=1e-14, err_msg=f"t={t}")
    g = rule.read(state, net)
    got = np.concatenate([g["W_rec"], g["W_in"], g["b"][:, None]], axis=1)
    np.testing.assert_allclose(got, grad, rtol=1e-12, atol=1e-14)
    # the learner did learn: β and γ moved well away from their start
    assert np.abs(beta - np.eye(n)).max() > 1e-2
    assert np.abs(gamma + np.log(1 - np.array([0.2, 0.5, 0.8]))).max() > 1e-2


@pytest.mark.parametrize("form", FORMS)
def test_the_copy_is_a_noisy_network_to_first_order(form):
    """The copy's deviation d_t equals s̃_t - s_t of a network run with the same weights and
    inputs and the noise added to its state each step, up to O(σ²)."""
    rng = np.random.default_rng(5)
    n, T = 4, 12
    net = bp.LeakyRNN(
        rng.standard_normal((n, 2)),
        1.5 * rng.standard_normal((n, n)) / np.sqrt(n),
        rng.standard_normal((1, n)),
        0.3 * rng.standard_normal(n),
        alpha=rng.uniform(0.1, 0.9, n),
        form=form,
    )
    x, y = rng.standard_normal((1, T, 2)), rng.standard_normal((1, T, 1))
    p, a = net.params, net.alpha

    def errors(sigma):
        rule = make_rule("kernl", {"noise_std": sigma})
        xi = sigma * np.random.default_rng(0).standard_normal((T, 1, n))
        s, s_noisy = np.zeros(n), np.zeros(n)
        worst, scale = 0.0, 0.0
        for t, state in enumerate(stepped(rule, net, x, y, seed=0)):
            new = []
            for v in (s, s_noisy):
                if form == "rate":
                    v = (1 - a) * v + a * np.tanh(p["W_rec"] @ v + p["W_in"] @ x[0, t] + p["b"])
                else:
                    v = (1 - a) * v + a * (p["W_rec"] @ np.tanh(v) + p["W_in"] @ x[0, t] + p["b"])
                new.append(v)
            s, s_noisy = new[0], new[1] + xi[t, 0]
            worst = max(worst, np.abs(s_noisy - s - state.shadow[0]).max())
            scale = max(scale, np.abs(state.shadow[0]).max())
        return worst, scale

    w1, s1 = errors(1e-4)
    w2, s2 = errors(5e-5)
    assert w1 <= 1e-3 * s1  # a relative O(σ) difference …
    assert 3.0 < w1 / w2 < 5.0  # … that is second order: halving σ quarters it


# ------------------------------------------------------------------ state, seeds, options
def test_beta_and_gamma_persist_when_the_loop_resets_the_sums():
    p = problem("rate", T=10, B=2)
    rule = make_rule("kernl", {"beta_rate": 0.5, "gamma_rate": 0.1, "noise_std": 0.2})
    whole = list(stepped(rule, p.net, p.x, p.target, p.h0, seed=1))[-1]
    full = rule.read(whole, p.net)
    parts = []
    for t, state in enumerate(stepped(rule, p.net, p.x, p.target, p.h0, seed=1)):
        if t in (4, 9):
            parts.append(rule.read(state, p.net))
            _reset_sums(state, p.net)
            assert not state.sums.theta.any()
    np.testing.assert_array_equal(state.beta, whole.beta)
    np.testing.assert_array_equal(state.gamma, whole.gamma)
    assert rel_err({k: parts[0][k] + parts[1][k] for k in full}, full) <= 1e-13
    assert np.abs(state.beta - np.eye(5)).max() > 1e-3  # β did learn


def test_same_seed_same_numbers():
    p = problem("current")
    a, b = grads(p, "kernl", seed=4), grads(p, "kernl", seed=4)
    c = grads(p, "kernl", seed=5)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["W_rec"], c["W_rec"])
    # a random β_0 comes from the same generator
    r1 = grads(p, "kernl", seed=4, beta0="random")
    r2 = grads(p, "kernl", seed=4, beta0="random")
    np.testing.assert_array_equal(r1["W_rec"], r2["W_rec"])
    assert not np.array_equal(r1["W_rec"], a["W_rec"])


def test_float32_follows_float64():
    p = problem("rate")
    g64 = grads(p, "kernl", seed=2)
    g32 = grads(p, "kernl", p.net.astype("float32"), seed=2)
    assert all(g.dtype == np.float32 for g in g32.values())
    assert rel_err({k: v.astype(float) for k, v in g32.items()}, g64) <= 1e-4


def test_gamma0_sets_the_kernel():
    p = problem("rate")
    state = make_rule("kernl", {"gamma0": 0.5}).init(p.net, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(state.gamma, np.full(5, 0.5))
    leak = make_rule("kernl", {}).init(p.net, 3, np.random.default_rng(0))
    np.testing.assert_allclose(np.exp(-leak.gamma), 1 - p.net.alpha, rtol=1e-15)


@pytest.mark.parametrize(
    "options,error",
    [
        ({"beta_rate": -0.1}, ValueError),
        ({"gamma_rate": float("nan")}, ValueError),
        ({"noise_std": float("inf")}, ValueError),
        ({"noise_std": "big"}, TypeError),
        ({"beta_rate": True}, TypeError),
        ({"beta0": "eye"}, ValueError),
        ({"gamma0": "tau"}, ValueError),
        ({"gamma0": -1.0}, ValueError),
        ({"gamma0": None}, TypeError),
        ({"sigma": 0.1}, TypeError),
    ],
)
def test_bad_options_raise_naming_what_is_accepted(options, error):
    name = next(iter(options))
    with pytest.raises(error, match=name):
        make_rule("kernl", options)
