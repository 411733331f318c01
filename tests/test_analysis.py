"""bioplastic.analysis: fixed points against closed forms, the similarity measures against
independent formulas, and the analysis of a saved run from the command line."""

import numpy as np
import pytest
from scipy.spatial import procrustes as scipy_procrustes

import bioplastic as bp
from bioplastic.analysis import (
    analyse,
    cca_distance,
    compare,
    find_fixed_points,
    jacobian,
    linear_cka,
    match_fixed_points,
    pca,
    procrustes_distance,
    project,
    spectrum,
    speed,
    step_map,
)
from bioplastic.analysis.dynamics import residual_and_gradient
from bioplastic.cli import main as cli_main
from bioplastic.optim import SGD
from bioplastic.tasks import PeriodicOutput

FORMS = ["rate", "current"]


def _net(W, form, alpha=0.3, n_in=1, activation="tanh", seed=0, b=None):
    rng = np.random.default_rng(seed)
    n = W.shape[0]
    return bp.LeakyRNN(
        rng.standard_normal((n, n_in)),
        W,
        np.eye(1, n),
        np.zeros(n) if b is None else b,
        alpha=alpha,
        form=form,
        activation=activation,
    )


# --- the map and its derivatives -----------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "relu", "linear"])
def test_jacobian_and_speed_gradient_match_finite_differences(form, activation):
    rng = np.random.default_rng(1)
    n = 5
    net = _net(
        rng.standard_normal((n, n)),
        form,
        alpha=rng.uniform(0.2, 0.9, n),
        n_in=2,
        activation=activation,
        b=rng.standard_normal(n),
    )
    x = rng.standard_normal(2)
    s = rng.standard_normal((3, n))
    J = jacobian(net, s, x)
    eps = 1e-6
    for j in range(n):
        d = np.zeros(n)
        d[j] = eps
        col = (step_map(net, s + d, x) - step_map(net, s - d, x)) / (2 * eps)
        np.testing.assert_allclose(J[:, :, j], col, rtol=1e-7, atol=1e-9)
    _, q, grad = residual_and_gradient(net, s, x)
    np.testing.assert_allclose(q, speed(net, s, x), rtol=1e-12)
    for j in range(n):
        d = np.zeros(n)
        d[j] = eps
        fd = (speed(net, s + d, x) - speed(net, s - d, x)) / (2 * eps)
        np.testing.assert_allclose(grad[:, j], fd, rtol=1e-6, atol=1e-10)


# --- fixed points against closed forms ------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("radius,want", [(0.8, "stable"), (1.6, None)])
def test_a_linear_network_has_one_fixed_point_in_closed_form(form, radius, want):
    """h = W h + W_in x + b: h* = (I - W)⁻¹ (W_in x + b), in both forms; its stability is
    that of (1 - α) I + α W."""
    rng = np.random.default_rng(2)
    n = 6
    W = rng.standard_normal((n, n))
    W *= radius / np.max(np.abs(np.linalg.eigvals(W)))
    b = rng.standard_normal(n)
    net = _net(W, form, activation="linear", b=b)
    x = np.array([0.7])
    fp = find_fixed_points(net, rng.standard_normal((50, n)) * 3, x)
    want_state = np.linalg.solve(np.eye(n) - W, net.params["W_in"] @ x + b)
    assert fp.sizes["point"] == 1
    np.testing.assert_allclose(fp.state.values[0], want_state, rtol=1e-9, atol=1e-10)
    lam = np.linalg.eigvals(0.7 * np.eye(n) + 0.3 * W)
    assert int(fp.n_unstable[0]) == int(np.sum(np.abs(lam) > 1))
    if want:
        assert fp.kind.values[0] == want


