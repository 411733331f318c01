"""Williams & Zipser 1989: their tasks (as streams), their network, and teacher forcing.

Teacher forcing is checked in float64 against an independent derivation: central finite
differences of a hand-written forced simulation (the forced unit takes its target after each
scored step, so later steps see the target, not the unit).  The rules with a ``clamp`` must
give that gradient where they are exact (RTRL, BPTT, E-BPTT and T-BPTT with a window as long
as the epoch, SnAp-n with n reaching every unit), in the limit where they must be exact (RFLO
and e-prop when every unit reads only the forced unit; F-BPTT = T-BPTT when the last k − 1
errors are zero), and in the mean (UORO, KF-RTRL, OK).  Teacher forcing needs the rate
form at α = 1, so the current form is refused.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from helpers import interrupt_stream

import bioplastic as bp
from bioplastic.optim import SGD
from bioplastic.tasks import (
    TASKS,
    NonmatchStream,
    Oscillation,
    PipelinedXOR,
    SequenceRecognition,
    Trials,
)
from bioplastic.tasks.williams_zipser import phase_free_error

PLASTIC = ("W_rec", "W_in", "b")
MODELS = Path(__file__).resolve().parent.parent / "models"


# --- the tasks ----------------------------------------------------------------------------


def _draw(task, n_streams=3, cuts=(7, 1, 12), seed=5):
    whole = task.stream(n_streams, np.random.default_rng(seed)).next(sum(cuts))
    s = task.stream(n_streams, np.random.default_rng(seed))
    parts = [s.next(c) for c in cuts]
    return whole, parts


@pytest.mark.parametrize(
    "task",
    [PipelinedXOR(delay=3), SequenceRecognition(n_lines=4), NonmatchStream(), Oscillation()],
    ids=lambda t: t.name,
)
def test_a_stream_is_the_same_however_it_is_cut(task):
    whole, parts = _draw(task)
    np.testing.assert_array_equal(np.concatenate([p.x for p in parts], 1), whole.x)
    np.testing.assert_array_equal(np.concatenate([p.target for p in parts], 1), whole.target)
    if whole.mask is not None:
        np.testing.assert_array_equal(np.concatenate([p.mask for p in parts], 1), whole.mask)
    assert TASKS[task.name] is type(task)


@pytest.mark.parametrize("delay", [2, 3, 4])
def test_pipelined_xor_is_the_xor_of_the_inputs_delay_minus_one_steps_back(delay):
    tr = PipelinedXOR(delay=delay).stream(2, np.random.default_rng(0)).next(40)
    x = tr.x
    for t in range(40):
        s = t - (delay - 1)  # the paper's τ: our input at step s is their x(s - 1)
        want = 0.0 if s < 0 else float(int(x[0, s, 0]) ^ int(x[0, s, 1]))
        assert tr.target[0, t, 0] == want
    assert set(np.unique(x)) == {0.0, 1.0}


def test_sequence_recognition_fires_at_the_first_b_after_an_a():
    tr = SequenceRecognition(n_lines=3).stream(1, np.random.default_rng(2)).next(300)
    lines = tr.x[0].argmax(axis=1)
    assert np.all(tr.x[0].sum(axis=1) == 1)  # exactly one line on per step
    waiting, want = False, []
    for line in lines:  # a plain state machine: "a" is line 0, "b" line 1
        want.append(1.0 if (waiting and line == 1) else 0.0)
        if line == 1:
            waiting = False
        if line == 0:
            waiting = True
    np.testing.assert_array_equal(tr.target[0, :, 0], want)
    assert 10 < sum(want) < 100


def test_nonmatch_compares_each_bit_with_the_last_cued_one_a_step_later():
    task = NonmatchStream(cue_rate=0.3, test_warmup=2, test_steps=200)
    tr = task.stream(1, np.random.default_rng(4)).next(200)
    stored = None
    for t in range(1, 200):
        bit, cue = tr.x[0, t - 1]
        if cue:
            stored = bit
        assert tr.mask[0, t, 0] == (stored is not None and not cue)  # the cued bit: not scored
        if tr.mask[0, t, 0]:
            assert tr.target[0, t, 0] == float(bit != stored)
    assert tr.mask[0, 0, 0] == 0
    assert 0.3 < tr.target[tr.mask > 0].mean() < 0.7
    test = task.test_trials(3, np.random.default_rng(0))  # keeps the task's mask
    same = task.stream(3, np.random.default_rng(0)).next(202)
    np.testing.assert_array_equal(test.mask[:, 2:], same.mask[:, 2:])
    assert not test.mask[:, :2].any()


def test_oscillation_waves_and_the_phase_free_error():
    sq = Oscillation(wave="square", period=4)
    np.testing.assert_array_equal(sq.wave_at(np.arange(8)), [0, 0, 1, 1, 0, 0, 1, 1])
    sine = Oscillation(wave="sine", period=12)
    tr = sine.stream(1, np.random.default_rng(0)).next(30)
    np.testing.assert_allclose(
        tr.target[0, :, 0], 0.5 + 0.4 * np.sin(2 * np.pi * np.arange(30) / 12)
    )
    assert tr.x.shape == (1, 30, 0)
    assert phase_free_error(sine, sine.wave_at(np.arange(5, 53))) == pytest.approx(0.0, abs=1e-15)
    assert phase_free_error(sine, np.full(48, 0.5)) == pytest.approx(0.08)  # the wave's variance


@pytest.mark.parametrize(
    "make,pattern",
    [
        (lambda: PipelinedXOR(delay=1), r"delay must be >= 2 \(the paper's τ"),
        (lambda: SequenceRecognition(n_lines=1), r"n_lines must be >= 2"),
        (lambda: NonmatchStream(cue_rate=1.0), r"cue_rate must lie in \(0, 1\); got 1.0"),
        (lambda: Oscillation(wave="triangle"), r"wave must be 'sine' or 'square'; got 'triangle'"),
        (lambda: Oscillation(wave="square", period=5), r"even for a square wave"),
        (lambda: PipelinedXOR(delay=4, test_warmup=2), r"test_warmup \(2\) must be at least"),
    ],
)
def test_bad_task_parameters_name_the_fix(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_williams_zipser_init_reads_units_and_draws_every_weight_uniformly():
    net = bp.LeakyRNN.random(
        2, 5, 2, tau=1.0, g=0.5, activation="sigmoid", init="williams_zipser", seed=1
    )
    np.testing.assert_array_equal(net.params["W_out"], np.eye(2, 5))
    for k in PLASTIC:
        v = net.params[k]
        assert np.all(np.abs(v) <= 0.5) and np.std(v) > 0.1
    assert net.alpha == 1.0


# --- teacher forcing, exactly -------------------------------------------------------------


@dataclass(frozen=True)
class Fixed:
    """The same batch every time (a trial task): only the rule's randomness varies."""

    trials: Trials = field(default=None, init=False, repr=False, compare=False)
    name: ClassVar[str] = "fixed"

    @classmethod
    def of(cls, trials: Trials) -> "Fixed":
        task = cls()
        object.__setattr__(task, "trials", trials)
        return task

    @property
    def n_in(self):
        return self.trials.x.shape[2]

    @property
    def n_out(self):
        return self.trials.target.shape[2]

    @property
    def n_steps(self):
        return self.trials.x.shape[1]

    def sample(self, n_trials, rng):
        return self.trials


