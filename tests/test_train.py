"""bioplastic.train: learning, recording, structure, determinism, and no lost data."""

import signal

import numpy as np
import pytest
import xarray as xr

import bioplastic as bp
from bioplastic import training
from bioplastic.gradient import evaluate as evaluate_rule
from bioplastic.optim import SGD, Adam
from bioplastic.tasks import PeriodicOutput

TASK = PeriodicOutput(period=3.0, tau=5.0)  # 15 steps per trial


def small_net(seed=0, **kw):
    return bp.LeakyRNN.random(1, 8, 1, tau=5.0, seed=seed, **kw)


def data_vars_equal(a: xr.Dataset, b: xr.Dataset) -> None:
    assert set(a.data_vars) == set(b.data_vars)
    for k in a.data_vars:
        np.testing.assert_array_equal(a[k].values, b[k].values, err_msg=k)
    for k in a.coords:
        np.testing.assert_array_equal(a[k].values, b[k].values, err_msg=k)
    for k in ("config", "rng_state", "status", "seed"):
        assert a.attrs[k] == b.attrs[k], k


@pytest.mark.parametrize("rule", ["bptt", "rtrl", "rflo", "eprop", "snap1", "uoro"])
def test_training_reduces_the_loss(rule):
    ds = bp.train(
        small_net(),
        TASK,
        rule,
        optimizer=Adam(lr=3e-3),
        n_trials=300,
        eval_every=100,
        feedback="symmetric",
        seed=1,
    )
    assert ds.attrs["status"] == "complete"
    assert ds.eval_loss.values[-1] < 0.5 * ds.eval_loss.values[0]


def test_the_first_bptt_update_is_minus_lr_times_the_finite_difference_gradient():
    """Independent of every gradient code path: central differences of the first batch's
    loss (a BPTT that lost its leak term, or its last step, moves differently)."""
    net = bp.LeakyRNN.random(1, 5, 1, tau=4.0, seed=2)
    lr = 0.05
    ds = bp.train(net, TASK, "bptt", optimizer=SGD(lr=lr), n_trials=1, seed=6)
    batch = TASK.sample(1, training.streams(6)["task"])
    for k in ("W_rec", "W_in", "b", "W_out"):
        base = net.params[k]
        fd = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            step = np.zeros_like(base)
            step[i] = 1e-6
            up = bp.loss(net.with_params({k: base + step}), batch.x, batch.target)
            down = bp.loss(net.with_params({k: base - step}), batch.x, batch.target)
            fd[i] = (up - down) / 2e-6
        np.testing.assert_allclose(ds[k].values, base - lr * fd, rtol=1e-7, atol=1e-9, err_msg=k)


def test_the_dataset_schema():
    ds = bp.train(
        small_net(),
        TASK,
        "rflo",
        n_trials=40,
        batch_size=4,
        eval_every=5,
        align_with="bptt",
        optimizer=SGD(lr=0.01),
        seed=3,
    )
    assert ds.sizes["trial"] == 10 and list(ds.trial.values) == list(range(4, 44, 4))
    assert ds.loss.dims == ("trial",) and ds.alignment.dims == ("trial", "param")
    assert list(ds.param.values) == ["W_in", "W_rec", "b", "W_out", "b_out", "recurrent", "all"]
    assert list(ds.trials_seen.values) == [0, 20, 40]  # start, every 5 updates, end
    assert ds.eval_output.dims == ("stage", "example", "time", "output")
    assert "output" not in ds.coords  # the dimension is not shadowed by a variable
    assert list(ds.stage.values) == ["initial", "final"]
    assert ds.eval_rates.sizes["unit"] == 8 and ds.W_rec.dims == ("unit", "presynaptic")
    assert ds.feedback.dims == ("unit", "output")
    for k in ("bioplastic_version", "numpy_version", "config", "seed", "created", "status"):
        assert k in ds.attrs
    assert ds.loss.attrs["units"] == "1" and ds.alignment.attrs["long_name"].startswith("cosine")
    # the alignment of a rule with itself is 1, and RFLO's readout is exact
    np.testing.assert_allclose(ds.alignment.sel(param="W_out"), 1.0, atol=1e-12)
    # the first update's cosine, recomputed from the run's first batch and its feedback B
    streams = training.streams(3)
    first = TASK.sample(4, streams["task"])
    B = bp.rules.feedback_matrix(small_net(), "random", streams["feedback"])
    est = bp.gradient(small_net(), first.x, first.target, rule="rflo", feedback=B)["W_rec"]
    ref = bp.gradient(small_net(), first.x, first.target, rule="bptt")["W_rec"]
    cos = np.sum(est * ref) / np.linalg.norm(est) / np.linalg.norm(ref)
    assert float(ds.alignment.sel(param="W_rec")[0]) == pytest.approx(cos, rel=1e-10)
    np.testing.assert_array_equal(ds.feedback.values, B)  # RFLO's random B stays fixed
    net_final = bp.LeakyRNN(**{k: ds[k].values for k in bp.PARAM_NAMES}, alpha=0.2)
    assert bp.loss(net_final, TASK.sample(1).x, TASK.sample(1).target) == pytest.approx(
        float(ds.eval_loss[-1]), rel=1e-12
    )