@pytest.mark.parametrize(
    "W,n_unstable",
    [
        (1.2 * np.array([[0.0, -1.0], [1.0, 0.0]]), 2),  # λ = ±1.2i: a growing rotation
        (-1.5 * np.eye(2), 2),  # λ = −1.5: growing, flipping sign every step
        (np.diag([-1.5, 0.5]), 1),
        (0.9 * np.array([[0.0, -1.0], [1.0, 0.0]]), 0),  # a decaying rotation
    ],
)
def test_stability_is_the_modulus_of_the_eigenvalues_not_their_real_part(W, n_unstable):
    net = _net(W, "rate", alpha=1.0, activation="linear")
    fp = find_fixed_points(net, np.random.default_rng(0).standard_normal((10, 2)))
    assert fp.sizes["point"] == 1 and int(fp.n_unstable[0]) == n_unstable
    assert fp.kind.values[0] == {0: "stable", 1: "saddle", 2: "unstable"}[n_unstable]


@pytest.mark.parametrize("form", FORMS)
def test_one_tanh_unit_with_self_weight_above_one_has_three_fixed_points(form):
    a = 2.0
    net = _net(np.array([[a]]), form)
    fp = find_fixed_points(net, np.linspace(-3, 3, 41)[:, None])
    h = 0.9575040240772687  # tanh(2 h) = h, h > 0
    scale = 1.0 if form == "rate" else a  # the current form's state is v = W f(v) = a h
    np.testing.assert_allclose(
        np.sort(fp.state.values[:, 0]), [-scale * h, 0, scale * h], atol=1e-10
    )
    kinds = dict(zip(np.round(fp.state.values[:, 0], 6), fp.kind.values))
    assert kinds[0.0] == "unstable" and sorted(fp.kind.values) == ["stable", "stable", "unstable"]
    low = _net(np.array([[0.5]]), form)
    assert find_fixed_points(low, np.linspace(-3, 3, 41)[:, None]).sizes["point"] == 1


@pytest.mark.parametrize("form", FORMS)
def test_two_tanh_units_with_w_equal_a_times_identity_have_nine_fixed_points(form):
    """Each unit is its own one-unit network: 3 × 3 points.  (The issue's "three fixed points"
    holds for one unit; two independent units have nine.)  The origin has 2 unstable
    directions, the 4 points with one unit at 0 are saddles with 1, the other 4 are stable."""
    a = 2.0
    net = _net(a * np.eye(2), form)
    grid = np.stack(np.meshgrid(*[np.linspace(-3, 3, 13)] * 2), -1).reshape(-1, 2)
    fp = find_fixed_points(net, grid)
    assert fp.sizes["point"] == 9
    zeros = np.sum(np.isclose(fp.state.values, 0.0, atol=1e-8), axis=1)
    np.testing.assert_array_equal(fp.n_unstable.values, zeros)
    assert sorted(fp.kind.values) == ["saddle"] * 4 + ["stable"] * 4 + ["unstable"]
    assert np.all(fp.q.values < 1e-20)


@pytest.mark.parametrize("form", ["rate"])
def test_a_ghost_past_a_saddle_node_is_a_slow_point_kept_only_when_asked(form):
    """h = tanh(2h + b) loses its negative pair of fixed points at b = atanh(−1/√2) + √2 ≈ 0.533
    (a saddle-node); at b = 0.6 a "ghost" stays near h = −1/√2: a local minimum of q above 0.
    With the strict q_max only the one fixed point comes back; with a loose one the ghost too."""
    net = _net(np.array([[2.0]]), form, alpha=1.0, b=np.array([0.6]))
    starts = np.linspace(-2, 2, 41)[:, None]
    strict = find_fixed_points(net, starts)
    loose = find_fixed_points(net, starts, q_max=1e-2)
    assert strict.sizes["point"] == 1 and strict.state.values[0, 0] > 0
    assert loose.sizes["point"] == 2
    ghost = loose.state.values[1, 0]
    assert -0.8 < ghost < -0.6 and 1e-5 < float(loose.q[1]) < 1e-2  # slow, not fixed
    assert loose.q.values[0] < 1e-20  # slowest first


