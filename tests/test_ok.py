"""OK (Benzing et al. 2019): unbiased, least variance per step, exact at full rank, both forms."""

import itertools

import numpy as np
import pytest
from helpers import FORMS, faces, make_problem, rel_err

import bioplastic as bp
from bioplastic.objective import output_error, prepare
from bioplastic.rules import RULES, make_rule, run_online
from bioplastic.rules.ok import reduce_terms


class ScriptedSigns:
    """Stands in for a Generator: ``random(shape)`` returns 0.25 (sign -1) or 0.75 (sign +1)."""

    def __init__(self, bits):
        self.bits = list(bits)

    def random(self, shape):
        k = int(np.prod(shape))
        out, self.bits = self.bits[:k], self.bits[k:]
        assert len(out) == k, "the rule drew more signs than scripted"
        return np.where(np.array(out, dtype=bool), 0.75, 0.25).reshape(shape)


def tiny_net(form, rng, n=2, n_in=1):
    return bp.LeakyRNN(
        rng.standard_normal((n, n_in)),
        1.2 * rng.standard_normal((n, n)),
        rng.standard_normal((1, n)),
        rng.standard_normal(n),
        alpha=rng.uniform(0.2, 0.8, n),
        form=form,
    )


def flat(g):
    return np.concatenate([g[k].ravel() for k in ("W_rec", "W_in", "b")])


# ------------------------------------------------------------------ exactly unbiased
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("rank", [1, 2])
def test_mean_over_every_sign_sequence_is_rtrl(form, rank):
    """OK draws r+1 signs per step; averaging over all 2^((r+1)T) sequences gives RTRL.

    The sequences run side by side as trials of one batch (trial b gets sequence b at every
    step), so this also checks that trials keep their own factors.  n = 2 and
    m = n + n_in + 1 = 4 > r + 1, so every step takes the random reduction."""
    rng = np.random.default_rng(8)
    T = 3
    net = tiny_net(form, rng)
    x, y = rng.standard_normal((1, T, 1)), rng.standard_normal((1, T, 1))
    seqs = np.array(list(itertools.product([0, 1], repeat=(rank + 1) * T)))  # (S, (r+1) T)
    S = len(seqs)
    bits = seqs.reshape(S, T, rank + 1).transpose(1, 0, 2).ravel()  # drawn (trial, r+1)/step
    batch = prepare(net, np.repeat(x, S, 0), np.repeat(y, S, 0))
    B = net.params["W_out"].T.copy()
    rule = RULES["ok"](rank=rank)
    trace = net.forward(batch.x, batch.h0, derivatives=True)
    mean = run_online(rule, net, trace, output_error(trace, batch), B, ScriptedSigns(bits))
    exact = bp.gradient(net, x, y, rule="rtrl")  # the loss averages trials: the same target
    assert rel_err(mean, exact) <= 1e-12
    one = prepare(net, x, y)
    trace = net.forward(one.x, one.h0, derivatives=True)
    single = run_online(rule, net, trace, output_error(trace, one), B, ScriptedSigns(seqs[5]))
    assert rel_err(single, exact) > 1e-3  # a single sequence is not exact: the signs matter


def brute_force_variance(sig: np.ndarray, r: int) -> float:
    """Least ``E‖X - diag(sig)‖²`` over unbiased rank-r X that keep the t largest values and
    spread the rest evenly (all equal singular values ``s/q``): the best feasible t."""
    best = np.inf
    for t in range(r):
        rest, q = sig[t:], r - t
        s = rest.sum()
        if rest.max() <= s / q * (1 + 1e-12):
            best = min(best, s * s / q - np.sum(rest**2))
    return best


@pytest.mark.parametrize(
    "r,spectrum",
    [
        (1, 1.0),
        (2, 1.0),
        (3, 1.0),
        (3, 30.0),
        (2, 1e3),
        (3, [1, 0.9, 0.8, 0.7]),
        (3, [5, 1, 1, 0.5]),
    ],
)
def test_one_reduction_is_unbiased_and_has_the_least_variance(r, spectrum):
    """One reduction of r+1 Kronecker terms, every sign pattern enumerated: the mean is the
    sum, every outcome has r terms, and the variance is the nuclear-norm bound
    ``(Σ_mixed σ)²/q - Σ_mixed σ²`` (largest values kept when they are too large to mix).

    ``spectrum``: random factors with the first term scaled by it, or the singular values
    (orthogonal factors; a flat spectrum must be mixed whole, a dominant value kept)."""
    rng = np.random.default_rng(r)
    p, m = 9, 6
    Fa, Fu = rng.standard_normal((1, p, r + 1)), rng.standard_normal((1, m, r + 1))
    if np.ndim(spectrum) == 0:
        Fa[:, :, 0] *= spectrum  # a dominant term that must be kept exactly
    else:
        Fa = np.linalg.qr(Fa)[0] * np.asarray(spectrum)
        Fu = np.linalg.qr(Fu)[0]
    C = Fa[0] @ Fu[0].T
    outs = []
    for bits in itertools.product([0, 1], repeat=r + 1):
        Ga, Gu = reduce_terms(Fa.copy(), Fu.copy(), r, ScriptedSigns(bits))
        assert Ga.shape == (1, p, r) and Gu.shape == (1, m, r)
        outs.append(Ga[0] @ Gu[0].T)
    outs = np.array(outs)
    np.testing.assert_allclose(outs.mean(0), C, atol=1e-12 * np.abs(C).max())
    var = np.mean(np.sum((outs - C) ** 2, axis=(1, 2)))
    sig = np.linalg.svd(C, compute_uv=False)[: r + 1]
    np.testing.assert_allclose(var, brute_force_variance(sig, r), rtol=1e-9)
    # the general lower bound for any unbiased rank-r estimate: E‖X‖²_F ≥ ‖C‖²_* / r
    assert var >= sig.sum() ** 2 / r - np.sum(sig**2) - 1e-9 * np.sum(sig**2)


