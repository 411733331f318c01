"""DNI (Jaderberg et al. 2017; Marschall et al. 2020): the synthetic-credit rule.

The references here are written from the equations, one trial and one step at a time, with
the network simulated by ``helpers.reference_run`` and the Jacobians formed as dense matrices:
nothing below calls the library's gradient code except the function under test.
"""

import numpy as np
import pytest
from helpers import FORMS, F, faces, reference_run, rel_err, small_problem

import bioplastic as bp
from bioplastic.gradient import rule_streams
from bioplastic.objective import output_error, prepare
from bioplastic.rules import RULES, make_rule, run_online
from bioplastic.rules.base import direct_credit, steps
from bioplastic.rules.dni import DNI, credit_estimate, step_estimate
from bioplastic.rules.feedback import feedback_matrix

FPRIME = {
    "tanh": lambda u: 1.0 - np.tanh(u) ** 2,
    "linear": lambda u: np.ones_like(u),
}


problem = small_problem


def reference_pieces(net, x, target, mask=None, h0=None):
    """From the model equations: states ``(trial, time+1, unit)`` with s_0, rates ρ(s),
    gains α φ'(u_t), slopes ρ'(s_t) (t = 0..T), and the error e_t = m (y − y*) / N."""
    states, y, args = reference_run(net, x, h0)
    Bn, T, n = states.shape
    s0 = np.zeros((Bn, 1, n)) if h0 is None else np.asarray(h0, float)[:, None, :]
    s = np.concatenate([s0, states], axis=1)
    alpha = np.broadcast_to(np.asarray(net.alpha, float), (n,))
    fp = FPRIME[net.activation.name]
    if net.form == "rate":
        gain, slope, rate = alpha * fp(args), np.ones_like(s), s
    else:
        gain, slope, rate = np.broadcast_to(alpha, args.shape), fp(s), F[net.activation.name](s)
    m = 1.0 if mask is None else mask
    e = m * (y - target) / Bn
    return s, rate, gain, slope, e


def jacobian(net, gain_t, slope_prev):
    """D_t = diag(1-α) + diag(gain_t) W_rec diag(slope_{t-1}) for one trial."""
    alpha = np.broadcast_to(np.asarray(net.alpha, float), (net.n_rec,))
    return np.diag(1 - alpha) + gain_t[:, None] * net.params["W_rec"] * slope_prev[None, :]


def exact_credit(net, x, target, mask, h0, feedback=None):
    """BPTT's credit c_t = q_t + D_{t+1}ᵀ c_{t+1}, c_T = q_T, by dense matrices, time-major
    ``(time, trial, unit)``; also q_t."""
    s, rate, gain, slope, e = reference_pieces(net, x, target, mask, h0)
    Fb = net.params["W_out"].T if feedback is None else feedback
    Bn, T, _ = e.shape
    q = np.einsum("ik,btk->bti", Fb, e) * slope[:, 1:]
    c = np.zeros_like(q)
    for b in range(Bn):
        c[b, T - 1] = q[b, T - 1]
        for t in range(T - 2, -1, -1):
            D = jacobian(net, gain[b, t + 1], slope[b, t + 1])
            c[b, t] = q[b, t] + D.T @ c[b, t + 1]
    return c.transpose(1, 0, 2), q.transpose(1, 0, 2)


def simulate(net, p):
    batch = prepare(net, p.x, p.target, p.mask, p.h0)
    trace = net.forward(batch.x, batch.h0, derivatives=True)
    return trace, output_error(trace, batch)