def wz_net(n=5, n_in=2, seed=3, w_rec=True):
    r = bp.LeakyRNN.random(
        n_in, n, 1, tau=1.0, g=1.0, activation="sigmoid", init="williams_zipser", seed=seed
    )
    p = r.params
    W_rec = p["W_rec"] if w_rec else np.zeros((n, n))
    return bp.LeakyRNN(
        p["W_in"], W_rec, p["W_out"], p["b"], tau=1.0, activation="sigmoid", plastic=PLASTIC
    )


def forced_loss(params, tr: Trials, start: int = 0, stop: int | None = None, h=None) -> float:
    """The loss of steps ``start … stop - 1``, simulated by hand from state ``h`` (zero):
    unit 0 takes its target after every scored step."""
    h = np.zeros(params["W_rec"].shape[0]) if h is None else h.copy()
    total = 0.0
    for t in range(start, tr.x.shape[1] if stop is None else stop):
        u = params["W_rec"] @ h + params["W_in"] @ tr.x[0, t] + params["b"]
        h = 1.0 / (1.0 + np.exp(-u))
        m = 1.0 if tr.mask is None else tr.mask[0, t, 0]
        total += 0.5 * m * (h[0] - tr.target[0, t, 0]) ** 2
        if m:
            h[0] = tr.target[0, t, 0]
    return total


