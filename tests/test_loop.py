"""Murray 2019 Fig. 4: movement syllables, their sequences, and the loop circuit that chains them."""

import numpy as np
import pytest

import bioplastic as bp
from bioplastic.loop import LoopCircuit, learn_transitions
from bioplastic.optim import SGD
from bioplastic.tasks import ReachSequence, Syllables, syllable_velocity


def test_a_syllable_reaches_in_its_direction_then_holds():
    v = syllable_velocity(1, 4, n_move=50, n_hold=30)
    assert v.shape == (80, 2) and np.all(v[50:] == 0)
    np.testing.assert_allclose(v.sum(0), [0.0, 25.0], atol=1e-12)  # distance n_move / 2, up
    speed = np.linalg.norm(v[:50], axis=1)
    assert speed.max() == pytest.approx(1.0, abs=1e-3) and np.argmax(speed) in (24, 25)


def test_the_syllable_stream_is_the_same_however_it_is_cut_and_holds_each_input():
    task = Syllables(n_syllables=3, n_move=4, n_hold=3, test_syllables=5)
    a = task.stream(2, np.random.default_rng(1))
    pieces = [a.next(5), a.next(9), a.next()]
    whole = task.stream(2, np.random.default_rng(1)).next(21)
    x = np.concatenate([p.x for p in pieces], 1)
    y = np.concatenate([p.target for p in pieces], 1)
    np.testing.assert_array_equal(x, whole.x)
    np.testing.assert_array_equal(y, whole.target)
    ks = x.argmax(-1)
    for s in range(2):
        for j in range(3):  # each 7-step syllable: one input throughout, its velocity
            k = ks[s, 7 * j]
            assert np.all(ks[s, 7 * j : 7 * j + 7] == k) and np.all(x[s].sum(-1) == 1)
            np.testing.assert_array_equal(y[s, 7 * j : 7 * j + 7], syllable_velocity(k, 3, 4, 3))
    test = task.test_trials(1, np.random.default_rng(0))
    assert test.x.shape == (1, 7 * 6, 3) and test.mask[0, :7].sum() == 0
    assert test.mask[0, 7:].min() == 1


def test_the_whole_sequence_concatenates_its_syllables_with_no_input():
    seq = ReachSequence([2, 0], n_move=6, n_hold=4)
    tr = seq.sample(3)
    assert tr.x.shape == (3, 20, 0) and seq.n_in == 0
    np.testing.assert_array_equal(
        tr.target[1], np.concatenate([syllable_velocity(2, 4, 6, 4), syllable_velocity(0, 4, 6, 4)])
    )
    with pytest.raises(
        ValueError, match=r"sequence must be a non-empty list of syllables in 0 … 3"
    ):
        ReachSequence([0, 4])


def _orthogonal_circuit(n_syllables=4, n_move=5, h0=True):
    """A network whose state at a syllable's end is exactly tanh(3 e_k), and whose initial
    state is e_5: the states are orthogonal, so the loop can read the last syllable."""
    k = n_syllables
    W_in = 3.0 * np.eye(k + 2, k)
    net = bp.LeakyRNN(W_in, np.zeros((k + 2, k + 2)), np.ones((2, k + 2)), alpha=1.0)
    start = np.eye(k + 2)[-1] if h0 else None
    return LoopCircuit(net, Syllables(n_syllables=k, n_move=n_move, n_hold=n_move), h0=start)


def test_the_loop_runs_each_chosen_syllable_from_where_the_last_one_left():
    circ = _orthogonal_circuit(h0=False)
    W = np.zeros((4, 6))
    W[0, 5] = 1.0  # h0 = 0 and unit 5 stays 0: ties everywhere
    circ = circ.with_readout(W)
    run = circ.run([0, 1, 2], np.random.default_rng(3), p_explore=0.0)
    x = np.zeros((1, 30, 4))
    for i, c in enumerate(run.choices):
        x[0, 10 * i : 10 * i + 10, c] = 1.0
    _, y = circ.net.run(x)
    np.testing.assert_allclose(run.outputs, y[0], rtol=1e-14)
    np.testing.assert_allclose(
        run.decision_states[1], np.tanh(3.0 * np.eye(6, 4)[:, run.choices[0]])
    )
    np.testing.assert_array_equal(run.rewards, run.choices == np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"one input per syllable \(4\) and 2 outputs"):
        LoopCircuit(bp.LeakyRNN.random(3, 6, 2, tau=2.0), Syllables())
    with pytest.raises(ValueError, match=r"W_s must have shape \(n_syllables, n_rec\)"):
        circ.with_readout(np.zeros((4, 5)))