# ------------------------------------------------------------------ a perfect synthetic credit
@pytest.mark.parametrize("form", FORMS)
def test_the_exact_credit_injected_gives_bptt(form):
    """sg_t = c_t (BPTT's credit, computed here by dense Jacobians) through the functions the
    rule uses, per-trial and per-step: BPTT to 1e-10.  Only the present error (sg_t = q_t,
    no synthetic future) is far from it."""
    p = problem(form)
    exact = bp.gradient(p.net, p.x, p.target, p.mask, rule="bptt", h0=p.h0)
    c, q = exact_credit(p.net, p.x, p.target, p.mask, p.h0)
    trace, e = simulate(p.net, p)
    readout = {k: exact[k] for k in ("W_out", "b_out")}
    per_trial = {**credit_estimate(p.net, trace, c), **readout}
    assert rel_err(per_trial, exact) <= 1e-10
    Bfb = p.net.params["W_out"].T.copy()
    theta = sum(
        step_estimate(st, c[t])
        for t, st in enumerate(steps(p.net, trace, e, direct_credit(p.net, trace, e, Bfb)))
    )
    n = p.net.n_rec
    online = {"W_rec": theta[:, :n], "W_in": theta[:, n : n + 2], "b": theta[:, -1], **readout}
    assert rel_err(online, exact) <= 1e-10
    assert rel_err({**credit_estimate(p.net, trace, q), **readout}, exact) > 1e-2


@pytest.mark.parametrize("form", FORMS)
def test_the_oracle_is_the_future_loss_derivative(form):
    """c_t − q_t = ∂L_{>t}/∂s_t: central differences of the loss of steps t+1..T, simulated
    from a perturbed s_t by the reference loop."""
    p = problem(form, B=2, T=5, n=3)
    net = p.net
    c, q = exact_credit(net, p.x, p.target, p.mask, p.h0)
    s = reference_pieces(net, p.x, p.target, p.mask, p.h0)[0]
    Bn, T = p.x.shape[:2]
    h = 1e-6

    def future_loss(t, s_t):  # per trial, steps t+1..T (array indices t..T-1)
        _, y, _ = reference_run(net, p.x[:, t:], s_t)
        return 0.5 * np.sum(p.mask[:, t:] * (y - p.target[:, t:]) ** 2, axis=(1, 2)) / Bn

    fd = np.zeros_like(c)
    for t in range(1, T):  # s_t, t = 1..T-1 (the future of s_T is empty)
        for i in range(net.n_rec):
            up, dn = s[:, t].copy(), s[:, t].copy()
            up[:, i] += h
            dn[:, i] -= h
            fd[t - 1, :, i] = (future_loss(t, up) - future_loss(t, dn)) / (2 * h)
    future = c - q
    assert np.abs(future[-1]).max() == 0.0
    scale = np.abs(future).max()
    assert scale > 1e-3
    np.testing.assert_allclose(fd, future, atol=1e-7 * scale, rtol=1e-6)


# ------------------------------------------------------------------ the bootstrapped update of A
def plain_dni(net, x, target, A0, lr, interval, l2):
    """Marschall et al.'s equations per trial and step: sg = A ã, target
    c* = N q_{t-1} + D_tᵀ (A' ã_t), A −= lr (mean_trials (A ã_{t-1} − c*) ã_{t-1}ᵀ + l2 A),
    A' = A every ``interval`` updates; estimate Σ_t (gain ⊙ sg / N) â_tᵀ."""
    s, rate, gain, slope, e = reference_pieces(net, x, target)
    Bn, T, _ = e.shape
    n = net.n_rec
    Wt = net.params["W_out"].T
    A, A_lag, count = A0.copy(), A0.copy(), 0
    est = np.zeros((n, n + net.n_in + 1))
    for t in range(T):
        feats = [np.concatenate([rate[b, t + 1], Bn * e[b, t], [1.0]]) for b in range(Bn)]
        if t > 0:
            grad = np.zeros_like(A)
            for b in range(Bn):
                prev = np.concatenate([rate[b, t], Bn * e[b, t - 1], [1.0]])
                q_prev = Bn * slope[b, t] * (Wt @ e[b, t - 1])
                D = jacobian(net, gain[b, t], slope[b, t])
                target_b = q_prev + D.T @ (A_lag @ feats[b])
                grad += np.outer(A @ prev - target_b, prev)
            A = A - lr * (grad / Bn + l2 * A)
            count += 1
            if count == interval:
                A_lag, count = A.copy(), 0
        for b in range(Bn):
            sg = A @ feats[b] / Bn
            pre = np.concatenate([rate[b, t], x[b, t], [1.0]])
            est += np.outer(gain[b, t] * sg, pre)
    return A, est


