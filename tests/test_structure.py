"""Exact RTRL on structure (Javed et al. 2023, seed 003): the reach of each unit's parameters,
columnar networks, and RTRL carrying the influence only where it can be nonzero — equal to
BPTT, to dense RTRL, and as small as the pattern."""

import numpy as np
import pytest
from helpers import interrupt_stream

import bioplastic as bp
from bioplastic.optim import SGD
from bioplastic.rules import rtrl
from bioplastic.rules.influence import influence_blocks
from bioplastic.structure import reach
from bioplastic.tasks import Add

N_IN, N_OUT = 2, 2


def masked_net(mask, *, form="rate", plastic=None, W_in_mask=None, seed=0):
    """A network on ``mask`` with per-unit α < 1 (weights scaled to a spectral radius ~1)."""
    rng = np.random.default_rng(seed)
    n = mask.shape[0]
    W_rec = rng.standard_normal((n, n)) * mask / np.sqrt(max(mask.sum(axis=1).max(), 1))
    W_in = rng.standard_normal((n, N_IN))
    connectivity = {"W_rec": mask}
    if W_in_mask is not None:
        W_in, connectivity["W_in"] = W_in * W_in_mask, W_in_mask
    return bp.LeakyRNN(
        W_in,
        W_rec,
        0.5 * rng.standard_normal((N_OUT, n)),
        b=0.1 * rng.standard_normal(n),
        tau=np.linspace(1.5, 6.0, n),
        form=form,
        connectivity=connectivity,
        plastic=plastic,
    )


def columns(n_columns, size):
    return np.kron(np.eye(n_columns, dtype=bool), np.ones((size, size), dtype=bool))


def chain_of_stages(n):
    """Unit k receives from every earlier unit (a constructive network's wiring)."""
    return np.tril(np.ones((n, n), dtype=bool))


MASKS = {
    "columnar": columns(3, 4),
    "one-unit columns": np.eye(8, dtype=bool),
    "constructive": chain_of_stages(9),
    "sparse": np.random.default_rng(7).random((10, 10)) < 0.15,
}


# ------------------------------------------------------------------------------- reach
def test_reach_follows_the_mask_forward():
    np.testing.assert_array_equal(reach(columns(3, 2)), columns(3, 2))
    # unit k's parameters move k and every later unit of a chain of stages
    np.testing.assert_array_equal(reach(chain_of_stages(5)), chain_of_stages(5).T)
    ring = np.roll(np.eye(5, dtype=bool), 1, axis=0)  # l → l+1 (mod 5)
    assert reach(ring).all()
    within_one = reach(ring, hops=1)
    np.testing.assert_array_equal(within_one, np.eye(5, dtype=bool) | ring.T)
    np.testing.assert_array_equal(reach(ring, hops=0), np.eye(5, dtype=bool))


def test_reach_names_what_it_accepts():
    with pytest.raises(ValueError, match="square"):
        reach(np.ones((2, 3)))
    with pytest.raises(ValueError, match="hops must be an int >= 0 or None"):
        reach(np.ones((2, 2)), hops=-1)


# ------------------------------------------------------------------------------- columnar
def test_a_columnar_network_is_block_diagonal_and_stays_so():
    net = bp.LeakyRNN.columnar(N_IN, 4, 3, N_OUT, tau=3.0, seed=2)
    np.testing.assert_array_equal(net.connectivity["W_rec"], columns(4, 3))
    assert np.all(net.params["W_rec"][~columns(4, 3)] == 0)
    assert np.all(net.params["W_rec"][columns(4, 3)] != 0)
    x = np.random.default_rng(0).standard_normal((2, 6, N_IN))
    g = bp.gradient(net, x, np.zeros((2, 6, N_OUT)))
    assert np.all(g["W_rec"][~columns(4, 3)] == 0)


def test_the_columnar_constructor_names_what_it_accepts():
    with pytest.raises(ValueError, match="n_columns must be an int >= 1"):
        bp.LeakyRNN.columnar(1, 0, 3, 1, tau=2.0)
    with pytest.raises(ValueError, match="column_size must be an int >= 1"):
        bp.LeakyRNN.columnar(1, 2, 1.5, 1, tau=2.0)
    with pytest.raises(ValueError, match="init='murray' or 'murray_methods'"):
        bp.LeakyRNN.columnar(1, 2, 3, 1, tau=2.0, init="marschall")