@pytest.mark.parametrize("seed", range(4))
def test_one_reduction_has_less_variance_than_kf_rtrls(seed):
    """r = 1: OK's reduction of two terms vs Mujika et al.'s sign trick with their p1, p2."""
    rng = np.random.default_rng(seed)
    a1, a2 = rng.standard_normal((2, 9))
    u1, u2 = rng.standard_normal((2, 5)) * rng.uniform(0.1, 3, 2)[:, None]
    C = np.outer(a1, u1) + np.outer(a2, u2)
    p1 = np.sqrt(np.linalg.norm(a1) / np.linalg.norm(u1))
    p2 = np.sqrt(np.linalg.norm(a2) / np.linalg.norm(u2))
    kf = [
        np.outer(c1 * a1 / p1 + c2 * a2 / p2, c1 * p1 * u1 + c2 * p2 * u2)
        for c1, c2 in itertools.product([-1, 1], repeat=2)
    ]
    Fa, Fu = np.stack([a1, a2], 1)[None], np.stack([u1, u2], 1)[None]
    ok = [
        (lambda G: G[0][0] @ G[1][0].T)(reduce_terms(Fa, Fu, 1, ScriptedSigns(b)))
        for b in itertools.product([0, 1], repeat=2)
    ]
    v_kf = np.mean([np.sum((X - C) ** 2) for X in kf])
    v_ok = np.mean([np.sum((X - C) ** 2) for X in ok])
    s1, s2 = np.linalg.svd(C, compute_uv=False)[:2]
    np.testing.assert_allclose(v_ok, 2 * s1 * s2, rtol=1e-10)  # (s1+s2)² - s1² - s2²
    assert v_ok <= v_kf * (1 + 1e-12)


# ------------------------------------------------------------------ statistically
def sample_means(net, x, y, n_batches, per_batch, **kw):
    X, Y = np.repeat(x, per_batch, 0), np.repeat(y, per_batch, 0)  # the loss averages trials
    return np.array([flat(bp.gradient(net, X, Y, seed=s, **kw)) for s in range(n_batches)])


def realistic(form, T=15):
    rng = np.random.default_rng(11)
    net = bp.LeakyRNN.random(2, 6, 2, tau=np.linspace(2, 8, 6), form=form, seed=3)
    x, y = rng.standard_normal((1, T, 2)), rng.standard_normal((1, T, 2))
    return net, x, y, flat(bp.gradient(net, x, y, rule="rtrl"))


@pytest.mark.parametrize("form", FORMS)
def test_sample_mean_converges_to_rtrl(form):
    """1024 and 16384 seeded estimates: ‖mean - RTRL‖² / Σ SE² < 9 (3-sigma-like) for both,
    and the tolerance 3√(Σ SE²) shrinks about 4x with 16x the samples (n = 6, T = 10)."""
    net, x, y, exact = realistic(form, T=10)

    def check(n_batches, per_batch):
        means = sample_means(net, x, y, n_batches, per_batch, rule="ok", rank=2)
        se2 = (means.var(0, ddof=1) / n_batches).sum()
        return np.sum((means.mean(0) - exact) ** 2) / se2, 3 * np.sqrt(se2)

    stat_small, tol_small = check(16, 64)
    stat_large, tol_large = check(16, 1024)
    assert stat_small < 9 and stat_large < 9
    assert tol_large < tol_small / 2.5
    assert tol_large < 0.05 * np.linalg.norm(exact)  # and the check is tight


@pytest.mark.parametrize("form", FORMS)
def test_variance_is_below_kf_rtrls_and_falls_with_rank(form):
    """Total variance of one trial's estimate, from 480 samples each (same network, seeds).

    Measured (rate / current), in units of ‖RTRL‖²: KF-RTRL 9.2 / 6.6, OK r=1 4.8 / 3.5,
    r=2 0.80 / 0.46, r=3 0.16 / 0.06 (UORO: 88 / 85)."""
    net, x, y, exact = realistic(form)

    def variance(**kw):
        return sample_means(net, x, y, 60, 8, **kw).var(0, ddof=1).sum() * 8 / (exact @ exact)

    kf, ok1, ok2 = variance(rule="kf_rtrl"), variance(rule="ok", rank=1), variance(rule="ok")
    assert ok1 < 0.8 * kf
    assert ok2 < 0.4 * ok1