def test_two_fixed_points_close_to_each_other_are_both_found():
    """Just before the saddle-node at b ≈ 0.5328, h = tanh(2h + b) has a stable point and a
    saddle 0.014 apart, near h = −0.71, and a third at 0.987: all three are found (the
    brentq roots of tanh(2h + b) − h are the reference)."""
    from scipy.optimize import brentq

    b = 0.5327
    net = _net(np.array([[2.0]]), "rate", alpha=1.0, b=np.array([b]))
    g = lambda h: np.tanh(2 * h + b) - h  # noqa: E731
    grid = np.linspace(-1.2, 1.2, 200_001)
    v = g(grid)
    roots = [
        brentq(g, grid[i], grid[i + 1], xtol=1e-15) for i in np.flatnonzero(v[:-1] * v[1:] < 0)
    ]
    fp = find_fixed_points(net, np.linspace(-2, 2, 81)[:, None])
    assert len(roots) == 3 and fp.sizes["point"] == 3
    np.testing.assert_allclose(np.sort(fp.state.values[:, 0]), roots, atol=1e-9)


def test_a_singular_jacobian_at_one_start_does_not_stop_the_others_polish():
    """A relu unit with self-weight 1 has ∂F/∂h − I singular wherever it is active; the other
    starts are still polished to their fixed point (h₀ = 0, h₁ = 2)."""
    from bioplastic.analysis.fixed_points import _newton

    net = bp.LeakyRNN(
        np.zeros((2, 1)),
        np.diag([1.0, 0.5]),
        np.eye(1, 2),
        np.array([0.0, 1.0]),
        alpha=1.0,
        activation="relu",
    )
    x = np.zeros(1)
    good, singular = np.array([[-1.0, 1.9]]), np.array([[0.5, 1.9]])
    polished = _newton(net, np.vstack([good, singular]), x, 8)
    assert speed(net, polished[:1], x)[0] < 1e-25
    np.testing.assert_allclose(polished[0], [0.0, 2.0], atol=1e-12)


def test_no_fixed_point_found_still_saves_and_plots(tmp_path):
    """h ← h + 1 (linear, W = I, b = 1) has no fixed point: q = ½ everywhere."""
    net = _net(np.eye(2), "rate", alpha=1.0, activation="linear", b=np.ones(2))
    tr = bp.tasks.Trials(np.zeros((2, 30, 1)), np.zeros((2, 30, 1)))
    an = analyse(net, tr, n_starts=20)
    assert an.sizes["point"] == 0
    bp.save(an, tmp_path / "a.nc")
    back = bp.load(tmp_path / "a.nc")
    assert back.sizes["point"] == 0 and back.trajectory.shape == an.trajectory.shape
    from bioplastic.analysis import plot_analysis

    assert plot_analysis(an, tmp_path / "a.png").stat().st_size > 10_000


def test_bad_fixed_point_arguments_name_the_fix():
    net = _net(np.eye(3), "rate")
    with pytest.raises(ValueError, match=r"starts must have shape \(n_starts, n_rec\)"):
        find_fixed_points(net, np.zeros((5, 2)))
    with pytest.raises(ValueError, match="held input must have shape"):
        find_fixed_points(net, np.zeros((5, 3)), x=[1.0, 2.0])
    with pytest.raises(ValueError, match="starts has NaN"):
        find_fixed_points(net, np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="q_max must be a number > 0"):
        find_fixed_points(net, np.zeros((2, 3)), q_max=0)


# --- similarity, against independent formulas ------------------------------------------------


def _gram_cka(X, Y):
    """CKA from centred Gram matrices (Kornblith et al. 2019, eq. 4 with HSIC)."""
    n = len(X)
    H = np.eye(n) - 1.0 / n
    K, L = H @ X @ X.T @ H, H @ Y @ Y.T @ H
    return np.sum(K * L) / np.sqrt(np.sum(K * K) * np.sum(L * L))