# ------------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("form", ["rate", "current"])
@pytest.mark.parametrize("structure", sorted(MASKS))
def test_structured_rtrl_equals_bptt(form, structure):
    net = masked_net(MASKS[structure], form=form)
    assert influence_blocks(net) is not None
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((3, 14, N_IN)), rng.standard_normal((3, 14, N_OUT))
    exact = bp.gradient(net, x, y, rule="bptt")
    ours = bp.gradient(net, x, y, rule="rtrl")
    for k in exact:
        np.testing.assert_allclose(ours[k], exact[k], rtol=1e-10, atol=1e-12, err_msg=k)


@pytest.mark.parametrize(
    "plastic, W_in_mask",
    [
        (("W_in", "b", "W_out", "b_out"), None),  # W_rec frozen
        (("W_rec", "W_out"), None),  # neither W_in nor b learns
        (None, np.eye(9, N_IN, dtype=bool)),  # each input reaches one unit
    ],
)
def test_structured_rtrl_equals_bptt_with_frozen_and_masked_blocks(plastic, W_in_mask):
    net = masked_net(chain_of_stages(9), plastic=plastic, W_in_mask=W_in_mask, form="current")
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2, 12, N_IN)), rng.standard_normal((2, 12, N_OUT))
    exact, ours = bp.gradient(net, x, y, rule="bptt"), bp.gradient(net, x, y, rule="rtrl")
    for k in exact:
        np.testing.assert_allclose(ours[k], exact[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_the_influence_is_as_large_as_the_pattern():
    """Columns of one unit: one influence entry per parameter of Θ, O(n) rather than O(n³)."""
    n, B = 40, 3
    net = bp.LeakyRNN.columnar(N_IN, n, 1, N_OUT, tau=2.0, seed=0)
    state = rtrl.RTRL().init(net, B, np.random.default_rng(0))
    assert state.influence.shape == (B, n * (1 + N_IN + 1))
    four = bp.LeakyRNN.columnar(N_IN, 10, 4, N_OUT, tau=2.0, seed=0)
    state = rtrl.RTRL().init(four, B, np.random.default_rng(0))
    assert state.influence.shape == (B, 10 * 4 * 4 * (4 + N_IN + 1))
    dense = bp.LeakyRNN.random(N_IN, 5, N_OUT, tau=2.0)
    assert rtrl.RTRL().init(dense, B, np.random.default_rng(0)).influence.shape == (B, 5, 5 * 8)


def dense_layout(monkeypatch):
    """Run RTRL with the dense influence whatever the structure (the reference)."""
    monkeypatch.setattr(rtrl, "influence_blocks", lambda net: None)


def test_online_training_on_structure_equals_the_dense_influence(monkeypatch):
    """Streamed online RTRL on a columnar network: the structured and the dense influence
    learn the same weights (the structured one runs on numpy, the dense one compiled)."""
    net = bp.LeakyRNN.columnar(2, 3, 3, 2, tau=2.0, seed=1, g=1.0)
    stream = Add(t1=2, t2=3, hold=2, chunk=30, test_steps=60, test_warmup=10)
    kw = dict(update="online", update_every=2, optimizer=SGD(lr=1e-2), n_trials=4, seed=0)
    structured = bp.train(net, stream, "rtrl", **kw)
    dense_layout(monkeypatch)
    dense = bp.train(net, stream, "rtrl", **kw)
    for k in ("W_rec", "W_in", "b", "W_out"):
        np.testing.assert_allclose(structured[k].values, dense[k].values, rtol=1e-10, atol=1e-12)
    assert not np.allclose(structured.W_rec.values, net.params["W_rec"])  # it learned


def test_teacher_forcing_clamps_the_structured_influence(monkeypatch):
    """Williams & Zipser's teacher forcing zeroes a forced unit's influence: the same in both
    layouts, on a network of two columns whose first unit is the output."""
    rng = np.random.default_rng(0)
    mask = columns(2, 3)
    W_out = np.zeros((1, 6))
    W_out[0, 0] = 1.0
    net = bp.LeakyRNN(
        0.5 * rng.standard_normal((6, 1)),
        rng.standard_normal((6, 6)) * mask / np.sqrt(3),
        W_out,
        alpha=1.0,
        connectivity={"W_rec": mask},
        plastic=("W_in", "W_rec", "b"),
    )
    task = bp.tasks.PeriodicOutput(period=10, tau=1, dt=1)
    kw = dict(teacher_forcing=True, update="online", optimizer=SGD(lr=0.05), n_trials=3, seed=0)
    structured = bp.train(net, task, "rtrl", **kw)
    dense_layout(monkeypatch)
    dense = bp.train(net, task, "rtrl", **kw)
    np.testing.assert_allclose(structured.W_rec.values, dense.W_rec.values, rtol=1e-10, atol=1e-12)


def test_a_structured_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    """The structured influence is one array per trial: checkpointed, resumed, continued."""
    net = bp.LeakyRNN.columnar(2, 3, 2, 2, tau=2.0, seed=3, g=1.0)
    stream = Add(t1=2, t2=3, hold=2, chunk=30, test_steps=60, test_warmup=10)
    kw = dict(update="online", update_every=3, optimizer=SGD(lr=1e-2), n_trials=6, eval_every=2)
    whole = bp.train(net, stream, "rtrl", seed=1, **kw)
    restore = interrupt_stream(monkeypatch, bp.tasks.Stream, at=5)
    part = bp.train(net, stream, "rtrl", seed=1, out=tmp_path / "run.nc", **kw)
    assert part.attrs["status"] == "interrupted"
    restore()
    resumed = bp.resume(tmp_path / "run.nc")
    for k in ("W_rec", "W_in", "b", "W_out", "eval_loss"):
        np.testing.assert_allclose(resumed[k].values, whole[k].values, rtol=1e-12, err_msg=k)


# ------------------------------------------------------------------------------- SnAp-n
def chain(n):
    """Unit l feeds unit l + 1 only (and itself): the longest path has n - 1 steps."""
    return np.eye(n, dtype=bool) | np.eye(n, k=-1, dtype=bool)


@pytest.mark.parametrize("form", ["rate", "current"])
def test_snap_n_is_snap1_at_one_step_and_rtrl_once_it_reaches_everything(form):
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((3, 10, N_IN)), rng.standard_normal((3, 10, N_OUT))
    dense = masked_net(np.ones((6, 6), dtype=bool), form=form)
    for k, g in bp.gradient(dense, x, y, rule="snap", n=1).items():
        np.testing.assert_allclose(g, bp.gradient(dense, x, y, rule="snap1")[k], rtol=1e-12)
    exact = bp.gradient(dense, x, y, rule="rtrl")
    for k, g in bp.gradient(dense, x, y, rule="snap", n=2).items():  # one step reaches all
        np.testing.assert_allclose(g, exact[k], rtol=1e-10, atol=1e-12, err_msg=k)
    net = masked_net(chain(7), form=form)
    exact = bp.gradient(net, x, y, rule="rtrl")
    errors = []
    for n in (1, 2, 4, 6, 7, 9):
        g = bp.gradient(net, x, y, rule="snap", n=n)
        errors.append(max(np.abs(g[k] - exact[k]).max() for k in exact))
    assert errors[4] <= 1e-12 and errors[5] <= 1e-12  # n ≥ longest path + 1 = 7: exact
    assert all(e > 1e-8 for e in errors[:4])  # shorter: biased
    assert errors[0] > errors[1] > errors[2] > errors[3]


def masked_rtrl_by_hand(net, x, y, keep):
    """Dense RTRL with the influence ``M_t[i, (k, j)]`` kept only where ``keep[i, k]``: one
    trial at a time, the full D_t and Ī_t written out (nothing of the structured code)."""
    P = net.params
    n, n_in = net.n_rec, net.n_in
    m = n + n_in + 1
    a = np.broadcast_to(np.asarray(net.alpha, float), (n,))
    f, df = np.tanh, lambda u: 1 - np.tanh(u) ** 2
    rate = net.form == "rate"
    G = np.zeros((n, m))
    for b in range(x.shape[0]):
        s = np.zeros(n)
        M = np.zeros((n, n, m))  # (unit i, row k, column j)
        for t in range(x.shape[1]):
            r_prev = s if rate else f(s)
            pre = np.concatenate([r_prev, x[b, t], [1.0]])
            u = P["W_rec"] @ r_prev + P["W_in"] @ x[b, t] + P["b"]
            gain = a * df(u) if rate else a
            slope_prev = np.ones(n) if rate else df(s)
            D = np.diag(1 - a) + (gain[:, None] * P["W_rec"]) * slope_prev[None, :]
            s = (1 - a) * s + a * (f(u) if rate else u)
            M = np.einsum("il,lkj->ikj", D, M)
            M[np.arange(n), np.arange(n)] += gain[:, None] * pre[None, :]
            M *= keep[:, :, None]
            r = s if rate else f(s)
            e = (P["W_out"] @ r + P["b_out"] - y[b, t]) / x.shape[0]
            q = (P["W_out"].T @ e) * (np.ones(n) if rate else df(s))
            G += np.einsum("i,ikj->kj", q, M)
    return {"W_rec": G[:, :n], "W_in": G[:, n : n + n_in], "b": G[:, -1]}


@pytest.mark.parametrize("form", ["rate", "current"])
def test_snap_n_keeps_exactly_the_n_step_reach_of_a_sparse_random_mask(form):
    """Menick et al. 2021, eq. 3: the influence of unit k's parameters is kept on the units k
    reaches within n − 1 steps along W_rec's mask, computed here by boolean matrix powers."""
    rng = np.random.default_rng(12)
    mask = rng.random((8, 8)) < 0.2
    net = masked_net(mask, form=form, seed=3)
    x, y = rng.standard_normal((2, 9, N_IN)), rng.standard_normal((2, 9, N_OUT))
    step = (mask | np.eye(8, dtype=bool)).astype(int)  # i ← k in one step (or staying at k)
    within = np.eye(8, dtype=int)
    for n in range(1, 6):
        keep = within > 0  # keep[i, k]: k reaches i in at most n − 1 steps
        got = bp.gradient(net, x, y, rule="snap", n=n)
        ref = masked_rtrl_by_hand(net, x, y, keep)
        ref["W_rec"] = ref["W_rec"] * mask  # absent connections have no gradient
        for k in ref:
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-10, atol=1e-13, err_msg=(n, k))
        within = np.minimum(step @ within, 1)
    exact = bp.gradient(net, x, y, rule="rtrl")  # and the hand-written loop is RTRL uncut
    full = masked_rtrl_by_hand(net, x, y, np.ones((8, 8), dtype=bool))
    for k in full:
        np.testing.assert_allclose(full[k] * (mask if k == "W_rec" else 1), exact[k], rtol=1e-10)


def test_snap_n_names_what_it_accepts():
    net = masked_net(chain(3))
    x = np.zeros((1, 3, N_IN))
    with pytest.raises(ValueError, match=r"n must be an int >= 1"):
        bp.gradient(net, x, np.zeros((1, 3, N_OUT)), rule="snap", n=0)
    with pytest.raises(TypeError, match=r"rule 'snap' needs option\(s\) \['n'\]"):
        bp.gradient(net, x, np.zeros((1, 3, N_OUT)), rule="snap")


# ------------------------------------------------------------------------------- constructive
def grown(stages=3, form="rate"):
    """One feature, then ``stages`` stages of two independent features (Javed et al.'s
    constructive and hybrid networks), per-unit α < 1."""
    net = bp.LeakyRNN.columnar(N_IN, 1, 1, N_OUT, tau=3.0, seed=0, form=form)
    nets = [net]
    for s in range(stages):
        net = net.grow(2, column_size=1, tau=np.array([2.0, 5.0]), seed=s + 1)
        nets.append(net)
    return nets


def test_a_grown_network_adds_frozen_old_features_and_a_silent_readout():
    small, big = grown(1)
    assert big.n_rec == 3
    np.testing.assert_array_equal(big.params["W_rec"][:1, :1], small.params["W_rec"])
    np.testing.assert_array_equal(big.params["W_out"][:, 1:], 0.0)  # the output is unchanged
    mask = big.connectivity["W_rec"]
    assert not mask[:1, 1:].any() and mask[1:, :1].all()  # old units hear nothing new
    np.testing.assert_array_equal(mask[1:, 1:], np.eye(2, dtype=bool))  # two columns
    learn = big.plastic_masks
    np.testing.assert_array_equal(learn["b"], [False, True, True])
    assert learn["W_rec"][1:].all() and not learn["W_rec"][:1].any()
    x = np.random.default_rng(0).standard_normal((2, 7, N_IN))
    np.testing.assert_allclose(big.run(x).outputs, small.run(x).outputs, rtol=1e-14)


@pytest.mark.parametrize("form", ["rate", "current"])
def test_rtrl_is_exact_at_every_stage_and_tracks_only_the_newest(form):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((2, 12, N_IN)), rng.standard_normal((2, 12, N_OUT))
    for net in grown(3, form)[1:]:
        exact, ours = bp.gradient(net, x, y, rule="bptt"), bp.gradient(net, x, y, rule="rtrl")
        for k in exact:
            np.testing.assert_allclose(ours[k], exact[k], rtol=1e-10, atol=1e-12, err_msg=k)
        old = net.n_rec - 2
        for k in ("W_rec", "W_in", "b"):
            assert not ours[k][:old].any()  # frozen features: exactly zero
        state = rtrl.RTRL().init(net, 2, np.random.default_rng(0))
        assert state.influence.shape == (2, 2 * (old + 1 + N_IN + 1))  # the newest stage only


@pytest.mark.parametrize("rule", ["rtrl", "rflo"])  # RFLO's online step is compiled elsewhere
def test_training_a_grown_network_leaves_the_old_features_untouched(rule):
    net = grown(1)[1]
    stream = Add(t1=2, t2=3, hold=2, chunk=30, test_steps=60, test_warmup=10)
    from bioplastic.optim import Adam

    ds = bp.train(
        net,
        stream,
        rule,
        update="online",
        update_every=1,
        optimizer=Adam(lr=1e-2),
        n_trials=3,
        seed=0,
    )
    for k in ("W_rec", "W_in", "b"):
        np.testing.assert_array_equal(ds[k].values[:1], net.params[k][:1])
        assert not np.allclose(ds[k].values[1:], net.params[k][1:])
    assert not np.allclose(ds.W_out.values, net.params["W_out"])


def test_partly_plastic_networks_survive_a_checkpoint(tmp_path):
    from bioplastic.training.checkpoint import net_from

    net = grown(1)[1]
    stream = Add(t1=2, t2=3, hold=2, chunk=30, test_steps=60, test_warmup=10)
    bp.train(net, stream, "rtrl", update="online", n_trials=2, out=tmp_path / "g.nc", seed=0)
    import xarray as xr

    with xr.open_dataset(tmp_path / "g.nc", engine="h5netcdf") as ds:
        back = net_from(ds.load())
    assert back.plastic == net.plastic
    for k, m in net.plastic_masks.items():
        np.testing.assert_array_equal(back.plastic_masks[k], m)


def test_plastic_masks_name_what_they_accept():
    p = bp.LeakyRNN.random(2, 3, 1, tau=2.0).params
    with pytest.raises(ValueError, match="plastic key 'W_foo' is not a parameter"):
        bp.LeakyRNN(**p, tau=2.0, plastic={"W_foo": True})
    with pytest.raises(ValueError, match=r"plastic\['W_rec'\]"):
        bp.LeakyRNN(**p, tau=2.0, plastic={"W_rec": np.ones((2, 3))})
    with pytest.raises(ValueError, match="must hold only 0 and 1"):
        bp.LeakyRNN(**p, tau=2.0, plastic={"W_rec": np.full((3, 3), 0.5)})
    with pytest.raises(ValueError, match="column_size must be an int >= 1 that divides n_new"):
        bp.LeakyRNN.random(2, 3, 1, tau=2.0).grow(3, column_size=2)
    with pytest.raises(ValueError, match="give the new units' tau"):
        bp.LeakyRNN.random(2, 3, 1, tau=np.ones(3) * 2).grow(1)


def test_kolen_pollack_decays_only_the_readout_entries_that_learn():
    base = bp.LeakyRNN.random(2, 4, 2, tau=2.0, seed=0)
    learn = np.ones((2, 4), bool)
    learn[:, :2] = False
    net = bp.LeakyRNN(**base.params, tau=2.0, plastic={"W_rec": True, "W_out": learn})
    stream = Add(t1=2, t2=3, hold=2, chunk=30, test_steps=60, test_warmup=10)
    ds = bp.train(
        net,
        stream,
        "rflo",
        feedback="adaptive",
        kp_decay=0.1,
        optimizer=SGD(lr=1e-2),
        update="online",
        update_every=1,
        n_trials=2,
        seed=0,
    )
    np.testing.assert_array_equal(ds.W_out.values[:, :2], net.params["W_out"][:, :2])
    assert not np.allclose(ds.W_out.values[:, 2:], net.params["W_out"][:, 2:])


def test_growing_again_draws_new_weights_and_keeps_a_partly_frozen_readout():
    net = bp.LeakyRNN.columnar(N_IN, 1, 1, N_OUT, tau=3.0)
    a = net.grow(1, column_size=1)
    b = a.grow(1, column_size=1)
    assert not np.allclose(b.params["W_in"][2], b.params["W_in"][1])  # seed=None: anew
    learn = np.ones((N_OUT, 3), bool)
    learn[0, 0] = False
    c = bp.LeakyRNN(
        **b.params,
        tau=3.0,
        connectivity=b.connectivity,
        plastic={**b.plastic_masks, "W_out": learn, "b_out": True},
    )
    grown_again = c.grow(2)
    np.testing.assert_array_equal(grown_again.plastic_masks["W_out"][:, :3], learn)
    assert grown_again.plastic_masks["W_out"][:, 3:].all()
