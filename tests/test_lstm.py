"""LSTM units (Javed et al. 2023, Appendix C) and the gated-unit rules that run on both model
families: gradients against central finite differences and BPTT, exact RTRL on columns and
constructive stages, truncation against windows, and the generic code on the leaky RNN against
the leaky RNN's own rules."""

import numpy as np
import pytest

import bioplastic as bp
from bioplastic.model import local
from bioplastic.objective import error_and_loss, prepare
from bioplastic.rules import gated

RNG = np.random.default_rng(11)


def lstm(kind="dense", n_in=3, n=4, n_out=2, seed=1):
    """An LSTM with weights large enough for every gate to matter and a random readout."""
    net = getattr(bp.LSTM, kind)(n_in, n, n_out, scale=0.6, seed=seed)
    return net.with_params({"W_out": np.random.default_rng(seed).normal(size=(n_out, n))})


def data(net, B=2, T=7, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, net.n_in))
    y = rng.normal(size=(B, T, net.n_out))
    mask = rng.random((B, T, net.n_out)) < 0.8
    return x, y, mask


def loss_of(net, batch):
    L = local(net, batch.x, batch.h0)
    return error_and_loss(L.outputs, batch.target, batch.mask, batch.n_trials, batch.loss)[1]


def finite_differences(net, batch, eps=1e-6):
    """Central differences of the loss in every learning, unmasked entry."""
    out = {}
    conn = net.connectivity.get("W_rec")
    for k, v in net.params.items():
        g = np.zeros_like(v)
        learn = net.plastic_masks.get(k, np.ones(v.shape, dtype=bool)) if k in net.plastic else None
        for idx in np.ndindex(v.shape):
            if learn is None or not learn[idx]:
                continue
            if k == "W_rec" and conn is not None and not conn[idx[-2:]]:
                continue
            vals = []
            for s in (1, -1):
                w = v.copy()
                w[idx] += s * eps
                vals.append(loss_of(net.with_params({k: w}), batch))
            g[idx] = (vals[0] - vals[1]) / (2 * eps)
        out[k] = g
    return out


def max_diff(a, b):
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


@pytest.mark.parametrize("kind", ["dense", "columnar"])
def test_lstm_bptt_matches_finite_differences(kind):
    net = lstm(kind)
    x, y, mask = data(net)
    h0 = RNG.normal(size=(2, net.n_rec)) * 0.5
    g = bp.gradient(net, x, y, mask, rule="bptt", h0=h0)
    fd = finite_differences(net, prepare(net, x, y, mask, h0))
    assert max_diff(g, fd) < 1e-7
    assert min(float(np.abs(v).max()) for v in g.values()) > 1e-3  # every parameter matters


def test_columnar_rtrl_equals_bptt_and_dense_snap1_does_not():
    net = lstm("columnar", n=5)
    x, y, mask = data(net, T=12)
    bptt = bp.gradient(net, x, y, mask, rule="bptt")
    assert max_diff(bp.gradient(net, x, y, mask, rule="rtrl"), bptt) < 1e-10
    assert max_diff(bp.gradient(net, x, y, mask, rule="snap1"), bptt) < 1e-10
    dense = lstm("dense", n=5)
    exact = bp.gradient(dense, x, y, mask, rule="bptt")
    approx = bp.gradient(dense, x, y, mask, rule="snap1")
    assert max_diff(approx, exact) > 1e-2  # the diagonal approximation drops cross-unit paths
    for k in ("W_out", "b_out"):  # the readout has no temporal credit: exact for every rule
        np.testing.assert_allclose(approx[k], exact[k], atol=1e-12)


