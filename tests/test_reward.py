"""The reward learning signal (noise, a scalar reward, a baseline) and node perturbation.

Node perturbation is pinned by its limit: with small noise its mean over many draws is the exact
gradient (Williams 1992; Fiete & Seung 2006), tested statistically against BPTT, both forms,
α < 1, with and without a learning readout.
"""

import json
from functools import partial

import numpy as np
import pytest
from helpers import FORMS, rel_err, small_problem

import bioplastic as bp
from bioplastic.objective import prepare, trial_losses
from bioplastic.rules import make_rule
from bioplastic.rules.reward import Baseline, evaluate, reward_steps

REWARD_RULES = ("node_perturbation",)


def with_plastic(net, plastic):
    """The same network with only ``plastic`` learning."""
    return bp.LeakyRNN(
        **net.params,
        alpha=net.alpha,
        activation=net.activation.name,
        form=net.form,
        plastic=plastic,
    )


problem = partial(small_problem, T=8, n=4)


@pytest.mark.parametrize("form", FORMS)
def test_noise_enters_the_input_current_like_an_extra_input(form):
    """u_t + ξ_t: the same as feeding ξ through extra inputs with identity weights."""
    p = problem(form, T=7)
    net, rng = p.net, np.random.default_rng(1)
    xi = rng.standard_normal((3, 7, net.n_rec))
    params = dict(net.params)
    params["W_in"] = np.hstack([params["W_in"], np.eye(net.n_rec)])
    wider = bp.LeakyRNN(**params, alpha=net.alpha, activation="tanh", form=form)
    h0 = p.h0
    got = net.forward(p.x, h0, noise=xi)
    ref = wider.forward(np.concatenate([p.x, xi], axis=2), h0)
    np.testing.assert_allclose(got.states, ref.states, rtol=0, atol=1e-13)
    np.testing.assert_allclose(got.outputs, ref.outputs, rtol=0, atol=1e-13)
    with pytest.raises(ValueError, match="noise must be 3-D|noise.*unit=3"):
        net.forward(p.x, h0, noise=xi[:, :, :3])
    with pytest.raises(ValueError, match="noise"):
        net.forward(p.x, h0, noise=np.full_like(xi, np.nan))


def sample_means(net, x, y, rule_opts, n_batches, per_batch):
    X, Y = np.repeat(x, per_batch, 0), np.repeat(y, per_batch, 0)
    out = []
    for s in range(n_batches):
        g = bp.gradient(net, X, Y, rule="node_perturbation", seed=s, **rule_opts)
        out.append(np.concatenate([g[k].ravel() for k in sorted(g)]))
    return np.array(out)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("readout", ["frozen", "plastic"])
def test_node_perturbation_is_the_gradient_in_the_mean(form, readout):
    """``‖mean - exact‖² / Σ SE²`` below 9 at 16 and 256 batches of 256 draws, the tolerance
    shrinking about 4×; an estimate half the size fails the same bound by far."""
    rng = np.random.default_rng(11)
    plastic = ("W_rec", "W_in", "b") if readout == "frozen" else None
    net = bp.LeakyRNN.random(2, 5, 2, tau=np.linspace(2, 8, 5), form=form, seed=3)
    if plastic:
        net = with_plastic(net, plastic)
    x, y = rng.standard_normal((1, 10, 2)), rng.standard_normal((1, 10, 2))
    g = bp.gradient(net, x, y, rule="bptt")
    exact = np.concatenate([g[k].ravel() for k in sorted(g)])
    opts = {"sigma": 1e-3, "baseline": "clean"}

    def check(n_batches):
        means = sample_means(net, x, y, opts, n_batches, 256)
        grand = means.mean(0)
        se2 = (means.var(0, ddof=1) / n_batches).sum()
        return np.sum((grand - exact) ** 2) / se2, 3 * np.sqrt(se2)

    stat_small, tol_small = check(16)
    stat_large, tol_large = check(256)
    assert stat_small < 9 and stat_large < 9, (stat_small, stat_large)
    assert tol_large < tol_small / 2.5
    # the check has power: an estimate half the size would score far above the bound of 9
    assert np.sum((0.5 * exact) ** 2) / (tol_large / 3) ** 2 > 30