def forced_state(params, tr: Trials, stop: int) -> np.ndarray:
    """The forced network's state after ``stop`` steps (as the loss above runs it)."""
    h = np.zeros(params["W_rec"].shape[0])
    for t in range(stop):
        h = 1.0 / (1.0 + np.exp(-(params["W_rec"] @ h + params["W_in"] @ tr.x[0, t] + params["b"])))
        if tr.mask is None or tr.mask[0, t, 0]:
            h[0] = tr.target[0, t, 0]
    return h


def fd_forced(net, tr: Trials, eps=1e-6, loss=None) -> dict:
    loss = loss or (lambda P: forced_loss(P, tr))
    out = {}
    for k in PLASTIC:
        P = {kk: np.array(v) for kk, v in net.params.items()}
        g = np.zeros_like(P[k])
        for idx in np.ndindex(P[k].shape):
            P[k][idx] += eps
            up = loss(P)
            P[k][idx] -= 2 * eps
            down = loss(P)
            P[k][idx] += eps
            g[idx] = (up - down) / (2 * eps)
        out[k] = g
    return out


def one_update(net, task, rule, opts=None, feedback=None, seed=0, forcing=True) -> dict:
    """The rule's estimate over one epoch: SGD with lr = 1 moves each weight by −estimate."""
    ds = bp.train(
        net,
        task,
        rule,
        rule_options=opts or {},
        feedback=feedback,
        teacher_forcing=forcing,
        update="online",
        optimizer=SGD(lr=1.0),
        n_trials=1,
        seed=seed,
    )
    return {k: net.params[k] - ds[k].values for k in PLASTIC}


def rel(a: dict, b: dict) -> float:
    return max(np.max(np.abs(a[k] - b[k])) / np.max(np.abs(b[k])) for k in PLASTIC)


T = 10
EPOCH = NonmatchStream(cue_rate=0.3).stream(1, np.random.default_rng(5)).next(T)  # mixed mask
XOR = PipelinedXOR(delay=3).stream(1, np.random.default_rng(1)).next(T)


@pytest.mark.parametrize("tr", [EPOCH, XOR], ids=["nonmatch (masked)", "xor"])
@pytest.mark.parametrize(
    "rule,opts",
    [
        ("rtrl", {}),
        ("bptt", {}),
        ("ebptt", {"truncation": T}),
        ("tbptt", {"truncation": T}),
        ("snap", {"n": 4}),  # n ≥ 4 reaches every unit of 5 through a dense W_rec: exact
    ],
)
def test_forced_exact_rules_give_the_gradient_of_the_forced_loss(tr, rule, opts):
    net = wz_net()
    fd = fd_forced(net, tr)
    g = one_update(net, Fixed.of(tr), rule, opts)
    assert rel(g, fd) < 1e-7
    free = one_update(net, Fixed.of(tr), rule, opts, forcing=False)
    assert rel(free, fd) > 1e-3  # forcing changes the gradient


