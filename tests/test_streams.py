"""Continuing streams (Add, Mimic, Copy): the data, and online training that carries state."""

import numpy as np
import pytest
from helpers import interrupt_stream

import bioplastic as bp
from bioplastic.optim import Adam
from bioplastic.tasks import Add, Copy, Mimic

STREAMS = {
    "add": Add(t1=2, t2=4, hold=2, chunk=9),
    "copy": Copy(delay=3, chunk=7),
    "mimic": Mimic(difficulty=3, chunk=8),
}


@pytest.mark.parametrize("name", STREAMS)
def test_the_same_seed_gives_the_same_stream_however_it_is_cut(name):
    task = STREAMS[name]
    s1 = task.stream(3, np.random.default_rng(5))
    pieces = [s1.next(4), s1.next(11), s1.next(1), s1.next()]
    s2 = task.stream(3, np.random.default_rng(5))
    whole = s2.next(16 + task.chunk)
    for k in ("x", "target"):
        np.testing.assert_array_equal(
            np.concatenate([getattr(p, k) for p in pieces], axis=1), getattr(whole, k)
        )
    other = task.stream(3, np.random.default_rng(6)).next(16)
    assert not np.array_equal(other.x, whole.x[:, :16])
    # a stream saved mid-way continues exactly
    s3 = task.stream(3, np.random.default_rng(5))
    s3.next(10)
    saved = s3.state()
    after = s3.next(12)
    s4 = task.stream(3, np.random.default_rng(99)).restore(saved)
    np.testing.assert_array_equal(s4.next(12).target, after.target)
    assert whole.x.shape == (3, 16 + task.chunk, 2) and whole.mask is None


def test_add_targets():
    task = Add(t1=1, t2=3, hold=2, chunk=40)
    tr = task.stream(2, np.random.default_rng(0)).next()
    bits = tr.x[:, ::2, 0]  # one sample per 2 steps
    assert np.all(tr.x[:, ::2] == tr.x[:, 1::2])  # each sample held 2 steps
    for s in range(bits.shape[1]):
        past = lambda lag: bits[:, s - lag] if s >= lag else 0.0  # noqa: E731
        p = 0.5 + 0.5 * past(1) - 0.25 * past(3)
        np.testing.assert_allclose(tr.target[:, 2 * s, 0], p)
        np.testing.assert_allclose(tr.target[:, 2 * s, :].sum(-1), 1.0)
    assert np.all(tr.x.sum(-1) == 1) and task.loss == "softmax_xent"


def test_copy_and_mimic_targets():
    tr = Copy(delay=4, chunk=30).stream(2, np.random.default_rng(1)).next()
    np.testing.assert_array_equal(tr.target[:, 4:], tr.x[:, :-4])
    task = Mimic(difficulty=1, chunk=25)
    stream = task.stream(2, np.random.default_rng(2))
    a, b = stream.next(11), stream.next(14)
    x = np.concatenate([a.x, b.x], axis=1)
    assert set(np.unique(x)) == {0.0, 1.0} and np.all(x[:, :24:2] == x[:, 1:25:2])  # held 2 steps
    assert 0 < np.mean(x[..., 0] != x[..., 1])  # two independent bits, not one-hot
    w = task._weights
    h = np.zeros((2, 32))
    for t in range(25):  # the target network from scratch, α = 0.5, with biases
        h = 0.5 * h + 0.5 * np.tanh(h @ w["W_rec"].T + x[:, t] @ w["W_in"].T + w["b"])
        np.testing.assert_allclose(
            np.concatenate([a.target, b.target], 1)[:, t],
            h @ w["W_out"].T + w["b_out"],
            rtol=1e-12,
            atol=1e-14,
        )
    sv = np.linalg.svd(w["W_rec"], compute_uv=False)
    np.testing.assert_allclose(sv, 0.6)  # orthogonal × (0.5 + 0.1 d)