@pytest.mark.parametrize("form", FORMS)
def test_running_baseline_in_the_mean_too(form):
    """A running baseline of earlier trials does not depend on this trial's noise: unbiased."""
    rng = np.random.default_rng(5)
    net = with_plastic(bp.LeakyRNN.random(2, 4, 1, tau=3.0, form=form, seed=1), ("W_rec", "b"))
    x, y = rng.standard_normal((1, 8, 2)), rng.standard_normal((1, 8, 1))
    g = bp.gradient(net, x, y, rule="bptt")
    exact = np.concatenate([g[k].ravel() for k in sorted(g)])
    rule = make_rule("node_perturbation", {"baseline": "running"})
    X, Y = np.repeat(x, 128, 0), np.repeat(y, 128, 0)
    batch = prepare(net, X, Y)
    means = []
    for s in range(64):  # each batch: a baseline running over its trials in order
        _, g, _ = evaluate(net, batch, rule, np.random.default_rng(s), Baseline(0.9))
        means.append(np.concatenate([g[k].ravel() for k in sorted(g)]))
    means = np.array(means)
    grand, se2 = means.mean(0), (means.var(0, ddof=1) / 64).sum()
    assert np.sum((grand - exact) ** 2) / se2 < 9


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("readout", ["frozen", "plastic"])
def test_per_trial_face_equals_online_face(form, readout):
    p = problem(form)
    net = p.net if readout == "plastic" else with_plastic(p.net, ("W_rec", "W_in"))
    rule = make_rule("node_perturbation", {"sigma": 0.1})
    B, T, _ = p.x.shape
    noise = rule.noise(net, B, T, np.random.default_rng(3))
    trace = net.forward(p.x, p.h0, noise=noise.units)
    adv = np.random.default_rng(4).standard_normal(B)
    per_trial = rule.gradient(net, trace, noise, adv)
    state = rule.init(net, B, np.random.default_rng(0))
    for st in reward_steps(net, trace, noise):
        state = rule.step(state, net, st)
    online = rule.read(state, net, adv)
    keys = [k for k in per_trial]
    assert rel_err({k: per_trial[k] for k in keys}, {k: online[k] for k in keys}) <= 1e-12


def test_the_estimate_is_the_eligibility_times_the_advantage_by_hand():
    """One trial, plain loops: ĝ_ij = (ℓ - ℓ̄)/n_trials Σ_t ξ_it â_jt / σ², with ℓ̄ the clean
    run's loss and ℓ the noisy run's (noise on the outputs included)."""
    p = problem("rate", B=2, masked=False)
    net, sigma = p.net, 0.05
    rule = make_rule("node_perturbation", {"sigma": sigma, "baseline": "clean"})
    batch = prepare(net, p.x, p.target, None, p.h0)
    rng = np.random.default_rng(9)
    value, g, signal = evaluate(net, batch, rule, rng)
    noise = rule.noise(net, 2, 8, np.random.default_rng(9))  # the same draws again
    P = net.params
    expect_rec = np.zeros_like(P["W_rec"])
    expect_out = np.zeros_like(P["W_out"])
    losses = []
    for b in range(2):
        h = p.h0[b].copy()
        h_clean = p.h0[b].copy()
        loss = loss0 = 0.0
        e_rec = np.zeros_like(P["W_rec"])
        e_out = np.zeros_like(P["W_out"])
        for t in range(8):
            xi, zeta = noise.units[b, t], noise.outputs[b, t]
            prev = h.copy()
            u = P["W_rec"] @ h + P["W_in"] @ p.x[b, t] + P["b"] + xi
            h = (1 - net.alpha) * h + net.alpha * np.tanh(u)
            y = P["W_out"] @ h + P["b_out"] + zeta
            loss += 0.5 * np.sum((y - p.target[b, t]) ** 2)
            e_rec += np.outer(xi, prev)
            e_out += np.outer(zeta, h)
            u0 = P["W_rec"] @ h_clean + P["W_in"] @ p.x[b, t] + P["b"]
            h_clean = (1 - net.alpha) * h_clean + net.alpha * np.tanh(u0)
            y0 = P["W_out"] @ h_clean + P["b_out"]
            loss0 += 0.5 * np.sum((y0 - p.target[b, t]) ** 2)
        losses.append(loss)
        expect_rec += (loss - loss0) / 2 * e_rec / sigma**2
        expect_out += (loss - loss0) / 2 * e_out / sigma**2
    np.testing.assert_allclose(g["W_rec"], expect_rec, rtol=1e-10)
    np.testing.assert_allclose(g["W_out"], expect_out, rtol=1e-10)
    assert value == pytest.approx(np.mean(losses), rel=1e-12)
    assert signal["reward"] == pytest.approx(-np.mean(losses), rel=1e-12)