@pytest.mark.parametrize("tr", [EPOCH, XOR], ids=["nonmatch (masked)", "xor"])
@pytest.mark.parametrize("k", [3, 4])
def test_forced_ebptt_is_the_gradient_of_each_block_from_its_forced_start(tr, k):
    """E-BPTT with blocks of k < T: the sum over blocks of the forced loss's gradient within
    the block, the state at the block's start (the forced run's) held fixed."""
    net = wz_net()
    starts = range(0, T, k)
    held = {a: forced_state(net.params, tr, a) for a in starts}

    def blocks(P):
        return sum(forced_loss(P, tr, a, min(a + k, T), held[a]) for a in starts)

    fd = fd_forced(net, tr, loss=blocks)
    assert rel(one_update(net, Fixed.of(tr), "ebptt", {"truncation": k}), fd) < 1e-7
    assert rel(one_update(net, Fixed.of(tr), "bptt"), fd) > 1e-3  # the blocks matter


@pytest.mark.parametrize("rule", ["rflo", "eprop"])
def test_local_rules_under_forcing_are_exact_when_units_read_only_the_forced_unit(rule):
    """If every unit reads only unit 0 (W_rec nonzero in column 0 alone), and unit 0 is forced
    at every step, the forced network has no recurrence a parameter acts through: each unit's
    output depends on its own weights and the targets only, so RFLO's and e-prop's immediate
    eligibility with B = W_outᵀ is the forced gradient (of every parameter).  At α = 1 their
    traces have no memory, so their ``clamp`` has nothing to reset: this checks that they
    learn from the forced trajectory."""
    net = wz_net()
    W_rec = np.zeros_like(net.params["W_rec"])
    W_rec[:, 0] = net.params["W_rec"][:, 0]
    net = net.with_params({"W_rec": W_rec})
    fd = fd_forced(net, XOR)
    g = one_update(net, Fixed.of(XOR), rule, feedback="symmetric")
    assert rel(g, fd) < 1e-7
    assert rel(one_update(net, Fixed.of(XOR), "rtrl"), fd) < 1e-7
    assert rel(one_update(net, Fixed.of(XOR), rule, feedback="symmetric", forcing=False), fd) > 1e-3


def test_forced_fbptt_is_tbptt_when_the_last_errors_are_zero():
    k = 4
    mask = np.ones_like(XOR.target)
    mask[:, T - (k - 1) :] = 0.0  # no error (and no forcing) in the last k - 1 steps
    tr = Trials(XOR.x, XOR.target, mask, XOR.conditions)
    net = wz_net()
    f = one_update(net, Fixed.of(tr), "fbptt", {"truncation": k})
    t = one_update(net, Fixed.of(tr), "tbptt", {"truncation": k})
    assert rel(f, t) < 1e-12
    assert rel(f, one_update(net, Fixed.of(tr), "fbptt", {"truncation": k}, forcing=False)) > 1e-3


@pytest.mark.parametrize("rule,opts", [("uoro", {}), ("kf_rtrl", {}), ("ok", {"rank": 1})])
def test_forced_unbiased_rules_give_the_forced_gradient_in_the_mean(rule, opts):
    net = wz_net()
    exact = one_update(net, Fixed.of(EPOCH), "rtrl")
    draws = np.stack(
        [
            np.concatenate(
                [one_update(net, Fixed.of(EPOCH), rule, opts, seed=s)[k].ravel() for k in PLASTIC]
            )
            for s in range(200)
        ]
    )
    want = np.concatenate([exact[k].ravel() for k in PLASTIC])
    se = draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    z = (draws.mean(axis=0) - want) / se
    assert np.mean(np.abs(z) < 3) > 0.95  # each entry within 3 SE, but for chance
    assert np.abs(z).max() < 5