def test_same_seed_bitwise_identical_and_different_seed_differs():
    kw = dict(n_trials=30, eval_every=10, optimizer=Adam(lr=1e-2), align_with="bptt")
    a = bp.train(small_net(), TASK, "uoro", seed=7, **kw)
    b = bp.train(small_net(), TASK, "uoro", seed=7, **kw)
    c = bp.train(small_net(), TASK, "uoro", seed=8, **kw)
    data_vars_equal(a, b)
    assert not np.array_equal(a.loss.values, c.loss.values)


def test_structure_holds_during_training():
    rng = np.random.default_rng(0)
    dale_net = small_net(exc_fraction=0.75)
    mask = rng.random((8, 8)) < 0.5
    p = dale_net.params
    net = bp.LeakyRNN(
        p["W_in"],
        p["W_rec"] * mask,
        p["W_out"],
        alpha=0.2,
        dale=dale_net.dale,
        connectivity={"W_rec": mask},
        plastic=("W_rec", "W_out"),
    )
    ds = bp.train(net, TASK, "bptt", optimizer=SGD(lr=0.05), n_trials=60, seed=0)
    W = ds.W_rec.values
    assert np.all(W[~mask] == 0)
    assert np.all(W * dale_net.dale[None, :] >= 0)
    assert not np.array_equal(W, ds.W_rec_initial.values)
    np.testing.assert_array_equal(ds.W_in.values, ds.W_in_initial.values)
    np.testing.assert_array_equal(ds.b.values, ds.b_initial.values)


def test_random_feedback_is_fixed_and_adaptive_feedback_follows_w_out():
    ds = bp.train(small_net(), TASK, "rflo", optimizer=SGD(lr=0.01), n_trials=20, seed=2)
    B0 = bp.rules.feedback.feedback_matrix(small_net(), "random", training.streams(2)["feedback"])
    np.testing.assert_array_equal(ds.feedback.values, B0)
    kp = bp.train(
        small_net(),
        TASK,
        "rflo",
        feedback="adaptive",
        kp_decay=0.1,
        optimizer=SGD(lr=0.01),
        n_trials=20,
        seed=2,
    )
    # Kolen–Pollack: B - W_outᵀ shrinks by (1 - decay) per update
    gap0 = B0 - kp.W_out_initial.values.T
    gap = kp.feedback.values - kp.W_out.values.T
    np.testing.assert_allclose(gap, 0.9**20 * gap0, rtol=1e-10, atol=1e-14)
    assert kp.readout_alignment.values[-1] > kp.readout_alignment.values[0]


def test_online_updates_match_per_trial_updates_when_once_per_trial():
    """update='online' with one update at the end of the trial is update='trial'."""
    kw = dict(n_trials=10, optimizer=SGD(lr=0.02), seed=4, feedback="symmetric")
    for rule in ("rflo", "rtrl", "bptt"):
        a = bp.train(small_net(), TASK, rule, update="trial", **kw)
        b = bp.train(small_net(), TASK, rule, update="online", update_every=TASK.n_steps, **kw)
        np.testing.assert_allclose(a.loss, b.loss, rtol=1e-10)
        np.testing.assert_allclose(a.W_rec, b.W_rec, rtol=1e-10, atol=1e-14)


def test_online_updates_every_k_steps():
    """Real-time learning: weights change within the trial, and still learn."""
    a = bp.train(
        small_net(),
        TASK,
        "rtrl",
        update="online",
        update_every=1,
        optimizer=SGD(lr=0.01),
        n_trials=200,
        eval_every=50,
        seed=0,
    )
    b = bp.train(
        small_net(),
        TASK,
        "rtrl",
        update="trial",
        optimizer=SGD(lr=0.01),
        n_trials=200,
        eval_every=50,
        seed=0,
    )
    assert a.eval_loss.values[-1] < 0.5 * a.eval_loss.values[0]
    assert not np.allclose(a.W_rec, b.W_rec)