def test_linear_cka_matches_the_gram_formula_and_its_invariances():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((60, 5))
    Y = X @ rng.standard_normal((5, 7)) + 0.5 * rng.standard_normal((60, 7))
    assert linear_cka(X, Y) == pytest.approx(_gram_cka(X, Y), rel=1e-12)
    Q, _ = np.linalg.qr(rng.standard_normal((7, 7)))
    assert linear_cka(X, 3.0 * Y @ Q + 2.0) == pytest.approx(linear_cka(X, Y), rel=1e-12)
    assert linear_cka(X, X) == pytest.approx(1.0)
    stretched = Y * np.array([1, 10, 1, 1, 1, 1, 1.0])
    assert abs(linear_cka(X, stretched) - linear_cka(X, Y)) > 1e-3  # not invariant to that


def test_procrustes_distance_matches_scipy_and_is_zero_for_a_rotated_copy():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 4))
    Y = rng.standard_normal((40, 4))
    disparity = scipy_procrustes(X, Y)[2]  # 1 - ‖X̂ᵀŶ‖_*² after standardising
    nuclear = np.sqrt(1.0 - disparity)
    assert procrustes_distance(X, Y) == pytest.approx(np.sqrt(2 - 2 * nuclear), rel=1e-10)
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    assert procrustes_distance(X, 0.3 * X @ Q - 1.0) == pytest.approx(0.0, abs=1e-7)
    wide = np.hstack([X @ Q, np.zeros((40, 3))])  # more units, the same shape
    assert procrustes_distance(X, wide) == pytest.approx(0.0, abs=1e-7)


def test_cca_distance_is_invariant_to_invertible_maps():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((80, 4))
    A = rng.standard_normal((4, 4))
    assert cca_distance(X, X @ A + 5.0) == pytest.approx(0.0, abs=1e-10)
    Z = rng.standard_normal((80, 4))
    assert 0.5 < cca_distance(X, Z) < 1.0
    with pytest.raises(ValueError, match="the same samples"):
        linear_cka(X, Z[:10])
    with pytest.raises(ValueError, match="constant"):
        linear_cka(X, np.ones((80, 2)))


# --- trajectories and spectrum --------------------------------------------------------------


def test_pca_explained_variance_and_projection_match_the_covariance():
    rng = np.random.default_rng(7)
    S = rng.standard_normal((3, 50, 6)) @ rng.standard_normal((6, 6))
    basis = pca(S, 6)
    flat = S.reshape(-1, 6)
    vals = np.sort(np.linalg.eigvalsh(np.cov(flat.T)))[::-1]
    np.testing.assert_allclose(basis.explained.values, vals / vals.sum(), rtol=1e-10)
    assert basis.attrs["total_variance"] == pytest.approx(vals.sum())
    proj = project(basis, S)
    np.testing.assert_allclose(proj.reshape(-1, 6).var(axis=0, ddof=1), vals, rtol=1e-10)


@pytest.mark.parametrize("form", FORMS)
def test_spectrum_of_a_linear_network_is_its_time_constants(form):
    """(For a linear network the Jacobian is the same everywhere, so this checks the
    formulas, not which input each state is paired with: see the next test.)"""
    rng = np.random.default_rng(8)
    n = 5
    W = rng.standard_normal((n, n)) * 0.3
    net = bp.LeakyRNN(
        rng.standard_normal((n, 1)),
        W,
        np.eye(1, n),
        tau=4.0,
        dt=1.0,
        activation="linear",
        form=form,
    )
    states = rng.standard_normal((7, n))
    spec = spectrum(net, states, np.zeros((7, 1)))
    lam = np.linalg.eigvals(0.75 * np.eye(n) + 0.25 * W)
    lam = lam[np.argsort(-np.abs(lam))]
    np.testing.assert_allclose(spec.tau.values[3], -1.0 / np.log(np.abs(lam)), rtol=1e-10)
    np.testing.assert_allclose(
        np.abs(spec.frequency.values[0]), np.abs(np.angle(lam)) / (2 * np.pi), atol=1e-12
    )