def test_running_baseline_by_hand_and_per_condition():
    b = Baseline(0.75)
    adv, bars = b.advantage(np.array([1.0, 2.0, 4.0]), None)
    np.testing.assert_allclose(bars, [1.0, 1.0, 1.25])
    # first trial: baseline = itself; then 0.75·1 + 0.25·1 = 1 → 2 - 1; then 0.75·1 + 0.25·2
    np.testing.assert_allclose(adv, [0.0, 1.0, 4.0 - 1.25])
    assert b.values["all"] == pytest.approx(0.75 * 1.25 + 0.25 * 4.0)
    c = Baseline(0.5)
    adv, _ = c.advantage(np.array([1.0, 3.0, 2.0, 5.0]), np.array([0, 1, 0, 1]))
    np.testing.assert_allclose(adv, [0.0, 0.0, 1.0, 2.0])
    assert c.values == {"0": 1.5, "1": 4.0} and c.seen == 4
    assert Baseline.from_dict(c.to_dict()) == c
    # warm-up: the baseline learns from the first trials, which teach nothing
    w = Baseline(0.5)
    adv, _ = w.advantage(np.array([1.0, 3.0, 2.0]), None, warmup=2)
    np.testing.assert_allclose(adv, [0.0, 0.0, 2.0 - 2.0])
    adv, _ = w.advantage(np.array([5.0]), None, warmup=2)
    np.testing.assert_allclose(adv, [5.0 - 2.0])


def test_baseline_by_needs_the_condition():
    p = problem("rate")
    rule = make_rule("node_perturbation", {"baseline": "running", "baseline_by": "pair"})
    batch = prepare(p.net, p.x, p.target, p.mask, p.h0)
    with pytest.raises(ValueError, match="baseline_by='pair' needs trials labelled"):
        evaluate(
            p.net, batch, rule, np.random.default_rng(0), Baseline(0.9), {"period": np.zeros(3)}
        )


def test_a_one_off_estimate_compares_each_trial_with_itself_without_noise():
    """bp.gradient (and the probes, align_with) have no run history: whatever the rule's
    baseline, each noisy trial is compared with the same trial without noise."""
    p = problem("current", B=1)
    net = with_plastic(p.net, ("W_rec", "b"))
    opts = {"baseline_decay": 0.5, "baseline_by": "pair", "warmup": 10, "rate": 0.2}
    g = bp.gradient(net, p.x, p.target, rule="miconi", seed=3, **opts)
    ref = bp.gradient(net, p.x, p.target, rule="miconi", seed=3, baseline="clean", rate=0.2)
    assert np.abs(g["W_rec"]).max() > 0
    for k in g:
        np.testing.assert_array_equal(g[k], ref[k])


def test_same_seed_same_numbers():
    p = problem("current")
    a, b, c = (
        bp.gradient(p.net, p.x, p.target, p.mask, rule="node_perturbation", h0=p.h0, seed=s)
        for s in (4, 4, 5)
    )
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["W_rec"], c["W_rec"])


@pytest.mark.parametrize(
    "opts,pattern",
    [
        ({"sigma": 0.0}, "sigma"),
        ({"sigma": -1.0}, "sigma"),
        ({"sigma": True}, "sigma"),
        ({"baseline": "mean"}, "baseline must be one of"),
        ({"baseline_decay": 1.0}, "baseline_decay"),
        ({"baseline_by": 3}, "baseline_by"),
        ({"baseline": "clean", "baseline_by": "pair"}, "apply to baseline='running' only"),
        ({"baseline": "clean", "baseline_decay": 0.5}, "apply to baseline='running' only"),
    ],
)
def test_bad_options_name_the_fix(opts, pattern):
    with pytest.raises(ValueError, match=pattern):
        make_rule("node_perturbation", opts)


def test_reward_rules_take_no_feedback():
    p = problem("rate")
    with pytest.raises(ValueError, match="scalar reward and sends no error back"):
        bp.gradient(p.net, p.x, p.target, rule="node_perturbation", feedback="random")