def williams_zipser_net(seed=0):
    rng = np.random.default_rng(seed)
    n = 6
    W_out = np.zeros((1, n))
    W_out[0, 0] = 1.0  # the output is unit 0
    return bp.LeakyRNN(
        0.5 * rng.standard_normal((n, 1)),
        rng.standard_normal((n, n)) / np.sqrt(n),
        W_out,
        alpha=1.0,
        plastic=("W_in", "W_rec", "b"),
    )


def test_teacher_forcing_feeds_targets_back():
    task = PeriodicOutput(period=10, tau=1, dt=1)
    net = williams_zipser_net()
    forced = bp.train(
        net,
        task,
        "rtrl",
        teacher_forcing=True,
        update="online",
        update_every=1,
        optimizer=SGD(lr=0.05),
        n_trials=150,
        eval_every=50,
        seed=0,
    )
    assert forced.attrs["status"] == "complete"
    assert forced.eval_loss.values[-1] < 0.3 * forced.eval_loss.values[0]
    free = bp.train(
        net,
        task,
        "rtrl",
        update="online",
        update_every=1,
        optimizer=SGD(lr=0.05),
        n_trials=1,
        seed=0,
    )
    once = bp.train(
        net,
        task,
        "rtrl",
        teacher_forcing=True,
        update="online",
        update_every=1,
        optimizer=SGD(lr=0.05),
        n_trials=1,
        seed=0,
    )
    assert not np.allclose(free.W_rec, once.W_rec)  # forcing changes what is learned
    with pytest.raises(ValueError, match="teacher_forcing needs a Williams–Zipser network"):
        bp.train(small_net(), TASK, "rtrl", teacher_forcing=True, n_trials=1)
    with pytest.raises(ValueError, match="rule 'kernl' has no teacher forcing: its sensitivity"):
        bp.train(net, task, "kernl", teacher_forcing=True, n_trials=1)


def test_clipping_holds_during_training():
    """Clipping is on the global norm of every plastic parameter's gradient: one update moves
    all of them together by exactly lr · clip_norm (the raw gradient is far larger)."""
    ds = bp.train(
        small_net(), TASK, "bptt", optimizer=SGD(lr=1.0, clip_norm=1e-3), n_trials=1, seed=0
    )
    moved = [ds[k].values - ds[f"{k}_initial"].values for k in bp.PARAM_NAMES]
    assert np.sqrt(sum(np.sum(d**2) for d in moved)) == pytest.approx(1e-3, rel=1e-9)
    assert all(np.any(d != 0) for d in moved)  # every parameter moved, not W_rec alone
    assert float(ds.grad_norm[0]) > 1e-2


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        ({"update": "sometimes"}, ValueError, r"update must be one of \['trial', 'online'\]"),
        ({"n_trials": 0}, ValueError, r"n_trials must be an int > 0; got 0"),
        ({"update_every": 3}, ValueError, r"update_every applies to update='online' only"),
        (
            {"teacher_forcing": True, "align_with": "bptt"},
            ValueError,
            r"align_with does not combine with teacher forcing",
        ),
        ({"align_with": "rflo"}, ValueError, r"align_with must be one of \['bptt', 'rtrl'\]"),
        (
            {"h0": "ones"},
            ValueError,
            r"h0 must be 'zeros', 'random' or a finite number; got 'ones'",
        ),
        (
            {"h0": float("nan")},
            ValueError,
            r"h0 must be 'zeros', 'random' or a finite number; got nan",
        ),
        ({"kp_decay": 1.5}, ValueError, r"kp_decay must lie in \[0, 1\)"),
        ({"optimizer": "adam"}, TypeError, r"optimizer must be bioplastic.optim.SGD or Adam"),
        ({"seed": -2}, ValueError, r"seed must be a non-negative int"),
        ({"out": "run.csv"}, ValueError, r"out must end in .nc"),
        ({"probe": ["rflo", "nope"]}, ValueError, r"rule must be one of .*'rflo'"),
        ({"probe": [{"truncation": 3}]}, ValueError, r"probe entry must be a rule name.*name"),
        ({"probe": ["rflo", "rflo"]}, ValueError, r"probe rules must be distinct"),
        ({"probe": [{"name": "tbptt", "window": 3}]}, TypeError, r"window"),
    ],
)
def test_bad_training_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        bp.train(small_net(), TASK, "bptt", **{"n_trials": 2, **kwargs})
    with pytest.raises(ValueError, match=r"the task has n_in=1 but the network has n_in=2"):
        bp.train(bp.LeakyRNN.random(2, 4, 1, tau=5.0), TASK, n_trials=1)