# ------------------------------------------------------------------ exact at full rank
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("n,n_in,rank", [(3, 4, 8), (2, 3, 4), (3, 1, 5)])
def test_rank_covering_the_influence_is_rtrl(form, n, n_in, rank):
    """r ≥ m = n + n_in + 1 (first and last case) or r ≥ n² (second): the r+1 terms have rank
    ≤ r, are reduced exactly, and no signs are drawn."""
    p = make_problem(
        np.random.default_rng(n + n_in),
        form=form,
        activation="tanh",
        alpha="per-unit",
        B=3,
        T=12,
        n=n,
        n_in=n_in,
        n_out=2,
        masked=True,
        with_h0=True,
    )
    exact = bp.gradient(p.net, p.x, p.target, p.mask, rule="rtrl", h0=p.h0)
    batch = prepare(p.net, p.x, p.target, p.mask, p.h0)
    trace = p.net.forward(batch.x, batch.h0, derivatives=True)
    e = output_error(trace, batch)
    B = p.net.params["W_out"].T.copy()
    g = run_online(RULES["ok"](rank=rank), p.net, trace, e, B, ScriptedSigns([]))
    assert rel_err(g, exact) <= 1e-10
    # one rank less is not exact
    low = bp.gradient(p.net, p.x, p.target, p.mask, rule="ok", rank=rank - 1, h0=p.h0)
    assert rel_err(low, exact) > 1e-6


# ------------------------------------------------------------------ faces, seeds, options
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("rank", [1, 3])
def test_per_trial_face_equals_the_online_face(form, rank):
    p = make_problem(
        np.random.default_rng(rank),
        form=form,
        activation="softplus",
        alpha="per-unit",
        B=3,
        T=8,
        n=4,
        n_in=2,
        n_out=2,
        masked=True,
        with_h0=True,
    )
    batch = prepare(p.net, p.x, p.target, p.mask, p.h0)
    B = np.random.default_rng(0).standard_normal((4, 2))
    per_trial, online = faces(make_rule("ok", {"rank": rank}), p.net, batch, B, seed=2)
    assert rel_err(per_trial, online) <= 1e-12


def test_same_seed_same_numbers_and_trials_are_independent():
    rng = np.random.default_rng(3)
    net = tiny_net("rate", rng, n=4, n_in=2)
    x, y = rng.standard_normal((1, 10, 2)), rng.standard_normal((1, 10, 1))
    a, b, c = (bp.gradient(net, x, y, rule="ok", seed=s) for s in (4, 4, 5))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["W_rec"], c["W_rec"])
    # two copies of one trial in a batch draw different signs: the batch mean differs from one
    two = bp.gradient(net, np.repeat(x, 2, 0), np.repeat(y, 2, 0), rule="ok", seed=4)
    assert not np.allclose(two["W_rec"], a["W_rec"])
    # the state uses the generator it was given (signs drawn (trial, r+1) per step)
    gen = np.random.default_rng(0)
    state = RULES["ok"]().init(net, 1, gen)
    assert state.rng is gen and state.A.shape == (1, 4, 2, 4) and state.u.shape == (1, 2, 7)


def test_float32_stays_float32():
    rng = np.random.default_rng(4)
    net = tiny_net("current", rng, n=4, n_in=2).astype(np.float32)
    x, y = rng.standard_normal((2, 6, 2)), rng.standard_normal((2, 6, 1))
    g = bp.gradient(net, x, y, rule="ok", rank=2)
    g64 = bp.gradient(net.astype(np.float64), x, y, rule="ok", rank=2)
    assert all(v.dtype == np.float32 for v in g.values())
    assert rel_err(g, g64) < 1e-3  # same signs, float32 rounding only


def test_clamp_zeroes_the_forced_units_rows():
    rng = np.random.default_rng(5)
    net = tiny_net("rate", rng, n=3, n_in=1)
    r = RULES["ok"](rank=2)
    state = r.init(net, 2, rng)
    state.A = rng.standard_normal(state.A.shape)
    forced = np.array([[True, False, False], [False, False, True]])
    r.clamp(state, forced)
    assert not state.A[0, 0].any() and not state.A[1, 2].any() and state.A[0, 1:].all()


@pytest.mark.parametrize("rank", [0, -1, 1.5, True, "2", None])
def test_bad_rank_raises(rank):
    with pytest.raises(ValueError, match=r"rank must be an int >= 1"):
        make_rule("ok", {"rank": rank})
    rng = np.random.default_rng(0)
    net = tiny_net("rate", rng)
    with pytest.raises(ValueError, match=r"rank must be an int >= 1"):
        bp.gradient(net, np.zeros((1, 2, 1)), np.zeros((1, 2, 1)), rule="ok", rank=rank)


def test_options_and_defaults():
    assert RULES["ok"]().rank == 2 and RULES["ok"].default_feedback == "symmetric"
    with pytest.raises(TypeError, match=r"rule 'ok' takes options \['rank'\]"):
        make_rule("ok", {"r": 2})
