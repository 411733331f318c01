"""Online TD(λ) with gated-unit models that may grow (Javed et al. 2023): the compiled kernels
against the numpy path, the prediction gradient against exact BPTT, the TD update against an
independent linear TD(λ), the constructive schedule, and errors."""

import numpy as np
import pytest

import bioplastic as bp
from bioplastic import kernels
from bioplastic.training.td_learner import Learner
from bioplastic.training.td_stream import Growth, Normalizer, Replacement, learn_td

TASK = bp.tasks.TracePatterning()
PARAMS = ("W_in", "W_rec", "b", "W_out", "b_out")


def both_paths(net, steps=900, **kw):
    kw = {"step_size": 0.05, "lam": 0.9, "record_every": 300, **kw}
    with kernels.disabled():
        ref = learn_td(net, TASK, steps, **kw)
    return ref, learn_td(net, TASK, steps, **kw)


@pytest.mark.skipif(not kernels.available(), reason=f"numba: {kernels.NUMBA_ERROR}")
@pytest.mark.parametrize(
    "make, kw",
    [
        (lambda: bp.LSTM.columnar(12, 6, 1, scale=0.5), {}),
        (lambda: bp.LSTM.columnar(12, 1, 1, scale=0.5), {"growth": Growth(250, 2, 5)}),
        (lambda: bp.LSTM.dense(12, 5, 1, scale=0.5), {}),  # the diagonal Jacobian
        (lambda: bp.LSTM.dense(12, 5, 1, scale=0.5), {"credit": "tbptt", "truncation": 4}),
        (
            lambda: bp.LSTM.dense(12, 5, 1, scale=0.5),
            {"credit": "tbptt", "truncation": 3, "lam": 0.0},
        ),
        (lambda: bp.LSTM.columnar(12, 6, 1, scale=0.5), {"replacement": Replacement(100, 150)}),
        (lambda: bp.LSTM.columnar(12, 4, 1, scale=0.5), {"normalize": 1e-2}),
        (
            lambda: bp.LSTM.columnar(12, 2, 1, scale=0.5),
            {"growth": Growth(300, 3, 8), "replacement": Replacement(100, 150, decay=0.99)},
        ),
    ],
)
def test_compiled_kernels_equal_the_numpy_path(make, kw):
    ref, fast = both_paths(make(), **kw)
    np.testing.assert_allclose(fast.error, ref.error, rtol=1e-10, atol=1e-14)
    for k in PARAMS:
        np.testing.assert_allclose(fast[k], ref[k], rtol=1e-9, atol=1e-13)
    np.testing.assert_array_equal(fast.units, ref.units)
    assert not np.allclose(ref["W_out"], 0)  # it learned
    if "replacement" in kw:
        assert len(ref.replaced_unit) >= 3
        np.testing.assert_array_equal(fast.replaced_unit, ref.replaced_unit)


def prediction_gradient(net, credit, truncation, steps, x):
    """Σ_t ∇V_t accumulated by the learner (γλ = 1, a step size that changes nothing)."""
    learner = Learner(net, credit, truncation, 1e-300, 1.0, 1.0)
    for t in range(steps):
        learner.step(x[t], 0.0)
    return learner.z


@pytest.mark.parametrize(
    "make, credit, k",
    [
        (lambda: bp.LSTM.columnar(12, 4, 1, scale=0.6, seed=2), "traces", None),
        (lambda: bp.LSTM.columnar(12, 2, 1, scale=0.6, seed=2).grow(2, scale=0.6), "traces", None),
        (lambda: bp.LSTM.dense(12, 4, 1, scale=0.6, seed=2), "tbptt", 30),
        (
            lambda: bp.LeakyRNN.columnar(12, 2, 1, 1, tau=3.0, seed=2).grow(2, column_size=1),
            "traces",
            None,
        ),
        (
            lambda: bp.LeakyRNN.random(12, 4, 1, tau=3.0, seed=2).with_params(
                {"W_rec": np.diag([0.9, -0.5, 1.2, 0.3])}
            ),
            "tbptt",
            30,
        ),
    ],
)
def test_the_learners_prediction_gradient_is_exact(make, credit, k):
    """With γλ = 1 the eligibility is Σ_t ∇V_t: BPTT's gradient of Σ_t y_t."""
    net = make()
    net = net.with_params({"W_out": np.random.default_rng(0).normal(size=(1, net.n_rec))})
    T = 25
    x = TASK.stream(1, np.random.default_rng(3)).next(T).x[0]
    z = prediction_gradient(net, credit, k, T, x)
    y = net.run(x[None]).outputs
    exact = bp.gradient(net, x[None], y - 1.0, rule="bptt")  # ∂L/∂y_t = 1 at every step
    for key in PARAMS:
        np.testing.assert_allclose(z[key], exact[key], rtol=1e-10, atol=1e-12)