# --------------------------------------------------------------------------- no lost data
def test_divergence_stops_and_saves_a_partial_run(tmp_path):
    out = tmp_path / "run.nc"
    with pytest.warns(
        RuntimeWarning, match=r"training diverged at trial \d+ .*smaller learning rate"
    ):
        ds = bp.train(
            small_net(), TASK, "bptt", optimizer=SGD(lr=1e6), n_trials=50, seed=0, out=out
        )
    assert ds.attrs["status"] == "diverged"
    assert 0 < ds.sizes["trial"] < 50 and np.isfinite(ds.loss).all()
    saved = bp.load(out)
    assert saved.attrs["status"] == "diverged" and saved.sizes["trial"] == ds.sizes["trial"]
    assert "smaller learning rate" in saved.attrs["message"]


class Interrupting:
    """A task that raises KeyboardInterrupt (as Ctrl-C would) on its n-th sample."""

    def __init__(self, task, at):
        self.task, self.at, self.calls = task, at, 0
        self.name, self.n_in, self.n_out = task.name, task.n_in, task.n_out

    def sample(self, n, rng=None):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.task.sample(n, rng)

    def __getattr__(self, name):
        return getattr(self.task, name)


@pytest.mark.parametrize("rule,optimizer", [("uoro", Adam(lr=1e-2)), ("rflo", SGD(lr=0.01))])
def test_interrupt_saves_and_resume_is_bitwise_identical(tmp_path, rule, optimizer, monkeypatch):
    kw = dict(
        n_trials=40,
        batch_size=2,
        eval_every=4,
        optimizer=optimizer,
        seed=5,
        align_with="bptt",
        feedback="adaptive",
        probe=["eprop", {"name": "tbptt", "truncation": 4}],
    )
    whole = bp.train(small_net(), TASK, rule, **kw)
    assert whole.sizes["probe"] == 2
    out = tmp_path / "run.nc"
    monkeypatch.setattr("bioplastic.training.run.task_config", lambda t: bp.tasks.task_config(TASK))
    # the eval trials are sampled first (call 1); interrupt inside update 13
    part = bp.train(small_net(), Interrupting(TASK, at=14), rule, out=out, **kw)
    assert part.attrs["status"] == "interrupted" and part.sizes["trial"] == 12
    assert bp.load(out).attrs["status"] == "interrupted"
    resumed = bp.resume(out)
    assert resumed.attrs["status"] == "complete"
    data_vars_equal(resumed, whole)
    data_vars_equal(bp.load(out), whole)
    assert bp.resume(out).attrs["status"] == "complete"  # a complete run stays as it is


def test_checkpoints_are_written_during_the_run(tmp_path, monkeypatch):
    out = tmp_path / "run.nc"
    seen = []
    real_save = training.loop.save

    def spy(ds, path):
        seen.append((ds.attrs["status"], ds.sizes["trial"]))
        return real_save(ds, path)

    monkeypatch.setattr(training.loop, "save", spy)
    bp.train(small_net(), TASK, "rflo", n_trials=30, checkpoint_every=10, out=out, seed=0)
    assert seen == [("running", 10), ("running", 20), ("complete", 30)]


def test_a_last_smaller_batch_when_the_batch_size_does_not_divide_n_trials():
    ds = bp.train(small_net(), TASK, "rflo", n_trials=10, batch_size=4, eval_every=2, seed=0)
    assert list(ds.trial.values) == [4, 8, 10]
    assert list(ds.trials_seen.values) == [0, 8, 10]


@pytest.mark.parametrize("rule", ["bptt", "rflo", "uoro"])
def test_one_update_is_the_documented_sgd_step(rule):
    """train() = W ← W - lr · gradient(rule) on the same trials, feedback and seed streams."""
    net = small_net(seed=4)
    ds = bp.train(net, TASK, rule, optimizer=SGD(lr=0.05), n_trials=2, batch_size=2, seed=9)
    streams = training.streams(9)
    trials = TASK.sample(2, streams["task"])
    r = bp.rules.make_rule(rule, {})
    B = bp.rules.feedback_matrix(net, r.default_feedback, streams["feedback"])
    batch = bp.objective.prepare(net, trials.x, trials.target)
    loss, g = evaluate_rule(net, batch, r, B, streams["rule"])
    assert float(ds.loss[0]) == loss
    for k in bp.PARAM_NAMES:
        np.testing.assert_array_equal(ds[k].values, net.params[k] - 0.05 * g[k])