def test_trial_losses_sum_to_the_loss():
    rng = np.random.default_rng(0)
    y, t, m = rng.standard_normal((3, 5, 4, 2))
    t = np.abs(t) / np.abs(t).sum(-1, keepdims=True)
    for kind in ("mse", "softmax_xent", "absolute"):
        total = bp.objective.error_and_loss(y, t, m, 4, kind)[1]
        assert trial_losses(y, t, m, kind).mean() == pytest.approx(total, rel=1e-12)


# ------------------------------------------------------------------ Miconi 2017
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("supralinear", ["cube", "signed_square"])
def test_miconi_per_trial_face_equals_the_step_by_step_trace(form, supralinear):
    """The factorised, filtered per-trial sum equals eq. 1 accumulated step by step."""
    p = problem(form, T=12)
    net = with_plastic(p.net, ("W_rec", "W_in", "b"))
    rule = make_rule("miconi", {"supralinear": supralinear, "rate": 0.3, "amplitude": 2.0})
    B, T, _ = p.x.shape
    noise = rule.noise(net, B, T, np.random.default_rng(3))
    trace = net.forward(p.x, p.h0, noise=noise.units)
    adv = np.random.default_rng(4).standard_normal(B)
    per_trial = rule.gradient(net, trace, noise, adv)
    state = rule.init(net, B, np.random.default_rng(0))
    for st in reward_steps(net, trace, noise):
        state = rule.step(state, net, st)
    online = rule.read(state, net, adv)
    assert rel_err(per_trial, online) <= 1e-12


def test_miconi_follows_the_papers_equations_by_hand():
    """One trial of his network (current form, r = tanh x) simulated by hand: the eligibility
    of eq. 1 and ΔJ = η e (R - R̄) of eq. 2 (R = -ℓ, his trial error), through bp.train's path:
    SGD with lr η applied to the rule's estimate."""
    rng = np.random.default_rng(2)
    n, T, alpha, d = 4, 9, 1 / 3, 0.05
    net = bp.LeakyRNN(
        rng.uniform(-1, 1, (n, 2)),
        1.5 * rng.standard_normal((n, n)) / 2,
        np.eye(1, n),
        0.1 * rng.standard_normal(n),
        alpha=alpha,
        form="current",
        plastic=("W_rec", "b"),
    )
    x = rng.uniform(0, 1, (1, T, 2))
    target = np.full((1, T, 1), 0.98)
    mask = np.zeros((1, T, 1))
    mask[0, -3:] = 1 / 3  # the response window: ℓ = mean |r_0 - target| over it
    rule = make_rule("miconi", {"rate": 0.4, "amplitude": 3.0, "trace_decay": d})
    batch = prepare(net, x, target, mask, None, "absolute")
    baseline = Baseline(0.33, {"all": 0.7})
    value, g, _ = evaluate(net, batch, rule, np.random.default_rng(5), baseline)
    noise = rule.noise(net, 1, T, np.random.default_rng(5)).units[0]
    P = net.params
    v, vbar = np.zeros(n), np.zeros(n)
    e_J, e_b, err = np.zeros((n, n)), np.zeros(n), 0.0
    for t in range(T):
        r_prev = np.tanh(v)
        v = v + alpha * (-v + P["W_rec"] @ r_prev + P["W_in"] @ x[0, t] + P["b"] + noise[t])
        delta = v - vbar  # x_i(t) - x̄_i, x̄ the previous step's average
        e_J += (np.outer(delta, r_prev)) ** 3
        e_b += delta**3
        vbar = d * vbar + (1 - d) * v
        err += mask[0, t, 0] * abs(np.tanh(v)[0] - 0.98)
    R, R_bar = -err, -0.7
    assert value == pytest.approx(err, rel=1e-12)
    eta = 0.1
    np.testing.assert_allclose(-eta * g["W_rec"], eta * e_J * (R - R_bar), rtol=1e-10)
    np.testing.assert_allclose(-eta * g["b"], eta * e_b * (R - R_bar), rtol=1e-10)
    assert baseline.values["all"] == pytest.approx(0.33 * 0.7 + 0.67 * err)
    assert not g["W_in"].any() and not g["W_out"].any()
    # his code's extra factor: × the expected error ℓ̄ of this trial type, before its update
    scaled = make_rule(
        "miconi", {"rate": 0.4, "amplitude": 3.0, "trace_decay": d, "scale_by_baseline": True}
    )
    _, g2, _ = evaluate(net, batch, scaled, np.random.default_rng(5), Baseline(0.33, {"all": 0.7}))
    np.testing.assert_allclose(-eta * g2["W_rec"], eta * e_J * (R - R_bar) * 0.7, rtol=1e-10)


