"""Trace patterning (Rafiee et al. 2023, as Javed et al. 2023 ran it): the stream's trials,
distractors and returns, its invariance to how it is cut, and a run on it."""

import json

import numpy as np
import pytest

import bioplastic as bp
from bioplastic.optim import SGD
from bioplastic.tasks import TASKS, TracePatterning

TASK = TracePatterning(chunk=400)
NC = TASK.n_cs  # inputs: CS 0..5, US 6, distractors 7..11


def test_the_task_is_registered_with_the_papers_layout():
    assert TASKS["trace_patterning"] is TracePatterning
    assert (TASK.n_in, TASK.n_out) == (12, 1)
    assert TASK.patterns.shape == (20, 6) and (TASK.patterns.sum(axis=1) == 3).all()
    assert TASK.activating.sum() == 10


def test_the_same_seed_gives_the_same_stream_however_it_is_cut():
    whole = TASK.stream(3, np.random.default_rng(1)).next(1500)
    cut = TASK.stream(3, np.random.default_rng(1))
    parts = [cut.next(n) for n in (1, 399, 700, 400)]
    np.testing.assert_array_equal(np.concatenate([p.x for p in parts], axis=1), whole.x)
    np.testing.assert_array_equal(np.concatenate([p.target for p in parts], axis=1), whole.target)


def test_a_restored_stream_continues_exactly():
    a = TASK.stream(2, np.random.default_rng(3))
    a.next(517)
    saved = json.loads(json.dumps(a.state()))
    b = TASK.stream(2, np.random.default_rng(99)).restore(saved)
    na, nb = a.next(900), b.next(900)
    np.testing.assert_array_equal(na.x, nb.x)
    np.testing.assert_array_equal(na.target, nb.target)


def test_the_target_is_the_discounted_return_of_the_us():
    """``G_t = US_{t+1} + γ G_{t+1}``, computed backwards from the US the network sees."""
    T = 6000
    tr = TASK.stream(2, np.random.default_rng(5)).next(T)
    us = tr.x[:, :, NC]
    G = np.zeros((2, T + 1))
    for t in range(T - 1, -1, -1):
        G[:, t] = (us[:, t + 1] if t + 1 < T else 0.0) + TASK.gamma * G[:, t + 1]
    valid = T - TASK.horizon  # later returns need US beyond the chunk
    np.testing.assert_allclose(tr.target[:, :valid, 0], G[:, :valid], rtol=0, atol=1e-12)


def test_trials_distractors_and_us_follow_the_set_up():
    T = 200_000
    tr = TracePatterning(chunk=T).stream(1, np.random.default_rng(7)).next()
    x = tr.x[0]
    onsets = np.flatnonzero(x[:, :NC].any(axis=1))
    assert (x[onsets, :NC].sum(axis=1) == 3).all()  # 3 of 6 CS, for one step
    gaps = np.diff(onsets)
    assert gaps.min() >= 14 + 80 + 1 and gaps.max() <= 26 + 120 + 1
    us = np.flatnonzero(x[:, NC])
    # each US is 14..26 steps after the last CS, and only after an activating pattern
    last = onsets[np.searchsorted(onsets, us) - 1]
    assert ((us - last >= 14) & (us - last <= 26)).all()
    patterns = {tuple(p): i for i, p in enumerate(TASK.patterns)}
    shown = np.array([patterns[tuple(x[t, :NC])] for t in onsets])
    followed = np.isin(onsets, last)
    np.testing.assert_array_equal(followed, TASK.activating[shown])
    n = len(onsets)  # P(US) = 1/2 per trial, within 4 standard deviations
    assert abs(followed.sum() - n / 2) < 4 * np.sqrt(n / 4)
    for j in range(1, 6):  # distractor j is on with probability 1/(10 j) at each step
        p = 1 / (10 * j)
        assert abs(x[:, NC + j].mean() - p) < 4 * np.sqrt(p * (1 - p) / T)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_cs": 5}, "n_cs must be even"),
        ({"isi_max": 10}, "isi_max must be >= isi_min"),
        ({"gamma": 1.0}, r"gamma must lie in \[0, 1\)"),
        ({"n_patterns": 21}, r"n_patterns must be at most C\(6, 3\) = 20"),
        ({"chunk": 0}, "chunk must be an int > 0"),
    ],
)
def test_bad_settings_name_the_fix(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TracePatterning(**kwargs)


def test_a_columnar_network_learns_online_on_the_stream_with_rtrl():
    """A short run end to end: online RTRL on columns, the stream carried over chunks."""
    net = bp.LeakyRNN.columnar(TASK.n_in, 8, 1, 1, tau=2.0, seed=0, g=0.5)
    task = TracePatterning(chunk=200, test_steps=400, test_warmup=200)
    ds = bp.train(
        net,
        task,
        "rtrl",
        update="online",
        update_every=1,
        optimizer=SGD(lr=1e-2),
        n_trials=3,
        eval_every=3,
        n_eval=1,
        seed=0,
    )
    assert ds.attrs["status"] == "complete"
    assert np.isfinite(ds.eval_loss.values).all()
    assert not np.allclose(ds.W_in.values, net.params["W_in"])


def test_the_preset_builds_a_columnar_network():
    from pathlib import Path

    from bioplastic import config

    preset = Path(__file__).resolve().parent.parent / "models" / "trace_patterning.toml"
    net, task, _ = config.build(config.load_preset(preset))
    assert task.name == "trace_patterning" and net.n_in == 12
    np.testing.assert_array_equal(net.connectivity["W_rec"], np.eye(32, dtype=bool))
    with pytest.raises(ValueError, match=r"\[network\] a columnar network .* multiple"):
        config.build(config.load_preset(preset, ["network.column_size=5"]))


def test_a_rolled_back_run_replays_the_same_chunk():
    """The run's commit keeps the stream's state as given (no JSON copy): it must not change
    when the stream moves on."""
    from bioplastic.training.state import RunState

    net = bp.LeakyRNN.columnar(TASK.n_in, 2, 1, 1, tau=2.0)
    rngs = bp.training.settings.streams(0)
    state = RunState(net, np.zeros((2, 1)), None, rngs)
    state.stream = TASK.stream(1, np.random.default_rng(0))
    state.stream.next()
    state.commit()
    a = state.stream.next()
    state.rollback()
    b = state.stream.next()
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.target, b.target)