def test_forcing_is_refused_where_it_is_not_defined():
    net = wz_net()
    for rule, why in [
        ("kernl", "its sensitivity β and decay γ are fitted"),
        ("dni", "its synthetic gradient A is fitted"),
    ]:
        with pytest.raises(ValueError, match=f"rule '{rule}' has no teacher forcing: {why}"):
            one_update(net, Fixed.of(EPOCH), rule)
    with pytest.raises(ValueError, match="without teacher_forcing or td"):  # reward rules
        one_update(net, Fixed.of(EPOCH), "node_perturbation")
    current = bp.LeakyRNN(
        net.params["W_in"],
        net.params["W_rec"],
        net.params["W_out"],
        tau=1.0,
        form="current",
        activation="sigmoid",
        plastic=PLASTIC,
    )
    with pytest.raises(ValueError, match="teacher_forcing needs a Williams–Zipser network"):
        one_update(current, Fixed.of(EPOCH), "rtrl")


# --- real time, streams and resuming -------------------------------------------------------


def test_real_time_rtrl_learns_pipelined_xor_from_the_preset():
    p = bp.config.load_preset(
        MODELS / "williams_zipser1989_xor.toml",
        ["training.n_trials=200", "training.eval_every=200"],
    )
    ds = bp.config.run(p)
    per_step = ds.loss.values / 100
    assert per_step[:5].mean() > 0.1  # ½ · ¼: an output stuck near ½
    assert per_step[-20:].mean() < 0.1 * 0.125  # 90% of the targets' variance explained
    assert ds.eval_loss.values[-1] < 0.1 * ds.eval_loss.values[0]


def interrupted_run(tmp_path, monkeypatch, net, task, rule, kw):
    """The whole run, and the file of the same run stopped (as Ctrl-C would) at chunk 6."""
    whole = bp.train(net, task, rule, **kw)
    restore = interrupt_stream(monkeypatch, bp.tasks.Stream, at=6)
    out = tmp_path / "run.nc"
    part = bp.train(net, task, rule, out=out, **kw)
    assert part.attrs["status"] == "interrupted"
    restore()
    return whole, out


@pytest.mark.parametrize(
    "rule,opts,every",
    [("tbptt", {"truncation": 6}, 1), ("fbptt", {"truncation": 5}, 3), ("rtrl", {}, 4)],
)
def test_forced_stream_runs_resume_bitwise(tmp_path, monkeypatch, rule, opts, every):
    """The cuts teacher forcing leaves in a window that spans chunks (forced and unforced
    steps: the task's mask) are saved and restored."""
    task = NonmatchStream(cue_rate=0.3, chunk=10)
    net = wz_net(n=4)
    kw = dict(
        rule_options=opts,
        teacher_forcing=True,
        update="online",
        update_every=every,
        optimizer=SGD(lr=0.5),
        n_trials=12,
        eval_every=4,
        seed=2,
    )
    whole, out = interrupted_run(tmp_path, monkeypatch, net, task, rule, kw)
    resumed = bp.resume(out)
    for k in whole.data_vars:
        np.testing.assert_array_equal(resumed[k].values, whole[k].values, err_msg=k)


def test_a_checkpoint_from_before_the_cuts_resumes(tmp_path, monkeypatch):
    """A T-BPTT stream checkpoint written before teacher forcing's cuts existed (no
    ``rule_state__cut``) resumes as if none had been set."""
    task = NonmatchStream(cue_rate=0.3, chunk=10)
    kw = dict(
        rule_options={"truncation": 6},
        update="online",
        update_every=1,
        optimizer=SGD(lr=0.5),
        n_trials=12,
        eval_every=4,
        seed=2,
    )
    whole, out = interrupted_run(tmp_path, monkeypatch, wz_net(n=4), task, "tbptt", kw)
    ds = bp.load(out).load()
    kinds = json.loads(ds.attrs["rule_state"])
    assert kinds.pop("cut") == {"masks": 6}
    old = ds.drop_vars([v for v in ds.data_vars if v.startswith("rule_state__cut")])
    old.attrs["rule_state"] = json.dumps(kinds)
    bp.save(old, out)
    resumed = bp.resume(out)
    for k in whole.data_vars:
        np.testing.assert_array_equal(resumed[k].values, whole[k].values, err_msg=k)