def test_miconi_perturbations_are_sparse_and_uniform():
    net = bp.LeakyRNN.random(1, 50, 1, tau=30.0, form="current", init="miconi", seed=0)
    net = with_plastic(net, ("W_rec", "b"))
    rule = make_rule("miconi", {})
    xi = rule.noise(net, 4, 1000, np.random.default_rng(0)).units
    hit = xi != 0
    assert abs(hit.mean() - 0.003) < 0.0005  # 3 Hz at 1-ms steps
    assert np.abs(xi).max() <= 16.0 and abs(xi[hit].mean()) < 1.5
    assert np.std(xi[hit]) == pytest.approx(16 / np.sqrt(3), rel=0.1)


def test_miconi_refuses_a_learning_readout_and_bad_options():
    p = problem("current")
    with pytest.raises(ValueError, match="freeze the readout"):
        bp.gradient(p.net, p.x, p.target, rule="miconi")
    for opts, pattern in [
        ({"amplitude": 0}, "amplitude"),
        ({"rate": 1.0}, "rate"),
        ({"supralinear": "square"}, "supralinear must be one of"),
        ({"warmup": -1}, "warmup"),
        ({"scale_by_baseline": 1}, "scale_by_baseline"),
        ({"baseline": "clean", "warmup": 5}, "apply to baseline='running' only"),
    ]:
        with pytest.raises(ValueError, match=pattern):
            make_rule("miconi", opts)


# ------------------------------------------------------------------ training with a reward
def small_dnms():
    task = bp.tasks.DelayedNonmatch(stimulus=5, delay=5, wait=5, response=5, target=0.98)
    net = bp.LeakyRNN.random(2, 12, 1, tau=3.0, form="current", init="miconi", seed=1)
    return task, with_plastic(net, ("W_rec", "b"))


MICONI_RUN = dict(
    rule_options={
        "baseline_by": "pair",
        "baseline_decay": 0.75,
        "amplitude": 1.6,
        "rate": 0.05,
        "scale_by_baseline": True,
        "warmup": 3,
    },
    n_trials=24,
    eval_every=8,
    seed=2,
)


def test_training_records_the_reward_and_resumes_bitwise(tmp_path, monkeypatch):
    from test_train import Interrupting, data_vars_equal

    task, net = small_dnms()
    opt = bp.optim.SGD(lr=0.1, clip_value=3e-4)
    whole = bp.train(net, task, "miconi", optimizer=opt, **MICONI_RUN)
    np.testing.assert_array_equal(whole["reward"].values, -whole["loss"].values)
    norms = whole["grad_norm"].values
    # the warm-up teaches nothing; after it, only a trial type's first trial
    assert np.all(norms[:3] == 0) and (norms[3:] > 0).sum() >= 24 - 3 - 4
    assert whole["reward_baseline"].values[0] == whole["reward"].values[0]  # a first trial
    assert set(json.loads(whole.attrs["reward_baseline"])["values"]) <= {"0", "1", "2", "3"}
    dW = np.abs(whole["W_rec"].values - whole["W_rec_initial"].values)
    assert 0 < dW.max() <= 3e-4 * (24 - 3) + 1e-15  # each update clipped to ±3e-4
    out = tmp_path / "run.nc"
    monkeypatch.setattr("bioplastic.training.run.task_config", lambda t: bp.tasks.task_config(task))
    part = bp.train(net, Interrupting(task, at=11), "miconi", optimizer=opt, out=out, **MICONI_RUN)
    assert part.attrs["status"] == "interrupted" and part.sizes["trial"] == 10
    data_vars_equal(bp.resume(out), whole)


def test_a_ctrl_c_after_the_baseline_moved_rolls_it_back(tmp_path, monkeypatch):
    """Interrupted inside an update, after the reward was scored and the weights changed: the
    resumed run equals the uninterrupted one (the baseline returns to the last update)."""
    from test_train import data_vars_equal

    from bioplastic import training

    task, net = small_dnms()
    opt = bp.optim.SGD(lr=0.1, clip_value=3e-4)
    whole = bp.train(net, task, "miconi", optimizer=opt, **MICONI_RUN)
    real_apply = training.updates.apply
    fired = []

    def patched(run, state, grads, n_steps):
        out = real_apply(run, state, grads, n_steps)
        if state.done == 12 and not fired:
            fired.append(True)
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(training.updates, "apply", patched)
    out = tmp_path / "run.nc"
    part = bp.train(net, task, "miconi", optimizer=opt, out=out, **MICONI_RUN)
    assert part.attrs["status"] == "interrupted" and fired
    monkeypatch.setattr(training.updates, "apply", real_apply)
    data_vars_equal(bp.resume(out), whole)