def test_the_td_update_is_linear_td_lambda_when_only_the_readout_learns():
    """An independent derivation: frozen recurrent weights make h_t a fixed feature stream,
    and TD(λ) with accumulating traces on it is a few lines (Sutton & Barto 2018, sec. 12.2)."""
    net = bp.LSTM.columnar(12, 5, 1, scale=0.5, seed=1)
    net = bp.LSTM(**net.params, connectivity=net.connectivity, plastic={"W_out", "b_out"})
    eta, lam, T = 0.1, 0.8, 600
    ds = learn_td(net, TASK, T, step_size=eta, lam=lam, record_every=T, seed=5)
    trials = TASK.stream(1, np.random.default_rng(5)).next(T)
    h = net.run(trials.x).states[0]
    c = trials.x[0, :, TASK.cumulant_index]
    w, b, zw, zb, prev = np.zeros(5), 0.0, np.zeros(5), 0.0, None
    g = TASK.gamma
    for t in range(T):
        V = w @ h[t] + b
        if prev is not None:
            delta = c[t] + g * V - prev
            w, b = w + eta * delta * zw, b + eta * delta * zb
        zw, zb = g * lam * zw + h[t], g * lam * zb + 1.0
        prev = V
    np.testing.assert_allclose(ds["W_out"].values[0], w, rtol=1e-10)
    np.testing.assert_allclose(ds["b_out"].values[0], b, rtol=1e-10)
    np.testing.assert_array_equal(ds["W_in"].values, net.params["W_in"])  # frozen stays frozen


def test_a_growing_network_adds_stages_on_schedule_and_records_them():
    ds = learn_td(
        bp.LSTM.columnar(12, 1, 1),
        TASK,
        1000,
        step_size=0.01,
        lam=0.9,
        growth=Growth(every=200, size=2, max_units=6),
        record_every=100,
    )
    assert ds.step.values.tolist() == list(range(100, 1001, 100))
    assert ds.units.values.tolist() == [1, 1, 3, 3, 5, 5, 6, 6, 6, 6]
    assert ds["W_rec"].shape == (4, 6, 6) and ds.attrs["status"] == "complete"
    assert np.isfinite(ds.error).all()


def test_a_leaky_network_grows_within_one_run_too():
    net = bp.LeakyRNN.columnar(12, 1, 1, 1, tau=3.0, seed=0)
    ds = learn_td(
        net, TASK, 300, step_size=0.01, lam=0.9, growth=Growth(100, 1, 3), record_every=100
    )
    assert ds.units.values.tolist() == [1, 2, 3] and ds["W_rec"].shape == (1, 3, 3)
    assert np.isfinite(ds.error).all()


def test_stages_between_recorded_points_split_no_bin():
    ds = learn_td(
        bp.LSTM.columnar(12, 1, 1),
        TASK,
        500,
        step_size=0.01,
        lam=0.9,
        growth=Growth(every=250, size=1, max_units=3),
        record_every=100,
        keep_last=30,
    )
    assert ds.step.values.tolist() == [100, 200, 300, 400, 500]
    assert ds.units.values.tolist() == [1, 1, 2, 2, 2]  # the unit count at each bin's end
    assert ds["W_in"].shape[1] == 2  # no stage after the last step
    assert ds.prediction.shape == ds.true_return.shape == (30,)
    y = TASK.stream(1, np.random.default_rng(0)).next(500).target[0, -30:, 0]
    np.testing.assert_array_equal(ds.true_return, y)


