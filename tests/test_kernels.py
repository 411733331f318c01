"""The compiled online kernels against the numpy path they replace: equal, float64, to 1e-10,
over every option they take (rules, feedback, losses, masks, optimizers, clipping, per-unit α,
connectivity, Dale's law, plastic subsets, update intervals, streams and trials)."""

import numpy as np
import pytest
from helpers import interrupt_stream

import bioplastic as bp
from bioplastic import kernels
from bioplastic.optim import SGD, Adam
from bioplastic.tasks import Add, ReadySetGo
from bioplastic.training import fused

pytestmark = pytest.mark.skipif(not kernels.available(), reason="numba is not importable")


def options(rule):
    """T-BPTT's window: 4 steps, shorter than a chunk, so that the ring wraps."""
    return {"rule_options": {"truncation": 4}} if rule == "tbptt" else {}


def both(net, task, rule, **kw):
    """The same run through the compiled kernel and through numpy."""
    a = bp.train(net, task, rule, **kw, **options(rule))
    with kernels.disabled():
        b = bp.train(net, task, rule, **kw, **options(rule))
    return a, b


def assert_same(a, b):
    assert set(a.data_vars) == set(b.data_vars)
    for k in a.data_vars:
        if a[k].dtype.kind == "f":
            np.testing.assert_allclose(a[k].values, b[k].values, rtol=1e-10, atol=1e-12, err_msg=k)
        else:
            np.testing.assert_array_equal(a[k].values, b[k].values, err_msg=k)


STREAM = Add(t1=2, t2=3, hold=2, chunk=30, test_steps=120, test_warmup=20)
MASKED = ReadySetGo(intervals=[5, 8], ready=2, cue_width=2, tail=3, response_only=True)


ONLINE = ["rflo", "eprop", "snap1", "rtrl", "uoro", "kf_rtrl", "rkf_rtrl", "tbptt", "bptt"]


@pytest.mark.parametrize("rule", ONLINE)
@pytest.mark.parametrize(
    "case",
    [
        dict(feedback=None, optimizer=SGD(lr=0.05), update_every=1),
        dict(feedback="random", optimizer=Adam(lr=1e-2, clip_norm=0.3), update_every=7),
        dict(
            feedback="symmetric",
            optimizer=SGD(lr={"W_rec": 0.05, "W_out": 0.02}),
            update_every=None,
            mean_over_time=True,
        ),
    ],
)
def test_the_kernel_equals_numpy_on_a_stream(rule, case):
    net = bp.LeakyRNN.random(2, 9, 2, tau=np.linspace(1.5, 4.0, 9), seed=3, init="marschall")
    a, b = both(
        net, STREAM, rule, update="online", n_trials=6, eval_every=3, n_eval=1, seed=2, **case
    )
    assert fused.supported(
        bp.training.Run(
            net,
            STREAM,
            bp.training.Settings(rule=rule, update="online", **options(rule)),
            SGD(),
            {},
        ),
        net,
    )
    assert_same(a, b)


@pytest.mark.parametrize("rule", ONLINE)
def test_the_kernel_equals_numpy_with_masks_structure_and_frozen_weights(rule):
    rng = np.random.default_rng(0)
    mask = rng.random((10, 10)) < 0.6
    base = bp.LeakyRNN.random(2, 10, 1, tau=3.0, seed=1, exc_fraction=0.5, init="murray_methods")
    p = base.params
    net = bp.LeakyRNN(
        p["W_in"],
        p["W_rec"] * mask,
        p["W_out"],
        tau=3.0,
        dale=base.dale,
        connectivity={"W_rec": mask},
        plastic=["W_rec", "b", "W_out"],
    )
    a, b = both(
        net,
        MASKED,
        rule,
        update="online",
        update_every=4,
        n_trials=8,
        batch_size=2,
        optimizer=Adam(lr=3e-2),
        eval_every=2,
        seed=5,
        h0=0.1,
    )
    assert_same(a, b)
    W = a.W_rec.values
    assert np.all(W[~mask] == 0) and np.all(W * base.dale[None, :] >= 0)


def test_a_diverging_kernel_run_rolls_back_like_numpy():
    net = bp.LeakyRNN.random(2, 6, 1, tau=2.0, seed=0, init="marschall")
    kw = dict(
        update="online", update_every=1, optimizer=SGD(lr=1e300), n_trials=5, n_eval=1, seed=0
    )
    with pytest.warns(RuntimeWarning, match="diverged"):
        a = bp.train(net, MASKED, "rflo", **kw)
    with kernels.disabled(), pytest.warns(RuntimeWarning, match="diverged"):
        b = bp.train(net, MASKED, "rflo", **kw)
    assert a.attrs["status"] == b.attrs["status"] == "diverged"
    assert a.sizes["trial"] == b.sizes["trial"]


@pytest.mark.parametrize("rule", ["snap1", "rtrl", "uoro", "kf_rtrl", "rkf_rtrl", "tbptt", "bptt"])
def test_a_run_checkpointed_by_one_path_resumes_on_the_other(rule, tmp_path, monkeypatch):
    """The kernel keeps the numpy path's rule state and stream state: a checkpoint written by
    either continues on the other, and ends where an uninterrupted run ends."""
    net = bp.LeakyRNN.random(2, 7, 2, tau=2.0, seed=4, init="marschall")
    kw = dict(
        update="online",
        update_every=3,
        optimizer=Adam(lr=1e-2),
        n_trials=8,
        n_eval=1,
        eval_every=2,
        seed=1,
    )
    kw.update(options(rule))
    whole = bp.train(net, STREAM, rule, **kw)
    restore = interrupt_stream(monkeypatch, bp.tasks.Stream, at=6)
    out = tmp_path / "run.nc"
    part = bp.train(net, STREAM, rule, out=out, **kw)  # the kernel writes the checkpoint
    assert part.attrs["status"] == "interrupted"
    restore()
    with kernels.disabled():
        resumed = bp.resume(out)  # numpy continues it
    assert_same(resumed, whole)