def test_reward_rules_refuse_online_updates_and_feedback():
    task, net = small_dnms()
    with pytest.raises(ValueError, match="update='trial'"):
        bp.train(net, task, "miconi", update="online", n_trials=2)
    with pytest.raises(ValueError, match="leave feedback unset"):
        bp.train(net, task, "node_perturbation", feedback="random", n_trials=2)


def test_dnms_trials_follow_miconi():
    task = bp.tasks.DelayedNonmatch()
    tr = task.every_condition()
    assert tr.x.shape == (4, 1000, 2) and task.loss == "absolute"
    np.testing.assert_array_equal(tr.conditions["pair"], [0, 1, 2, 3])
    # AB: A (channel 0) on for 0-199, B (channel 1) on for 400-599, nothing else
    ab = tr.x[1]
    assert ab[:200, 0].all() and not ab[200:, 0].any() and not ab[:400, 1].any()
    assert ab[400:600, 1].all() and not ab[600:, 1].any()
    np.testing.assert_array_equal(tr.target[:, 0, 0], [-1, 1, 1, -1])
    m = tr.mask[0, :, 0]
    assert not m[:800].any() and np.allclose(m[800:], 1 / 200)
    for bad in ([4], [1.7], ["AB"], [[0, 1]]):
        with pytest.raises(ValueError, match="trial types 0"):
            task.trials(bad)
    with pytest.raises(ValueError, match="stimulus"):
        bp.tasks.DelayedNonmatch(stimulus=0)


def test_sgd_clip_value_clips_each_change():
    opt = bp.optim.SGD(lr=1.0, clip_value=0.5)
    up, _ = opt.update({"W_rec": np.array([[-2.0, 0.1], [0.7, -0.3]])}, {})
    np.testing.assert_array_equal(up["W_rec"], [[0.5, -0.1], [-0.5, 0.3]])
    with pytest.raises(ValueError, match="clip_value"):
        bp.optim.SGD(clip_value=0)


def test_the_dnms_preset_is_miconis_setup():
    from pathlib import Path

    from bioplastic.config import build, load_preset

    preset = load_preset(Path(__file__).resolve().parent.parent / "models" / "miconi2017_dnms.toml")
    net, task, opt = build(preset)
    assert net.form == "current" and net.alpha == pytest.approx(1 / 30) and net.n_rec == 197
    assert net.plastic == {"W_rec", "b"}
    P = net.params
    assert not P["W_in"][0].any() and np.abs(P["W_in"][1:]).max() <= 1  # U(-1, 1), none to r₀
    np.testing.assert_array_equal(P["W_out"], np.eye(1, 197))
    assert np.std(P["W_rec"]) * np.sqrt(197) == pytest.approx(1.5, rel=0.02)
    assert task.n_steps == 1000 and task.target == 0.98 and task.loss == "absolute"
    rule = make_rule(preset.rule.name, preset.rule.options)
    assert (rule.amplitude, rule.rate, rule.trace_decay, rule.baseline_decay) == (
        16.0,
        0.003,
        0.05,
        0.75,
    )
    assert rule.baseline_by == "pair" and rule.scale_by_baseline and rule.warmup == 100
    assert opt.lr["W_rec"] == 0.1 and opt.clip_value == 3e-4


def test_reward_rules_align_with_the_gradient_and_probe_in_training():
    """align_with and probes give one-off estimates of a reward rule on the held-out trials
    (finite cosines, even with baseline_by and a warm-up longer than the held-out set)."""
    task, net = small_dnms()
    ds = bp.train(
        net,
        task,
        "miconi",
        optimizer=bp.optim.SGD(lr=0.1, clip_value=3e-4),
        align_with="bptt",
        probe=[{"name": "node_perturbation", "sigma": 0.01}],
        **MICONI_RUN,
    )
    learning = ["W_rec", "b", "recurrent"]  # (a frozen parameter's cosine is NaN: 0 / 0)
    assert np.isfinite(ds["eval_alignment"].sel(param=learning).values).all()
    assert np.isfinite(ds["probe_cosine"].sel(param=learning).values).all()