# --------------------------------------------------------------------------- review findings
def test_overflowing_simulation_is_saved_as_diverged(tmp_path):
    net = bp.LeakyRNN.random(1, 8, 1, tau=5.0, activation="linear")
    out = tmp_path / "lin.nc"
    with pytest.warns(RuntimeWarning, match="diverged"):
        ds = bp.train(
            net, TASK, "bptt", optimizer=SGD(lr=10.0), n_trials=200, eval_every=3, out=out, seed=0
        )
    assert ds.attrs["status"] == "diverged" and bp.load(out).attrs["status"] == "diverged"


class Once:
    """Raise KeyboardInterrupt the first time ``when(state)`` holds, then behave."""

    def __init__(self, when):
        self.when, self.fired = when, False

    def __call__(self, *args):
        if not self.fired and self.when(*args):
            self.fired = True
            raise KeyboardInterrupt


@pytest.mark.parametrize("where", ["evaluate", "apply", "online_apply"])
def test_interrupts_anywhere_in_an_update_resume_bitwise(tmp_path, monkeypatch, where):
    """Ctrl-C inside an update, between its weight change and its records.  Online, the numpy
    path (the compiled kernel takes a chunk at once, and is interrupted between chunks)."""
    online = where == "online_apply"
    if online:
        monkeypatch.setenv("BIOPLASTIC_NO_NUMBA", "1")
    kw = dict(
        n_trials=24,
        eval_every=4,
        optimizer=Adam(lr=1e-2),
        seed=2,
        **({"update": "online", "update_every": 5} if online else {"align_with": "bptt"}),
    )
    whole = bp.train(small_net(), TASK, "rflo", **kw)
    out = tmp_path / "run.nc"
    real_eval, real_apply = training.loop.evaluate, training.updates.apply
    trigger = Once(lambda run, state, *a: state.done == 12)
    if where == "evaluate":

        def patched(run, state, record=True):
            trigger(run, state)
            return real_eval(run, state, record)

        monkeypatch.setattr(training.loop, "evaluate", patched)
    else:

        def patched(run, state, grads, n_steps):
            norm = real_apply(run, state, grads, n_steps)  # the update is applied, then Ctrl-C
            trigger(run, state)
            return norm

        monkeypatch.setattr(training.updates, "apply", patched)
    part = bp.train(small_net(), TASK, "rflo", out=out, **kw)
    assert part.attrs["status"] == "interrupted" and trigger.fired
    monkeypatch.setattr(training.loop, "evaluate", real_eval)
    monkeypatch.setattr(training.updates, "apply", real_apply)
    data_vars_equal(bp.resume(out), whole)