def test_every_constructive_stage_learns_by_exact_rtrl():
    """Javed et al. 2023 sec. 5: each stage's units hear the frozen earlier ones; exact RTRL
    needs only the newest stage's traces, and equals BPTT at every stage."""
    net = lstm("columnar", n=1, seed=3)
    x, y, mask = data(net, T=10)
    for n_new in (1, 2, 3):
        net = net.grow(n_new, scale=0.6)
        net = net.with_params({"W_out": RNG.normal(size=net.params["W_out"].shape)})
        bptt = bp.gradient(net, x, y, mask, rule="bptt")
        rtrl = bp.gradient(net, x, y, mask, rule="rtrl")
        assert max_diff(rtrl, bptt) < 1e-10
        frozen = slice(0, net.n_rec - n_new)
        assert not bptt["W_in"][:, frozen].any() and not bptt["W_rec"][:, frozen].any()
        assert np.abs(bptt["W_rec"][:, -n_new:]).max() > 1e-3
    fd = finite_differences(net, prepare(net, x, y, mask))
    assert max_diff(bptt, fd) < 1e-7


def test_grow_wires_a_stage_to_hear_only_earlier_units():
    net = bp.LSTM.columnar(2, 2, 1).grow(3)
    m = net.connectivity["W_rec"]
    assert m.shape == (5, 5)
    assert not m[:2, 2:].any()  # no earlier unit hears a new one
    assert m[2:, :2].all() and (m[2:, 2:] == np.eye(3, dtype=bool)).all()
    assert not net.params["W_out"][:, 2:].any()
    assert not net.plastic_masks["W_in"][:, :2].any() and net.plastic_masks["W_in"][:, 2:].all()


@pytest.mark.parametrize("k", [1, 3])
def test_lstm_tbptt_is_the_gradient_of_each_loss_through_its_last_k_states(k):
    """Independent derivation: the loss at t through s_{t-k+1..t} is BPTT on the window that
    starts from the full run's (h, c)_{t-k} held as constants."""
    net = lstm("dense")
    x, y, mask = data(net, B=2, T=6)
    got = bp.gradient(net, x, y, mask, rule="tbptt", truncation=k)
    full = net.forward(x, np.zeros((2, net.n_rec)))
    batch = prepare(net, x, y, mask)
    want = {key: np.zeros_like(v) for key, v in net.params.items()}
    T = x.shape[1]
    for t in range(T):
        s = max(0, t - k + 1)
        w_mask = np.zeros_like(mask[:, s : t + 1], dtype=float)
        w_mask[:, -1] = mask[:, t]
        win = prepare(net, x[:, s : t + 1], y[:, s : t + 1], w_mask, full.h[s].copy())
        L = local(net, win.x, win.h0, full.c[s].copy())
        e, _ = error_and_loss(L.outputs, win.target, win.mask, batch.n_trials, "mse")
        g = gated.bptt(gated.gated_params(net), L, e)
        for key in want:
            want[key] += g[key]
    assert max_diff(got, want) < 1e-12
    if k == 1:
        assert max_diff(got, bp.gradient(net, x, y, mask, rule="bptt")) > 1e-3
    assert (
        max_diff(
            bp.gradient(net, x, y, mask, rule="tbptt", truncation=T), bp.gradient(net, x, y, mask)
        )
        < 1e-12
    )


@pytest.mark.parametrize("form", ["rate", "current"])
@pytest.mark.parametrize(
    "rule, options", [("bptt", {}), ("tbptt", {"truncation": 3}), ("snap1", {})]
)
def test_generic_rules_on_the_leaky_rnn_equal_its_own(form, rule, options):
    """The same gated-unit code, fed the leaky RNN's factors, reproduces the leaky RNN's
    rules (written separately, compiled where numba is present)."""
    net = bp.LeakyRNN.random(3, 6, 2, tau=np.linspace(1.5, 5.0, 6), form=form, seed=2)
    x, y, mask = data(net, T=9)
    h0 = RNG.normal(size=(2, 6)) * 0.3
    mine = gated.gradient(net, prepare(net, x, y, mask, h0), rule, options)
    theirs = bp.gradient(net, x, y, mask, rule=rule, h0=h0, **options)
    assert max_diff(mine, theirs) < 1e-12