def test_same_seed_same_run_bitwise_and_other_seed_differs():
    kw = dict(step_size=0.05, lam=0.9, record_every=200, seed=4)
    a = learn_td(bp.LSTM.columnar(12, 3, 1), TASK, 600, **kw)
    b = learn_td(bp.LSTM.columnar(12, 3, 1), TASK, 600, **kw)
    c = learn_td(bp.LSTM.columnar(12, 3, 1), TASK, 600, **{**kw, "seed": 5})
    assert a.identical(b)
    assert not np.array_equal(a.error, c.error)


@pytest.mark.parametrize("compiled", [True, False])
def test_a_diverging_run_keeps_its_curve_up_to_the_divergence(compiled):
    net = bp.LSTM.columnar(12, 4, 1, scale=0.5)
    ds = learn_td(net, TASK, 3000, step_size=1e6, lam=0.9, record_every=100, compiled=compiled)
    assert ds.attrs["status"] == "diverged"
    assert len(ds.step) < 30 and np.isfinite(ds.error).all()


def test_learn_td_errors_name_the_fix():
    net = bp.LSTM.columnar(12, 2, 1)
    with pytest.raises(ValueError, match="credit must be one of"):
        learn_td(net, TASK, 10, step_size=0.1, lam=0.5, credit="rflo")
    with pytest.raises(ValueError, match="truncation"):
        learn_td(net, TASK, 10, step_size=0.1, lam=0.5, credit="tbptt")
    with pytest.raises(ValueError, match="1 output"):
        learn_td(bp.LSTM.columnar(12, 2, 2), TASK, 10, step_size=0.1, lam=0.5)
    with pytest.raises(ValueError, match="cumulant"):
        learn_td(net, bp.tasks.Add(), 10, step_size=0.1, lam=0.5)
    with pytest.raises(ValueError, match="start from columns"):
        learn_td(bp.LSTM.dense(12, 2, 1), TASK, 10, step_size=0.1, lam=0.5, growth=Growth(5, 1, 3))
    with pytest.raises(ValueError, match="lam"):
        learn_td(net, TASK, 10, step_size=0.1, lam=1.5)
    with pytest.raises(ValueError, match="Growth.size"):
        Growth(10, 0, 3)
    with pytest.raises(ValueError, match="n_in = task.n_in"):
        learn_td(bp.LSTM.columnar(5, 2, 1), TASK, 10, step_size=0.1, lam=0.5)
    with pytest.raises(TypeError, match="growth must be a bioplastic.Growth"):
        learn_td(net, TASK, 10, step_size=0.1, lam=0.5, growth=5)
    with pytest.raises(ValueError, match="max_units"):
        learn_td(net, TASK, 10, step_size=0.1, lam=0.5, growth=Growth(5, 1, 1))
    with pytest.raises(ValueError, match="LSTM.columnar"):
        learn_td(
            bp.LSTM.dense(12, 2, 1), TASK, 10, step_size=0.1, lam=0.5, replacement=Replacement(5)
        )


def test_generate_and_test_replaces_the_least_useful_mature_unit_no_one_hears():
    """Javed et al. 2023 sec. 7: utility |w_out,i h_i|; only mature units, when half are; in a
    hybrid network only the newest stage (earlier units are heard by it)."""
    net = bp.LSTM.columnar(12, 3, 1, seed=1).grow(4)  # units 0-2 frozen and heard, 3-6 learn
    net = net.with_params({"W_out": np.arange(1.0, 8.0)[None]})
    learner = Learner(net, "traces", None, 0.01, 0.9, 0.9)
    learner.utility = np.array([0.0, 0.0, 0.0, 5.0, 1.0, 3.0, 0.5])
    learner.age = np.array([9, 9, 9, 9, 9, 9, 1])
    rule = Replacement(every=10, maturity=5)
    rng = np.random.default_rng(0)
    before = net.params
    assert learner.replace(rule, rng) == 4  # 6 is less useful but immature; 0-2 are heard
    after = learner.model.params
    assert after["W_out"][0, 4] == 0 and learner.age[4] == 0 and learner.utility[4] == 0
    assert not np.array_equal(after["W_in"][:, 4], before["W_in"][:, 4])
    keep = [k for k in range(7) if k != 4]
    for k in ("W_in", "b"):
        np.testing.assert_array_equal(after[k][:, keep], before[k][:, keep])
    np.testing.assert_array_equal(
        after["W_rec"][:, 4] != 0, np.broadcast_to(net.connectivity["W_rec"][4], (4, 7))
    )
    learner.age = np.array([9, 9, 9, 9, 0, 1, 1])  # 1 of 4 learning units mature: no test
    assert learner.replace(rule, rng) is None