@pytest.mark.parametrize("form", FORMS)
def test_updates_of_A_follow_marschalls_equations(form):
    rng = np.random.default_rng(4)
    n, n_in, n_out, Bn, T = 3, 1, 2, 2, 8
    net = bp.LeakyRNN(
        rng.standard_normal((n, n_in)),
        rng.standard_normal((n, n)),
        rng.standard_normal((n_out, n)),
        0.3 * rng.standard_normal(n),
        0.2 * rng.standard_normal(n_out),
        alpha=[0.2, 0.5, 0.9],
        form=form,
    )
    x, y = rng.standard_normal((Bn, T, n_in)), rng.standard_normal((Bn, T, n_out))
    opts = {"learning_rate": 0.3, "fix_interval": 3, "l2": 0.05}
    # the initial A: N(0, 1/m_out) from the rule's generator (Marschall's init)
    A0 = rule_streams(7)[1].standard_normal((n, n + n_out + 1)) / np.sqrt(n + n_out + 1)
    A_ref, est_ref = plain_dni(net, x, y, A0, 0.3, 3, 0.05)
    g = bp.gradient(net, x, y, rule="dni", seed=7, **opts)
    np.testing.assert_allclose(g["W_rec"], est_ref[:, :n], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g["W_in"], est_ref[:, n:-1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g["b"], est_ref[:, -1], rtol=1e-12, atol=1e-14)
    # the online state's A after the trial
    r = DNI(**opts)
    batch = prepare(net, x, y)
    trace = net.forward(batch.x, batch.h0, derivatives=True)
    e = output_error(trace, batch)
    state = r.init(net, Bn, rule_streams(7)[1])
    np.testing.assert_allclose(state.A, A0, rtol=1e-15)
    for st in steps(net, trace, e, direct_credit(net, trace, e, net.params["W_out"].T)):
        state = r.step(state, net, st)
    np.testing.assert_allclose(state.A, A_ref, rtol=1e-12, atol=1e-14)
    assert not np.allclose(A_ref, A0)


def test_A_learns_the_linear_credit_map():
    """A linear network driven by white noise, target 0, a continuing stream: the credit's
    conditional mean is E[c_t | s_t] = P s_t with P = Σ_k (D^k)ᵀ W_outᵀ W_out D^k (the discrete
    Lyapunov equation P = Dᵀ P D + W_outᵀ W_out), the fixed point of the bootstrapping.  From
    A = 0, the synthetic credit's map (A_s + A_e W_out, as ē = W_out s here), averaged over the
    second half of 4000 steps (to average out the constant-rate noise), is within 3% of P, with
    no bias term; the map at the start is 100% off."""
    from scipy.linalg import solve_discrete_lyapunov

    rng = np.random.default_rng(0)
    n, Bn, T = 3, 64, 4000
    W = rng.standard_normal((n, n))
    W *= 0.7 / np.max(np.abs(np.linalg.eigvals(W)))
    net = bp.LeakyRNN(
        rng.standard_normal((n, 2)),
        W,
        rng.standard_normal((1, n)),
        alpha=[0.4, 0.6, 0.8],
        activation="linear",
    )
    D = np.diag(1 - np.asarray(net.alpha)) + np.asarray(net.alpha)[:, None] * W
    Wo = net.params["W_out"]
    P = solve_discrete_lyapunov(D.T, Wo.T @ Wo)
    x = rng.standard_normal((Bn, T, 2))
    batch = prepare(net, x, np.zeros((Bn, T, 1)))
    trace = net.forward(batch.x, batch.h0, derivatives=True)
    e = output_error(trace, batch)
    r = DNI(learning_rate=0.05, init_std=0.0)
    state = r.init(net, Bn, np.random.default_rng(0))

    def mismatch(A):
        return np.linalg.norm(A[:, :n] + A[:, n : n + 1] @ Wo - P) / np.linalg.norm(P)

    assert mismatch(state.A) == 1.0
    mean_A = np.zeros_like(state.A)
    for t, st in enumerate(steps(net, trace, e, direct_credit(net, trace, e, Wo.T))):
        state = r.step(state, net, st)
        if t >= T // 2:
            mean_A += state.A / (T - T // 2)
    assert mismatch(mean_A) < 0.03
    assert np.abs(mean_A[:, -1]).max() < 0.01 * np.abs(P).max()  # no bias


# ------------------------------------------------------------------ faces, state, seeds, options
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    "opts", [{}, {"fix_interval": 1, "l2": 0.1, "learning_rate": 0.2}, {"init_std": 0.0}]
)
def test_per_trial_face_equals_the_online_face(form, opts):
    p = problem(form, seed=3)
    batch = prepare(p.net, p.x, p.target, p.mask, p.h0)
    B = feedback_matrix(p.net, "random", np.random.default_rng(1))
    per_trial, online = faces(make_rule("dni", opts), p.net, batch, B, seed=2)
    assert rel_err(per_trial, online) <= 1e-12


def test_only_the_sums_reset_between_online_updates():
    """Two chunks with the sums zeroed in between (what the training loop does): A, A' and the
    carried ã_{t-1}, N q_{t-1} go on, so A ends as after one run through both chunks and the
    two reads add up to the one read."""
    p = problem("current", masked=False)
    trace, e = simulate(p.net, p)
    Bfb = p.net.params["W_out"].T.copy()
    all_steps = list(steps(p.net, trace, e, direct_credit(p.net, trace, e, Bfb)))
    r = DNI(learning_rate=0.2, fix_interval=2)
    whole = r.init(p.net, 3, np.random.default_rng(5))
    for st in all_steps:
        whole = r.step(whole, p.net, st)
    state = r.init(p.net, 3, np.random.default_rng(5))
    for st in all_steps[:5]:
        state = r.step(state, p.net, st)
    first = r.read(state, p.net)
    for a in (state.sums.theta, state.sums.W_out, state.sums.b_out):
        a.fill(0.0)
    for st in all_steps[5:]:
        state = r.step(state, p.net, st)
    second = r.read(state, p.net)
    np.testing.assert_allclose(state.A, whole.A, rtol=1e-13)
    np.testing.assert_allclose(state.A_target, whole.A_target, rtol=1e-13)
    total = {k: first[k] + second[k] for k in first}
    assert rel_err(total, r.read(whole, p.net)) <= 1e-12


def test_same_seed_same_numbers():
    p = problem("rate")

    def g(seed):
        return bp.gradient(p.net, p.x, p.target, p.mask, rule="dni", h0=p.h0, seed=seed)

    a, b, c = g(4), g(4), g(5)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["W_rec"], c["W_rec"])