def test_the_test_set_is_a_continuing_stream_with_its_warm_up_masked():
    """The held-out set counts only steps whose lagged bits exist: at d = 14 a predictor with
    no memory scores the task's own level (0.662 nats), not the ~0.678 of a set that starts
    every chunk from zero history (where p is stuck at 0.5 for 2(d + 1) steps)."""
    from bioplastic.figures.marschall2020_add import levels

    task = Add(t1=14, t2=15, hold=2, test_steps=20_000, test_warmup=40)
    tr = task.test_trials(2, np.random.default_rng(0))
    assert tr.x.shape == (2, 20_040, 2)
    assert np.all(tr.mask[:, :40] == 0) and np.all(tr.mask[:, 40:] == 1)
    lv = levels(tr)
    np.testing.assert_allclose(lv["no memory"], levels()["no memory"], atol=4e-3)
    np.testing.assert_allclose(lv["both lags known"], levels()["both lags known"], atol=4e-3)
    # the artefact: counting from the stream's first step
    fresh = task.stream(200, np.random.default_rng(1)).next(100)
    stale = levels(bp.tasks.Trials(fresh.x, fresh.target))
    assert stale["no memory"] > lv["no memory"] + 0.01
    # the held-out set of a run is this one (seeded), and only a window is recorded
    ds = bp.train(
        bp.LeakyRNN.random(2, 4, 2, tau=2.0, seed=0),
        Add(t1=1, t2=2, chunk=10, test_steps=500, test_warmup=20),
        "rflo",
        update="online",
        n_trials=2,
        eval_every=1,
        n_eval=2,
        seed=0,
    )
    assert ds.eval_output.sizes["time"] == 10 and ds.eval_rates.sizes["time"] == 10
    _, held, _ = bp.training.held_out(ds)
    assert held.x.shape == (2, 520, 2) and held.mask[:, :20].sum() == 0
    np.testing.assert_array_equal(ds.eval_input.values, held.x[:, 20:30])


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: Add(t1=9, t2=3, hold=2, test_warmup=19), r"test_warmup \(19 steps\) must be at "),
        (lambda: Add(test_steps=0), r"test_steps must be an int > 0; got 0"),
        (lambda: Add(t1=-1), r"t1 must be an int >= 0; got -1"),
        (lambda: Copy(delay=-2), r"delay must be an int >= 0; got -2"),
        (lambda: Mimic(difficulty=-1), r"difficulty must be a finite number >= 0"),
        (lambda: Mimic(alpha=0), r"alpha must lie in \(0, 1\]; got 0"),
        (lambda: Add(chunk=0), r"chunk must be an int > 0; got 0"),
        (lambda: Add(hold=0), r"hold must be an int > 0; got 0"),
    ],
)
def test_bad_stream_parameters(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_online_training_on_add_beats_chance_and_carries_state():
    task = Add(t1=2, t2=4, chunk=100)
    net = bp.LeakyRNN.random(2, 16, 2, tau=2.0, seed=0)
    ds = bp.train(
        net,
        task,
        "rtrl",
        update="online",
        update_every=1,
        optimizer=Adam(lr=3e-3),
        n_trials=120,
        eval_every=40,
        seed=0,
    )
    chance = 100 * np.log(2)  # always predicting (½, ½)
    assert ds.eval_loss.values[0] > 0.95 * chance  # the untrained network, on fresh streams
    assert ds.loss.values[-20:].mean() < 0.75 * chance
    with pytest.raises(ValueError, match="continuing stream: train it with update='online'"):
        bp.train(net, task, "rtrl", n_trials=2)


@pytest.mark.parametrize(
    "rule,opts,every",
    [
        ("uoro", {}, 5),
        ("tbptt", {"truncation": 6}, 7),
        ("rtrl", {}, 4),
        ("bptt", {}, 10),
        ("kf_rtrl", {}, 3),
    ],
)
def test_interrupted_stream_runs_resume_bitwise(tmp_path, rule, opts, every, monkeypatch):
    task = Mimic(difficulty=2, chunk=20)
    kw = dict(
        rule_options=opts,
        update="online",
        update_every=every,
        optimizer=Adam(lr=1e-2),
        n_trials=30,
        batch_size=2,
        eval_every=5,
        seed=3,
    )
    net = bp.LeakyRNN.random(2, 6, 2, tau=2.0, seed=1)
    whole = bp.train(net, task, rule, **kw)

    restore = interrupt_stream(monkeypatch, bp.tasks.Stream, at=7)
    out = tmp_path / "run.nc"
    part = bp.train(net, task, rule, out=out, **kw)
    assert (
        part.attrs["status"] == "interrupted" and part.sizes["trial"] == 5
    )  # call 1 made the held-out trials
    restore()
    resumed = bp.resume(out)
    assert set(resumed.data_vars) == set(whole.data_vars)
    for k in whole.data_vars:  # including the network's and the rule's carried-over state
        np.testing.assert_array_equal(resumed[k].values, whole[k].values, err_msg=k)
    assert resumed.attrs["stream_state"] == whole.attrs["stream_state"]


@pytest.mark.parametrize("name,threshold", [("add", 0.85), ("copy", 0.5), ("mimic", 0.5)])
def test_a_short_bptt_run_learns_each_stream(name, threshold):
    """BPTT online with a 20-step window (F-BPTT) lowers the held-out loss below `threshold`
    times the untrained network's."""
    task = {
        "add": Add(t1=2, t2=3, chunk=100),
        "copy": Copy(delay=2, chunk=100),
        "mimic": Mimic(difficulty=1, chunk=100),
    }[name]
    net = bp.LeakyRNN.random(2, 24, 2, tau=1.5, seed=0)
    ds = bp.train(
        net,
        task,
        "bptt",
        update="online",
        update_every=20,
        optimizer=Adam(lr=5e-3),
        n_trials=80,
        eval_every=40,
        seed=0,
    )
    assert ds.eval_loss.values[-1] < threshold * ds.eval_loss.values[0]