def test_replacement_needs_an_lstm_learning_by_traces():
    with pytest.raises(ValueError, match="generate and test"):
        learn_td(
            bp.LSTM.dense(12, 2, 1),
            TASK,
            10,
            step_size=0.1,
            lam=0.5,
            credit="tbptt",
            truncation=3,
            replacement=Replacement(5),
        )
    with pytest.raises(ValueError, match="Replacement.decay"):
        Replacement(5, decay=1.0)


def test_normalizer_is_the_running_z_score_of_the_code_across_chunks():
    """(x − μ_{t-1}) / √v_{t-1}, then μ and v updated with x_t (constructive_rnn@632dbf2)."""
    rng = np.random.default_rng(0)
    x = (rng.random((700, 3)) < 0.1).astype(float)
    x[:, 2] = 0.0  # a constant input: its variance decays to 0, its z-score stays finite
    norm = Normalizer(3, 0.05)
    got = np.concatenate([norm(x[:250]), norm(x[250:251]), norm(x[251:])])
    mean, var, want = np.zeros(3), np.ones(3), []
    for t in range(700):
        want.append((x[t] - mean) / np.sqrt(np.maximum(var, 1e-12)))
        mean = 0.95 * mean + 0.05 * x[t]
        var = 0.95 * var + 0.05 * (x[t] - mean) ** 2
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert np.isfinite(got).all() and np.abs(got[:, 0]).max() > 2  # rare bits are amplified


def test_growth_keeps_the_readouts_eligibility_and_clears_the_frozen_units():
    learner = Learner(bp.LSTM.columnar(12, 2, 1, seed=0), "traces", None, 1e-3, 0.9, 0.9)
    x = TASK.stream(1, np.random.default_rng(0)).next(50).x[0]
    for t in range(50):
        learner.step(x[t], x[t, 6])
    z_out, z_bout = learner.z["W_out"].copy(), learner.z["b_out"].copy()
    assert np.abs(learner.z["W_in"]).max() > 0
    learner.grow(3)
    np.testing.assert_array_equal(learner.z["W_out"][:, :2], z_out)
    assert not learner.z["W_out"][:, 2:].any()
    np.testing.assert_array_equal(learner.z["b_out"], z_bout)
    for k in ("W_in", "W_rec", "b"):
        assert not learner.z[k].any() and learner.z[k].shape[1] == 5
    assert learner.state.shape == (1, 5, 2) and not learner.state[0, 2:].any()


def test_a_float32_model_learns_in_float32():
    net = bp.LSTM.columnar(12, 3, 1, dtype=np.float32)
    ds = learn_td(net, TASK, 200, step_size=np.float32(0.05), lam=0.9, record_every=100)
    assert ds["W_in"].dtype == np.float32 and np.isfinite(ds.error).all()


def test_the_last_bin_is_labelled_with_its_own_last_step():
    ds = learn_td(bp.LSTM.columnar(12, 2, 1), TASK, 250, step_size=0.01, lam=0.9, record_every=100)
    assert ds.step.values.tolist() == [100, 200, 250]


def test_a_grown_lstm_keeps_a_frozen_readout_frozen():
    net = bp.LSTM(
        **bp.LSTM.columnar(12, 2, 1).params,
        connectivity={"W_rec": np.eye(2)},
        plastic={"W_in", "W_rec", "b"},
    )
    grown = net.grow(1)
    assert "W_out" not in grown.plastic and "b_out" not in grown.plastic


def test_ctrl_c_keeps_the_recorded_spans_and_saves_them(tmp_path, monkeypatch):
    from bioplastic.training import td_learner

    real, calls = td_learner.Learner.run, []

    def interrupted_third_span(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(td_learner.Learner, "run", interrupted_third_span)
    out = tmp_path / "td.nc"
    ds = learn_td(
        bp.LSTM.columnar(12, 3, 1), TASK, 1000, step_size=0.01, lam=0.9, record_every=100, out=out
    )
    assert ds.attrs["status"] == "interrupted"
    assert ds.step.values.tolist() == [100, 200] and np.isfinite(ds.error).all()
    assert bp.load(out).identical(ds)