def test_float32_stays_float32():
    p = problem("current")
    net = bp.LeakyRNN(**{k: v for k, v in p.net.params.items()}, alpha=0.3, dtype=np.float32)
    g = bp.gradient(net, p.x, p.target, rule="dni", feedback="random")
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in g.values())
    state = RULES["dni"]().init(net, 3, np.random.default_rng(0))
    assert state.A.dtype == np.float32
    trace, e = simulate(net, p)
    online = run_online(
        RULES["dni"](), net, trace, e, net.params["W_out"].T, np.random.default_rng(0)
    )
    assert online["W_rec"].dtype == np.float32


@pytest.mark.parametrize(
    "opts, pattern",
    [
        ({"learning_rate": -0.1}, r"learning_rate must be a finite number >= 0; got -0.1"),
        ({"learning_rate": np.nan}, r"learning_rate must be a finite number >= 0"),
        ({"learning_rate": "fast"}, r"learning_rate must be a finite number >= 0; got 'fast'"),
        ({"fix_interval": 0}, r"fix_interval must be an int >= 1; got 0"),
        ({"fix_interval": 2.0}, r"fix_interval must be an int >= 1; got 2.0"),
        ({"fix_interval": True}, r"fix_interval must be an int >= 1; got True"),
        ({"l2": -1}, r"l2 must be a finite number >= 0; got -1"),
        ({"init_std": -1.0}, r"init_std must be a finite number >= 0; got -1.0"),
    ],
)
def test_bad_options_raise(opts, pattern):
    p = problem("rate")
    with pytest.raises(ValueError, match=pattern):
        bp.gradient(p.net, p.x, p.target, rule="dni", **opts)


def test_unknown_option_lists_the_accepted_ones():
    with pytest.raises(TypeError, match=r"learning_rate.*fix_interval.*l2.*init_std.*'eta'"):
        make_rule("dni", {"eta": 0.1})