def test_analyse_linearises_each_state_with_the_input_of_the_step_taken_from_it():
    """Row t of the spectrum is the Jacobian at h_t (h_0 = 0) with the input x_{t+1} of the
    step taken from it; with an input that switches on at array index 10, the rows around
    the switch tell the pairings apart."""
    n = 3
    rng = np.random.default_rng(9)
    net = bp.LeakyRNN(
        3 * rng.standard_normal((n, 1)),
        0.5 * rng.standard_normal((n, n)),
        np.eye(1, n),
        b=0.3 * rng.standard_normal(n),
        alpha=0.5,
    )
    x = np.zeros((1, 20, 1))
    x[0, 10:] = 1.0
    an = analyse(net, bp.tasks.Trials(x, np.zeros((1, 20, 1))), n_starts=5)
    states = net.run(x).states[0]  # states[t] = h_{t+1}
    before = np.vstack([np.zeros(n), states[:-1]])
    for t in (0, 9, 10, 11, 15):
        lam = np.linalg.eigvals(jacobian(net, before[t][None], x[0, t])[0])
        got = np.hypot(an.eig_real.values[t], an.eig_imag.values[t])
        np.testing.assert_allclose(got, np.sort(np.abs(lam))[::-1], rtol=1e-12)


# --- a saved run, compared and analysed from the command line -------------------------------


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "run.nc"
    task = PeriodicOutput(period=10, tau=2, input="tonic")
    net = bp.LeakyRNN.random(task.n_in, 12, task.n_out, tau=2.0, seed=0)
    bp.train(net, task, "bptt", optimizer=SGD(lr=0.01), n_trials=20, eval_every=10, out=path)
    return path


def test_a_network_compared_with_itself_or_a_relabelled_copy(saved_run):
    ds = bp.load(saved_run)
    same = compare(ds, ds)
    assert same["cka"] == pytest.approx(1.0) and same["procrustes"] == pytest.approx(0, abs=1e-6)
    assert same["cca"] == pytest.approx(0.0, abs=1e-8)
    net, trials, h0 = bp.training.checkpoint.held_out(ds)
    P = np.eye(net.n_rec)[np.random.default_rng(0).permutation(net.n_rec)]
    p = net.params
    relabelled = net.with_params(
        {
            "W_rec": P @ p["W_rec"] @ P.T,
            "W_in": P @ p["W_in"],
            "W_out": p["W_out"] @ P.T,
            "b": P @ p["b"],
        }
    )
    moved = compare(net, relabelled, trials)
    assert moved["cka"] == pytest.approx(1.0) and moved["procrustes"] == pytest.approx(0, abs=1e-6)
    other = bp.LeakyRNN.random(net.n_in, net.n_rec, net.n_out, tau=2.0, seed=5)
    assert compare(net, other, trials)["cka"] < 0.99
    m = match_fixed_points(net, relabelled, trials, x=[1.0])
    assert m.sizes["pair"] >= 1 and np.all(m.distance.values < 1e-6)
    assert list(m.a_kind.values) == list(m.b_kind.values)
    assert all(m.attrs[f"a_{k}"] == m.attrs[f"b_{k}"] for k in ("stable", "saddle", "unstable"))


def test_analyse_a_saved_run_from_the_command_line(saved_run, capsys):
    assert cli_main(["analyse", str(saved_run), "--starts", "200", "--input", "1"]) == 0
    out = saved_run.with_name("run_analysis")
    an = bp.load(out.with_suffix(".nc"))
    assert out.with_suffix(".png").stat().st_size > 10_000
    assert "wrote" in capsys.readouterr().out
    assert an.sizes["point"] >= 1 and np.all(an.fp_q.values < 1e-10)
    assert any(c.startswith("condition_") for c in an.coords)  # each trial's labels
    net, trials, h0 = bp.training.checkpoint.held_out(bp.load(saved_run))
    assert np.all(speed(net, an.fp_state.values, [1.0]) < 1e-10)  # really fixed, at that input
    again = analyse(saved_run, x=[1.0], n_starts=200)
    np.testing.assert_array_equal(again.fp_state.values, an.fp_state.values)  # same seed
    assert cli_main(["analyse", str(saved_run), "--input", "1,2"]) == 2
    assert "held input must have shape" in capsys.readouterr().err