def test_generic_traces_are_exact_rtrl_on_a_one_unit_column_leaky_rnn():
    n = 5
    rng = np.random.default_rng(4)
    net = bp.LeakyRNN(
        rng.normal(size=(n, 2)),
        np.diag(rng.normal(size=n)),
        rng.normal(size=(1, n)),
        alpha=0.3,
        connectivity={"W_rec": np.eye(n)},
    )
    x, y, mask = data(net, T=10)
    batch = prepare(net, x, y, mask)
    assert (
        max_diff(gated.gradient(net, batch, "rtrl", {}), bp.gradient(net, x, y, mask, rule="rtrl"))
        < 1e-12
    )


def test_lstm_float32_runs_and_agrees_with_float64():
    net = lstm("columnar")
    x, y, mask = data(net)
    g64 = bp.gradient(net, x, y, mask, rule="rtrl")
    net32 = bp.LSTM(**net.params, connectivity=net.connectivity, dtype=np.float32)
    g32 = bp.gradient(net32, x, y, mask, rule="rtrl")
    assert g32["W_in"].dtype == np.float32
    assert max_diff(g32, g64) < 1e-4


def test_lstm_errors_name_the_fix():
    net = lstm("dense")
    x, y, _ = data(net)
    for rule in ("rflo", "eprop", "uoro"):
        with pytest.raises(ValueError, match="leaky RNN only.*bptt"):
            bp.gradient(net, x, y, rule=rule)
    with pytest.raises(ValueError, match="rule must be one of"):
        bp.gradient(net, x, y, rule="nope")
    with pytest.raises(ValueError, match="snap1"):
        bp.gradient(net, x, y, rule="rtrl")
    with pytest.raises(ValueError, match="truncation"):
        bp.gradient(net, x, y, rule="tbptt")
    with pytest.raises(TypeError, match="unknown"):
        bp.gradient(net, x, y, rule="bptt", truncation=3)
    with pytest.raises(ValueError, match="symmetric"):
        bp.gradient(net, x, y, rule="bptt", feedback="random")
    with pytest.raises(ValueError, match=r"\(4, n, n\)"):
        bp.LSTM(np.zeros((4, 2, 1)), np.zeros((3, 2, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="multiply"):
        bp.LSTM(
            np.zeros((4, 2, 1)),
            np.ones((4, 2, 2)),
            np.zeros((1, 2)),
            connectivity={"W_rec": np.eye(2)},
        )
    with pytest.raises(ValueError, match="input"):
        net.run(np.zeros((1, 3, net.n_in + 1)))
    with pytest.raises(ValueError, match="n_new"):
        net.grow(0)
    with pytest.raises(TypeError, match="learn_td"):
        bp.train(net, bp.tasks.TracePatterning(), "bptt", n_trials=1)


def test_lstm_state_follows_the_equations_step_by_step():
    """Eqs. 8-13 of Javed et al. 2023's Appendix C, one unit by hand."""
    net = lstm("columnar", n_in=2, n=1, n_out=1)
    p = net.params
    x = RNG.normal(size=(1, 4, 2))
    states, outputs = net.run(x)
    h = c = 0.0
    sig = lambda u: 1 / (1 + np.exp(-u))  # noqa: E731
    for t in range(4):
        u = p["W_in"][:, 0] @ x[0, t] + p["W_rec"][:, 0, 0] * h + p["b"][:, 0]
        i, f, o, g = sig(u[0]), sig(u[1]), sig(u[2]), np.tanh(u[3])
        c = f * c + i * g
        h = o * np.tanh(c)
        assert states[0, t, 0] == pytest.approx(h, abs=1e-14)
        assert outputs[0, t, 0] == pytest.approx(p["W_out"][0, 0] * h + p["b_out"][0], abs=1e-14)