def test_the_reward_modulated_hebbian_update_is_the_paper_s_rule_with_a_baseline():
    """One trial: ΔW_s[winner] = η (R − R̄) h at each decision, R̄ ← R̄ + λ (R − R̄)."""
    circ = _orthogonal_circuit()
    seq = ReachSequence([0, 1, 2, 3], n_move=5, n_hold=5)
    for lam in (0.0, 0.3):
        trained, rewards = learn_transitions(circ, seq, 1, eta=0.5, baseline=lam, seed=7)
        run = circ.run(seq.sequence, np.random.default_rng(7), 0.1)  # the same draws
        W, R_mean = np.zeros((4, 6)), 0.0
        for c, R, h in zip(run.choices, run.rewards, run.decision_states):
            W[c] += 0.5 * (R - R_mean) * h
            R_mean += lam * (R - R_mean)
        np.testing.assert_allclose(trained.W_s, W, rtol=1e-14, atol=1e-15)
        np.testing.assert_array_equal(rewards[0], run.rewards)


def test_with_distinct_states_the_baseline_rule_learns_the_sequence_and_the_literal_can_lock():
    """Orthogonal states: with the reward baseline every seed learns [2, 0, 3, 1]; with R in
    {0, 1} only, a rewarded wrong-state habit is never unlearned, and some seeds lock in (the
    reason for the baseline, bioplastic.loop)."""
    circ = _orthogonal_circuit()
    seq = ReachSequence([2, 0, 3, 1], n_move=5, n_hold=5)
    literal_right = 0
    for seed in range(4):
        trained, rewards = learn_transitions(circ, seq, 400, eta=1.0, baseline=0.05, seed=seed)
        assert list(trained.run(seq.sequence).choices) == [2, 0, 3, 1]
        assert rewards[-100:].mean() > 0.75  # exploration (p = 0.1) costs the rest
        again, _ = learn_transitions(circ, seq, 400, eta=1.0, baseline=0.05, seed=seed)
        np.testing.assert_array_equal(again.W_s, trained.W_s)  # seeded
        literal, _ = learn_transitions(circ, seq, 400, eta=1.0, baseline=0.0, seed=seed)
        literal_right += list(literal.run(seq.sequence).choices) == [2, 0, 3, 1]
    assert literal_right < 4


def test_bad_loop_arguments_name_the_fix():
    circ = _orthogonal_circuit()
    seq = ReachSequence(n_move=5, n_hold=5)
    with pytest.raises(ValueError, match="eta must be a finite number > 0"):
        learn_transitions(circ, seq, 2, eta=0.0)
    with pytest.raises(ValueError, match=r"p_explore must lie in \[0, 1\]"):
        learn_transitions(circ, seq, 2, eta=1.0, p_explore=2.0)
    with pytest.raises(ValueError, match="the sequence's syllables differ"):
        learn_transitions(circ, ReachSequence(n_move=6, n_hold=5), 2, eta=1.0)


def test_any_rule_trains_the_syllables_online_once_per_syllable():
    """Stage 1 is bp.train on the syllable stream, with any rule; updates once per syllable."""
    task = Syllables(n_move=6, n_hold=6, test_syllables=4)
    net = bp.LeakyRNN.random(4, 10, 2, tau=3.0, seed=0)
    for rule in ("rflo", "bptt", "snap1"):
        ds = bp.train(
            net,
            task,
            rule,
            update="online",
            update_every=12,
            n_trials=120,
            optimizer=SGD(lr=0.1),
            mean_over_time=True,
            eval_every=30,
            n_eval=1,
            seed=0,
        )
        assert ds.eval_loss.values[-1] < 0.85 * ds.eval_loss.values[0], rule
