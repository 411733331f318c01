"""Motor and timing tasks: shapes, seeds, conditions, target definitions, and learnability."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bioplastic as bp
from bioplastic.optim import Adam
from bioplastic.tasks import (
    TASKS,
    CenterOutReaching,
    CuedDrawing,
    CuedSine,
    IntervalMatching,
    ReadySetGo,
    minimum_jerk,
)

ROOT = Path(__file__).resolve().parent.parent
MOTOR = {
    "interval": IntervalMatching(),
    "ready_set_go": ReadySetGo(),
    "ready_set_go_bump": ReadySetGo(response="bump"),
    "reaching": CenterOutReaching(),
    "drawing": CuedDrawing(),
    "cued_sine": CuedSine(),
}


@pytest.mark.parametrize("name", MOTOR)
def test_shapes_seeds_and_conditions(name):
    task = MOTOR[name]
    a = task.sample(32, np.random.default_rng(1))
    b = task.sample(32, np.random.default_rng(1))
    c = task.sample(32, np.random.default_rng(2))
    assert a.x.shape == (32, task.n_steps, task.n_in) and a.target.shape == (
        32,
        task.n_steps,
        task.n_out,
    )
    assert a.mask is None  # every time step counts
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.target, b.target)
    assert not (np.array_equal(a.x, c.x) and np.array_equal(a.target, c.target))
    ev = task.every_condition()
    key = next(iter(ev.conditions))
    sampled = set(np.unique(task.sample(400, np.random.default_rng(3)).conditions[key]).tolist())
    assert set(np.unique(ev.conditions[key]).tolist()) <= sampled | set(ev.conditions[key].tolist())
    assert len(np.unique(ev.conditions[key])) == len(ev)  # one trial per condition
    assert task.name in TASKS


def test_interval_matching_definition():
    task = IntervalMatching(interval_min=20, interval_max=40, first_cue=10, cue_width=4)
    tr = task.trials(np.array([20, 33]))
    for i, d in enumerate([20, 33]):
        onsets = np.flatnonzero(np.diff(np.r_[0, tr.x[i, :, 0]]) > 0)
        np.testing.assert_array_equal(onsets, [10, 10 + d])
        assert np.argmax(tr.target[i, :, 0]) == 10 + 2 * d and tr.target[i, :, 0].max() == 1.0
    covered = set(task.sample(500, np.random.default_rng(0)).conditions["interval"].tolist())
    assert covered == set(range(20, 41))  # every interval in the range occurs


def test_interval_matching_with_murray_s_gaussian_pulses_and_held_out_intervals():
    """Murray 2019 (Methods): input and target pulses Gaussian with SD 15 steps; held-out
    intervals beyond the training range lengthen the trials."""
    task = IntervalMatching(
        interval_min=50,
        interval_max=150,
        first_cue=50,
        cue="gaussian",
        cue_width=15,
        pulse_width=15.0,
        tail=50,
        test_intervals=[40, 100, 200],
    )
    assert task.n_steps == 50 + 2 * 150 + 50
    ev = task.every_condition()
    assert (
        ev.n_steps == 50 + 2 * 200 + 50 and task.sample(2, np.random.default_rng(0)).n_steps == 400
    )
    np.testing.assert_array_equal(ev.conditions["interval"], [40, 100, 200])
    for i, d in enumerate([40, 100, 200]):
        x = ev.x[i, :, 0]
        peaks = np.flatnonzero((x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])) + 1
        if d >= 100:  # closer pulses overlap and pull each other's peaks in
            np.testing.assert_array_equal(peaks, [50, 50 + d])
        np.testing.assert_allclose(x[50 + 15], np.exp(-0.5) + np.exp(-0.5 * ((d - 15) / 15) ** 2))
        assert np.argmax(ev.target[i, :, 0]) == 50 + 2 * d
    assert task.sample(300, np.random.default_rng(0)).conditions["interval"].max() <= 150
    with pytest.raises(ValueError, match=r"cue must be one of \['square', 'gaussian'\]"):
        IntervalMatching(cue="box")
    with pytest.raises(ValueError, match="test_intervals must be a non-empty list of positive"):
        IntervalMatching(test_intervals=[0, 10])


def test_ready_set_go_definition():
    ramp = ReadySetGo(intervals=[20, 30], ready=5, response="ramp").trials(np.array([20, 30]))
    bump = ReadySetGo(intervals=[20, 30], ready=5, response="bump").trials(np.array([20, 30]))
    for i, ts in enumerate([20, 30]):
        set_t, go = 5 + ts, 5 + 2 * ts
        assert ramp.x[i, 5, 0] == 1 and ramp.x[i, set_t, 1] == 1 and ramp.x[i, set_t - 1, 1] == 0
        assert ramp.target[i, set_t, 0] == 0 and ramp.target[i, go, 0] == 1
        assert np.all(ramp.target[i, go:, 0] == 1) and np.all(np.diff(ramp.target[i, :, 0]) >= 0)
        assert np.argmax(bump.target[i, :, 0]) == go


def test_reaching_is_minimum_jerk_and_starts_and_ends_at_rest():
    task = CenterOutReaching(n_targets=8, radius=2.0, target_onset=5, duration=30, hold=10)
    tr = task.every_condition()
    d = tr.conditions["delay"][0]
    go = 5 + d
    for i in range(8):
        path = tr.target[i]
        vel = np.diff(path, axis=0)
        assert np.all(path[: go + 1] == 0)  # at the centre until go
        np.testing.assert_allclose(
            path[go + 30 :], np.broadcast_to(path[-1], path[go + 30 :].shape)
        )
        assert np.linalg.norm(path[-1]) == pytest.approx(2.0)  # the target, on the circle
        assert np.abs(vel[go]).max() < 0.01 and np.abs(vel[go + 29]).max() < 0.01  # at rest
        np.testing.assert_allclose(tr.x[i, 4:, :2][-1], path[-1])  # the input shows the target
        assert tr.x[i, go - 1, 2] == 0 and tr.x[i, go, 2] == 1  # the go cue
    s = np.linspace(0, 1, 101)
    np.testing.assert_allclose(minimum_jerk(s), 10 * s**3 - 15 * s**4 + 6 * s**5, atol=1e-14)
    angles = np.sort(tr.conditions["angle"])
    np.testing.assert_allclose(np.diff(angles), 2 * np.pi / 8)


def test_drawing_curves_are_closed_and_cued():
    task = CuedDrawing(period=40, n_periods=2)
    tr = task.every_condition()
    assert tr.x.shape[2] == 4 and np.all(tr.x.sum(axis=2) == 1)
    np.testing.assert_allclose(tr.target[:, :40], tr.target[:, 40:], atol=1e-12)  # closed, periodic
    assert len({tuple(np.round(p[:, 0], 6)) for p in tr.target}) == 4  # four different curves
    assert list(tr.conditions["curve_name"]) == ["circle", "figure_eight", "rose", "cardioid"]


def test_cued_sine_levels_select_frequencies():
    task = CuedSine(periods=[20.0, 40.0], n_steps_trial=80, level_min=0.0, level_max=1.0)
    tr = task.every_condition()
    np.testing.assert_allclose(tr.x[:, 0, 0], [0.0, 1.0])
    for i, p in enumerate([20, 40]):
        spectrum = np.abs(np.fft.rfft(tr.target[i, :, 0]))
        assert np.argmax(spectrum) == 80 // p  # the cycles per trial


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: IntervalMatching(interval_min=-5), r"interval_min must be an int > 0; got -5"),
        (
            lambda: IntervalMatching(interval_min=30, interval_max=20),
            r"interval_max \(20\) must be >= interval_min",
        ),
        (
            lambda: ReadySetGo(intervals=[10, -3]),
            r"intervals must be a non-empty list of positive integers",
        ),
        (lambda: ReadySetGo(response="step"), r"response must be one of \['ramp', 'bump'\]"),
        (lambda: CenterOutReaching(n_targets=0), r"n_targets must be an int > 0; got 0"),
        (lambda: CenterOutReaching(delay_min=-1), r"delay_min must be an int >= 0; got -1"),
        (lambda: CenterOutReaching(radius=0), r"radius must be a finite number > 0; got 0"),
        (lambda: CuedDrawing(curves=["circle", "square"]), r"curves must be distinct names from"),
        (lambda: CuedDrawing(period=4), r"period must be at least 8 steps"),
        (
            lambda: CuedSine(periods=[20, 0.5]),
            r"periods must be a non-empty list of numbers >= 4 steps",
        ),
        (lambda: CuedSine(periods=[]), r"periods must be a non-empty list"),
    ],
)
def test_bad_task_parameters_are_named(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


@pytest.mark.parametrize(
    "name,updates,threshold",
    [
        ("interval", 150, 0.3),
        ("ready_set_go", 60, 0.2),
        ("reaching", 60, 0.1),
        ("drawing", 60, 0.3),
        ("cued_sine", 60, 0.5),
    ],
)
def test_a_short_bptt_run_learns(name, updates, threshold):
    """A short BPTT run (batches of 16 trials) brings the held-out loss below `threshold` times
    the untrained network's."""
    task = MOTOR[name]
    net = bp.LeakyRNN.random(task.n_in, 48, task.n_out, tau=5.0, seed=0)
    ds = bp.train(
        net,
        task,
        "bptt",
        optimizer=Adam(lr=5e-3, clip_norm=10.0),
        n_trials=16 * updates,
        batch_size=16,
        eval_every=20,
        seed=0,
    )
    assert ds.eval_loss.values[-1] < threshold * ds.eval_loss.values[0]


@pytest.mark.parametrize(
    "script", ["interval_matching", "ready_set_go", "reaching", "drawing", "cued_sine", "dnms"]
)
def test_protocol_scripts_run_quick(script, tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "protocols" / f"{script}.py"),
            "--quick",
            "--rule",
            "bptt",
            "rflo",
            "--out",
            str(tmp_path),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    pngs = list(tmp_path.glob("*.png"))
    ncs = sorted(p.name for p in tmp_path.glob("*.nc"))
    assert len(pngs) == 1 and pngs[0].stat().st_size > 20_000
    assert len(ncs) == 2 and all("bptt" in n or "rflo" in n for n in ncs)
    assert "rflo: complete" in r.stdout
    for name in ncs:  # the runs themselves: complete, the rule asked for, a finite history
        ds = bp.load(tmp_path / name)
        assert ds.attrs["status"] == "complete" and ds.attrs["rule"] in name
        assert ds.sizes["trial"] > 0 and np.isfinite(ds.eval_loss).all()
        assert ds.eval_output.sizes["stage"] == 2
    bptt = bp.load(tmp_path / next(n for n in ncs if "bptt" in n))
    assert float(bptt.eval_loss[-1]) < float(bptt.eval_loss[0])  # even --quick learns