def test_what_the_kernel_does_not_take_goes_to_numpy():
    net = bp.LeakyRNN.random(2, 5, 2, tau=2.0, form="current")
    run = bp.training.Run(
        net, STREAM, bp.training.Settings(rule="rflo", update="online"), SGD(), {}
    )
    assert not fused.supported(run, net)
    net = bp.LeakyRNN.random(2, 5, 2, tau=2.0)
    for network, settings in (
        (net.astype("float32"), bp.training.Settings(rule="bptt", update="online")),
        (net, bp.training.Settings(rule="rflo", update="online", feedback="adaptive")),
    ):
        assert not fused.supported(bp.training.Run(network, STREAM, settings, SGD(), {}), network)
    with kernels.disabled():
        run = bp.training.Run(
            net, STREAM, bp.training.Settings(rule="rflo", update="online"), SGD(), {}
        )
        assert not fused.supported(run, net)


# ------------------------------------------------------------------------------- the time loops
@pytest.mark.parametrize("form", ["rate", "current"])
@pytest.mark.parametrize("activation", ["tanh", "relu", "softplus", "sigmoid", "linear"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_in, n", [(3, 7), (10, 12), (0, 9)])
def test_the_compiled_time_loops_equal_numpy(form, activation, dtype, n_in, n):
    """The forward recursion and BPTT's credit loop (kernels.recurrence) against numpy's, with
    per-unit α, an initial state and a mask: states, outputs and every gradient.  The shapes
    take each branch: tanh in one pass from 8 units, the drive through BLAS above 8 inputs."""
    net = bp.LeakyRNN.random(
        n_in,
        n,
        2,
        tau=np.linspace(1.2, 9.0, n),
        seed=1,
        form=form,
        activation=activation,
        dtype=dtype,
    )
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 11, n_in)), rng.standard_normal((4, 11, 2))
    mask, h0 = rng.random((4, 11, 2)) < 0.7, 0.3 * rng.standard_normal((4, n))
    fast = net.run(x, h0), bp.gradient(net, x, y, mask, h0=h0)
    with kernels.disabled():
        slow = net.run(x, h0), bp.gradient(net, x, y, mask, h0=h0)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == "float64" else dict(rtol=2e-5, atol=1e-6)
    for a, b in zip(fast[0], slow[0], strict=True):
        np.testing.assert_allclose(a, b, **tol)
    for k in slow[1]:
        np.testing.assert_allclose(fast[1][k], slow[1][k], err_msg=k, **tol)
    assert fast[1]["W_rec"].dtype == np.dtype(dtype)


@pytest.mark.parametrize("n_out", [1, 9])
def test_bptts_compiled_direct_credit_equals_numpy_for_one_and_many_outputs(n_out):
    """The credit loop forms ``e_t Bᵀ`` itself for up to 8 outputs and through BLAS above."""
    net = bp.LeakyRNN.random(2, 6, n_out, tau=3.0, seed=2)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((3, 9, 2)), rng.standard_normal((3, 9, n_out))
    fast = bp.gradient(net, x, y, rule="bptt", feedback="random")
    with kernels.disabled():
        slow = bp.gradient(net, x, y, rule="bptt", feedback="random")
    for k in slow:
        np.testing.assert_allclose(fast[k], slow[k], rtol=1e-12, atol=1e-14, err_msg=k)


def test_the_compiled_tanh_is_within_3_ulp_of_numpys():
    from bioplastic.kernels.recurrence import _activate

    rng = np.random.default_rng(0)
    x = np.concatenate(
        [s * rng.standard_normal(20_000) for s in (1e-300, 1e-8, 0.01, 0.1, 0.5, 2, 10, 50)]
        + [np.array([0.0, -0.0, 0.1, -0.1, 19.0, 22.5, np.inf, -np.inf, np.nan, 1e308])]
    )
    got = x.copy().reshape(1, -1)
    _activate(got, 0)
    want = np.tanh(x)
    both = np.isfinite(want)
    ulp = np.spacing(np.abs(want[both]))
    assert np.max(np.abs(got[0, both] - want[both]) / ulp) <= 3
    assert np.isnan(got[0, ~both]).all() and np.isnan(want[~both]).all()
    np.testing.assert_array_equal(np.signbit(got[0]), np.signbit(want))


def test_without_numba_the_package_imports_and_runs_on_numpy():
    """A platform without a numba wheel: ``import numba`` fails, and every path still runs."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['numba'] = None\n"  # makes `import numba` raise ImportError
        "import numpy as np, bioplastic as bp\n"
        "from bioplastic import kernels\n"
        "from bioplastic.optim import SGD\n"
        "from bioplastic.tasks import Add\n"
        "assert not kernels.available() and kernels.NUMBA_ERROR is not None\n"
        "net = bp.LeakyRNN.random(2, 5, 2, tau=2.0, seed=0)\n"
        "x = np.zeros((2, 6, 2))\n"
        "g = bp.gradient(net, x, x, rule='bptt')\n"
        "task = Add(t1=2, t2=3, hold=2, chunk=20, test_steps=40, test_warmup=10)\n"
        "for rule in ('rflo', 'rtrl', 'uoro'):\n"
        "    ds = bp.train(net, task, rule, n_trials=2, update='online', optimizer=SGD(lr=1e-3),\n"
        "                  n_eval=1)\n"
        "    assert ds.attrs['status'] == 'complete'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")