class SignalInFinalizer:
    """Sends SIGINT from ``__del__``: where Python swallows a raised KeyboardInterrupt."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)


def test_ctrl_c_inside_a_finalizer_is_not_lost(tmp_path, monkeypatch):
    kw = dict(n_trials=24, eval_every=4, optimizer=Adam(lr=1e-2), seed=2)
    whole = bp.train(small_net(), TASK, "rflo", **kw)
    real_apply = training.updates.apply

    def patched(run, state, grads, n_steps):
        norm = real_apply(run, state, grads, n_steps)
        if state.done == 12:
            SignalInFinalizer()  # dropped at once: SIGINT arrives inside __del__
        return norm

    monkeypatch.setattr(training.updates, "apply", patched)
    out = tmp_path / "run.nc"
    part = bp.train(small_net(), TASK, "rflo", out=out, **kw)
    assert part.attrs["status"] == "interrupted"
    assert part.sizes["trial"] == 13  # the update in flight when the signal came is kept
    monkeypatch.undo()
    data_vars_equal(bp.resume(out), whole)


def test_a_signal_during_the_final_save_acts_once_the_run_is_saved(tmp_path, monkeypatch):
    real_save = training.loop.save

    def save_with_ctrl_c(ds, target):
        if ds.attrs["status"] == "complete":
            signal.raise_signal(signal.SIGINT)  # lands inside the final save
        real_save(ds, target)

    monkeypatch.setattr(training.loop, "save", save_with_ctrl_c)
    out = tmp_path / "run.nc"
    with pytest.raises(KeyboardInterrupt):
        bp.train(small_net(), TASK, "rflo", n_trials=6, optimizer=Adam(lr=1e-2), out=out)
    assert bp.load(out).attrs["status"] == "complete"


def test_float32_runs_resume_in_float32(tmp_path):
    net = small_net().astype(np.float32)
    whole = bp.train(net, TASK, "bptt", n_trials=20, optimizer=SGD(lr=0.01), seed=0)
    assert whole.W_rec.dtype == np.float32
    out = tmp_path / "run.nc"
    part = bp.train(
        net, Interrupting(TASK, at=8), "bptt", n_trials=20, optimizer=SGD(lr=0.01), seed=0, out=out
    )
    assert part.attrs["status"] == "interrupted"
    data_vars_equal(bp.resume(out), whole)


def test_recorded_statistics_mean_what_they_say():
    ds = bp.train(
        small_net(),
        TASK,
        "rflo",
        n_trials=12,
        eval_every=4,
        align_with="bptt",
        optimizer=SGD(lr=0.02),
        seed=1,
    )
    W = ds.W_rec.values
    assert float(ds.spectral_radius[-1]) == pytest.approx(np.max(np.abs(np.linalg.eigvals(W))))
    np.testing.assert_allclose(
        ds.weight_norm[-1].values, [np.linalg.norm(ds[k].values) for k in bp.PARAM_NAMES]
    )
    # one update: grad_norm is the norm of the rule's estimate, norm_ratio its norm over BPTT's
    one = bp.train(
        small_net(), TASK, "rflo", n_trials=1, align_with="bptt", optimizer=SGD(lr=0.02), seed=1
    )
    streams = training.streams(1)
    trials = TASK.sample(1, streams["task"])
    net = small_net()
    B = bp.rules.feedback_matrix(net, "random", streams["feedback"])
    batch = bp.objective.prepare(net, trials.x, trials.target)
    _, g = evaluate_rule(net, batch, bp.rules.make_rule("rflo", {}), B, streams["rule"])
    exact = bp.gradient(net, trials.x, trials.target)
    assert float(one.grad_norm[0]) == pytest.approx(np.sqrt(sum(np.sum(v**2) for v in g.values())))
    ratio = np.linalg.norm(g["W_rec"]) / np.linalg.norm(exact["W_rec"])
    assert float(one.norm_ratio.sel(param="W_rec")[0]) == pytest.approx(ratio)


def test_teacher_forcing_replaces_the_read_out_units_by_their_targets():
    """With lr = 0 the recorded loss is that of a simulation where unit 0 is set to its target
    after every step."""
    task = PeriodicOutput(period=10, tau=1, dt=1)
    net = williams_zipser_net()
    ds = bp.train(
        net,
        task,
        "rtrl",
        teacher_forcing=True,
        update="online",
        update_every=1,
        optimizer=SGD(lr=0.0),
        n_trials=1,
        seed=0,
    )
    tr = task.sample(1)
    p = net.params
    h = np.zeros(6)
    loss = 0.0
    for t in range(task.n_steps):
        h = np.tanh(p["W_rec"] @ h + p["W_in"] @ tr.x[0, t] + p["b"])
        loss += 0.5 * (h[0] - tr.target[0, t, 0]) ** 2
        h[0] = tr.target[0, t, 0]  # forced
    assert float(ds.loss[0]) == pytest.approx(loss, rel=1e-12)
    with pytest.raises(ValueError, match="align_with does not combine with teacher forcing"):
        bp.train(net, task, "rtrl", teacher_forcing=True, align_with="rtrl", n_trials=1)


def test_a_network_that_cannot_leave_the_origin_is_refused():
    task = PeriodicOutput(period=3.0, tau=5.0, input="none")
    net = bp.LeakyRNN(
        np.zeros((8, 0)),
        small_net().params["W_rec"],
        small_net().params["W_out"],
        alpha=0.2,
        plastic=("W_rec", "W_out"),
    )
    with pytest.raises(ValueError, match="never leaves the origin: use h0='random'"):
        bp.train(net, task, "bptt", n_trials=2)
    ds = bp.train(net, task, "bptt", n_trials=20, h0="random", optimizer=SGD(lr=0.05), seed=0)
    assert not np.array_equal(ds.W_rec.values, ds.W_rec_initial.values)
    with pytest.raises(ValueError, match="never leaves the origin"):
        bp.train(net, task, "bptt", n_trials=2, h0=0.0)


def test_a_constant_initial_state_starts_every_trial_and_held_out_trial():
    """``h0=0.1`` (Murray's code): every unit starts at 0.1, in training and evaluation."""
    task = PeriodicOutput(period=3.0, tau=5.0, input="none")
    net = bp.LeakyRNN.random(0, 8, 1, tau=5.0, seed=1)
    ds = bp.train(net, task, "bptt", n_trials=1, h0=0.1, optimizer=SGD(lr=0.0), seed=0)
    _, trials, h0 = training.held_out(ds)
    np.testing.assert_array_equal(h0, np.full(8, 0.1))
    states, outputs = net.run(trials.x, h0=np.full(8, 0.1))
    np.testing.assert_allclose(ds.eval_output.sel(stage="initial").values, outputs, rtol=1e-13)
    want = bp.loss(net, trials.x, trials.target, h0=np.full(8, 0.1))
    assert ds.loss.values[0] == pytest.approx(want, rel=1e-13)


def test_mean_over_time_divides_the_update_by_the_trial_length():
    a = bp.train(
        small_net(), TASK, "bptt", optimizer=SGD(lr=0.3), n_trials=3, seed=0, mean_over_time=True
    )
    b = bp.train(
        small_net(), TASK, "bptt", optimizer=SGD(lr=0.3 / TASK.n_steps), n_trials=3, seed=0
    )
    np.testing.assert_allclose(a.W_rec.values, b.W_rec.values, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(a.loss.values[:1], b.loss.values[:1])


def test_probe_records_each_rule_s_alignment_at_every_evaluation():
    """probe_cosine at the end is bp.alignment() of the final weights on the held-out trials."""
    probe = ["rflo", {"name": "tbptt", "truncation": 4}, "uoro"]
    ds = bp.train(small_net(), TASK, "bptt", n_trials=30, eval_every=10, probe=probe, seed=2)
    assert ds["probe_cosine"].dims == ("evaluation", "probe", "param")
    assert list(ds["probe"].values) == ["rflo", "tbptt(truncation=4)", "uoro"]
    assert ds.sizes["evaluation"] == 4
    net, trials, h0 = training.held_out(ds)
    specs = ["rflo", ("tbptt", {"truncation": 4}), "uoro"]
    want = bp.alignment(net, trials.x, trials.target, specs, seed=2 + 3, h0=h0, pairwise=True)
    np.testing.assert_array_equal(ds["probe_cosine"].values[-1], want["cosine"].values)
    np.testing.assert_array_equal(ds["probe_pairwise"].values[-1], want["pairwise_cosine"].values)
    # the probe only observes: training is unchanged
    plain = bp.train(small_net(), TASK, "bptt", n_trials=30, eval_every=10, seed=2)
    np.testing.assert_array_equal(plain["W_rec"].values, ds["W_rec"].values)


def test_align_with_records_the_rule_s_own_alignment_at_every_evaluation():
    """``eval_alignment``: the training rule's estimate, with the run's B, against BPTT on the
    held-out trials, in trial and online mode (where an exact rule scores 1)."""
    ds = bp.train(
        small_net(),
        TASK,
        "rflo",
        optimizer=SGD(lr=0.05),
        n_trials=6,
        eval_every=3,
        align_with="bptt",
        seed=1,
    )
    assert ds.eval_alignment.dims == ("evaluation", "param")
    assert ds.sizes["evaluation"] == 3
    net, trials, h0 = training.held_out(ds)  # the final network: the last evaluation
    g = bp.gradient(net, trials.x, trials.target, rule="rflo", feedback=ds.feedback.values, h0=h0)
    exact = bp.gradient(net, trials.x, trials.target, rule="bptt", h0=h0)
    a, b = g["W_rec"].ravel(), exact["W_rec"].ravel()
    want = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert ds.eval_alignment.sel(param="W_rec").values[-1] == pytest.approx(want, rel=1e-10)
    from bioplastic.tasks import Add

    stream = Add(t1=1, t2=2, chunk=20, test_steps=200, test_warmup=20)
    net = bp.LeakyRNN.random(2, 6, 2, tau=2.0, seed=0)
    for rule, exact_rule in (("rtrl", True), ("snap1", False)):
        ds = bp.train(
            net,
            stream,
            rule,
            update="online",
            optimizer=Adam(lr=1e-2),
            n_trials=4,
            eval_every=2,
            n_eval=1,
            align_with="bptt",
            seed=0,
        )
        cos = ds.eval_alignment.sel(param="recurrent").values
        assert cos.shape == (3,) and np.all(np.isfinite(cos))
        if exact_rule:
            np.testing.assert_allclose(cos, 1.0, atol=1e-10)
        else:
            assert np.all(cos < 1 - 1e-6)


@pytest.mark.parametrize("update", ["trial", "online"])
def test_a_masked_task_trains_on_the_masked_loss_and_gradient(update):
    """Ready–Set–Go scored only from Set on: the first recorded loss and the first update are
    those of ``bp.loss`` and ``bp.gradient`` with the task's mask, in both update modes."""
    from bioplastic.tasks import ReadySetGo

    task = ReadySetGo(intervals=[6, 9], ready=2, cue_width=2, tail=3, response_only=True)
    net = bp.LeakyRNN.random(2, 8, 1, tau=3.0, seed=5)
    rule = "bptt" if update == "trial" else "rtrl"  # one online update at the trial's end
    ds = bp.train(net, task, rule, update=update, optimizer=SGD(lr=0.1), n_trials=1, seed=4)
    trials = task.sample(1, training.streams(4)["task"])
    assert 0 < trials.mask.sum() < trials.mask.size  # the mask bites
    assert float(ds.loss[0]) == pytest.approx(
        bp.loss(net, trials.x, trials.target, trials.mask), rel=1e-12
    )
    assert float(ds.loss[0]) < bp.loss(net, trials.x, trials.target)
    g = bp.gradient(net, trials.x, trials.target, trials.mask, rule="bptt")
    for k in bp.PARAM_NAMES:
        np.testing.assert_allclose(
            ds[k].values, net.params[k] - 0.1 * g[k], rtol=1e-10, atol=1e-13, err_msg=k
        )


def test_the_run_s_random_streams_are_independent_and_held_out_data_is_not_training_data():
    """Each stream (task, rule, feedback, eval, h0) draws its own numbers from one seed, so the
    held-out set is not the first training data."""
    from bioplastic.tasks import Add

    first = {k: g.random(3) for k, g in training.streams(3).items()}
    values = [tuple(v) for v in first.values()]
    assert len(set(values)) == len(values) == len(training.STREAMS)
    assert np.array_equal(training.streams(3)["task"].random(3), first["task"])  # seeded
    task = Add(t1=1, t2=2, chunk=50, test_steps=200, test_warmup=20)
    ds = bp.train(
        bp.LeakyRNN.random(2, 4, 2, tau=2.0),
        task,
        "rflo",
        update="online",
        n_trials=1,
        n_eval=1,
        seed=3,
    )
    _, held, _ = training.held_out(ds)
    trained_on = task.stream(1, training.streams(3)["task"]).next()
    assert not np.array_equal(held.x[:, :50], trained_on.x)


@pytest.mark.parametrize("h0", ["random", 0.3])
def test_the_held_out_loss_is_that_of_the_run_s_own_initial_state(h0):
    """eval_loss, recomputed from the saved run alone: its final network, its held-out trials
    and the h0 that held_out() returns (also the training trials start there)."""
    ds = bp.train(
        small_net(), TASK, "bptt", optimizer=SGD(lr=0.05), n_trials=6, eval_every=3, h0=h0, seed=7
    )
    net, trials, start = training.held_out(ds)
    assert start is not None and np.any(start != 0)
    want = bp.loss(net, trials.x, trials.target, trials.mask, h0=start)
    assert float(ds.eval_loss[-1]) == pytest.approx(want, rel=1e-12)
    initial = bp.LeakyRNN(**{k: ds[f"{k}_initial"].values for k in bp.PARAM_NAMES}, alpha=0.2)
    first = bp.loss(initial, trials.x, trials.target, h0=start)
    assert float(ds.eval_loss[0]) == pytest.approx(first, rel=1e-12)
    assert float(ds.eval_loss[0]) != pytest.approx(bp.loss(initial, trials.x, trials.target))


@pytest.mark.parametrize("rule", ["uoro", "kf_rtrl"])
def test_an_interrupt_after_random_draws_rolls_the_generators_back(tmp_path, monkeypatch, rule):
    """A random task (Ready–Set–Go intervals) and a stochastic rule: the interrupted update
    has drawn its trials and signs; the rollback must return every generator to the last
    completed update, or the resumed run trains on other data."""
    from bioplastic.tasks import ReadySetGo

    task = ReadySetGo(intervals=[5, 7, 9], ready=2, cue_width=2, tail=2)
    net = bp.LeakyRNN.random(2, 6, 1, tau=3.0, seed=1)
    kw = dict(n_trials=20, batch_size=2, eval_every=3, optimizer=Adam(lr=1e-2), seed=5)
    whole = bp.train(net, task, rule, **kw)
    real_apply = training.updates.apply
    trigger = Once(lambda run, state, *a: state.done == 6)

    def patched(run, state, grads, n_steps):
        norm = real_apply(run, state, grads, n_steps)
        trigger(run, state)
        return norm

    monkeypatch.setattr(training.updates, "apply", patched)
    out = tmp_path / "run.nc"
    part = bp.train(net, task, rule, out=out, **kw)
    assert part.attrs["status"] == "interrupted" and part.sizes["trial"] == 6
    monkeypatch.undo()
    data_vars_equal(bp.resume(out), whole)
