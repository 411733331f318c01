"""bioplastic.brian: LeakyRNN and RFLO in Brian2, against net.run, SciPy's ODE solution and
bioplastic's own online RFLO."""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

import brian2 as b2
import numpy as np
import pytest
from scipy.linalg import expm

import bioplastic as bp
from bioplastic.brian import ode_solution, rflo_brian2, simulate_brian2, to_brian2
from bioplastic.cli import main
from bioplastic.tasks.base import Trials

ACTIVATIONS = ("tanh", "relu", "softplus", "sigmoid", "linear")
HAS_COMPILER = shutil.which("g++") is not None or shutil.which("c++") is not None
needs_compiler = pytest.mark.skipif(not HAS_COMPILER, reason="cpp_standalone needs a C++ compiler")


def _net(form="rate", activation="tanh", n=6, seed=0, **kw):
    tau = np.linspace(2.0, 7.0, n)  # per-unit τ, α = 1/τ in (0.14, 0.5)
    return bp.LeakyRNN.random(2, n, 2, tau=tau, seed=seed, form=form, activation=activation, **kw)


def _inputs(B=3, T=25, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, T, 2)), 0.3 * rng.standard_normal((B, 6))


# ------------------------------------------------------------------ Euler at dt = Δ is net.run
@pytest.mark.parametrize("form", ["rate", "current"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_euler_at_the_network_step_is_net_run(form, activation):
    net = _net(form, activation)
    x, h0 = _inputs()
    states, outputs = net.run(x, h0)
    b_states, b_outputs = simulate_brian2(net, x, h0=h0)
    assert b_states.shape == states.shape and b_outputs.shape == outputs.shape
    assert np.abs(b_states - states).max() < 1e-10
    assert np.abs(b_outputs - outputs).max() < 1e-10
    assert np.abs(states).max() > 0.1  # the network moved


def test_sparse_recurrent_weights_keep_their_orientation():
    rng = np.random.default_rng(1)
    mask = rng.random((6, 6)) < 0.4
    W = np.where(mask, rng.standard_normal((6, 6)), 0.0)
    assert not np.allclose(W, W.T)
    net = bp.LeakyRNN(
        rng.standard_normal((6, 2)),
        W,
        rng.standard_normal((2, 6)),
        alpha=0.3,
        connectivity={"W_rec": mask},
    )
    x, h0 = _inputs(B=2)
    model = to_brian2(net, x, h0=h0)
    assert len(model.synapses) == 2 * mask.sum()  # one block per trial, masked synapses absent
    b_states, _ = model.run()
    assert np.abs(b_states - net.run(x, h0).states).max() < 1e-10


def test_xarray_form():
    net = _net()
    x, h0 = _inputs(B=2, T=10)
    ds = simulate_brian2(net, x, h0=h0, as_dataset=True, time_unit=10 * b2.ms)
    assert dict(ds.sizes) == {"trial": 2, "time": 10, "unit": 6, "output": 2}
    np.testing.assert_allclose(ds["time"].values, 10.0 * np.arange(1, 11))
    states, outputs = net.run(x, h0)
    np.testing.assert_allclose(ds["states"].values, states, atol=1e-12)
    np.testing.assert_allclose(ds["outputs"].values, outputs, atol=1e-12)
    assert ds.attrs["method"] == "euler" and ds.attrs["codegen"] == "numpy"


# ------------------------------------------------------------------ the continuous-time limit
def test_ode_solution_matches_the_matrix_exponential():
    """A linear rate network's ODE has a closed form; ode_solution must reproduce it."""
    net = _net(activation="linear")
    x, h0 = _inputs(B=2, T=15)
    p, n = net.params, net.n_rec
    tau = net.tau
    A = (p["W_rec"] - np.eye(n)) / tau[:, None]  # dh/dt = A h + c
    want = np.empty((2, 15, n))
    for b in range(2):
        h = h0[b]
        for k in range(15):
            c = (p["W_in"] @ x[b, k] + p["b"]) / tau
            M = np.zeros((n + 1, n + 1))
            M[:n, :n], M[:n, n] = A, c
            h = (expm(M * net.dt) @ np.append(h, 1.0))[:n]
            want[b, k] = h
    got = ode_solution(net, x, h0)
    assert np.abs(got - want).max() < 1e-9


@pytest.mark.parametrize("form", ["rate", "current"])
@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_finer_steps_converge_to_the_ode(form, method):
    net = _net(form)
    x, h0 = _inputs(B=2, T=20)
    ref = ode_solution(net, x, h0)
    err = [
        np.abs(simulate_brian2(net, x, h0=h0, method=method, dt=b2.ms / k).states - ref).max()
        for k in (1, 10, 100)
    ]
    # first order in dt (summed variables are fixed within a step): ×10 finer, ~×10 smaller
    assert 6 < err[0] / err[1] < 15 and 6 < err[1] / err[2] < 15, err
    assert err[2] < 5e-3 * np.abs(ref).max()


def test_the_discrete_model_is_first_order_in_dt_over_tau():
    """net.run with α = dt/τ against the ODE: the Euler discretisation error shrinks ∝ dt."""
    base = _net(n=6)
    p = base.params
    rng = np.random.default_rng(3)
    x_tau = rng.standard_normal((1, 8, 2))  # the input, constant over each τ-long interval
    tau = 1.0
    ode_net = bp.LeakyRNN(p["W_in"], p["W_rec"], p["W_out"], tau=tau, dt=tau)
    ref = ode_solution(ode_net, x_tau)  # at t = τ, 2τ, …
    errors = []
    for a in (0.01, 0.1):
        net = bp.LeakyRNN(p["W_in"], p["W_rec"], p["W_out"], alpha=a)
        per = round(1 / a)
        states = net.run(np.repeat(x_tau, per, axis=1)).states[:, per - 1 :: per]
        errors.append(np.abs(states - ref).max())
    assert 7 < errors[1] / errors[0] < 13, errors


# ------------------------------------------------------------------ targets and bad input
@needs_compiler
def test_cpp_standalone_reproduces_net_run_and_restores_the_runtime_device():
    net = _net("current")
    x, h0 = _inputs(B=2, T=15)
    states, _ = simulate_brian2(net, x, h0=h0, codegen="cpp_standalone")
    assert np.abs(states - net.run(x, h0).states).max() < 1e-10
    assert type(b2.get_device()).__name__ == "RuntimeDevice"
    assert np.abs(simulate_brian2(net, x, h0=h0).states - states).max() < 1e-10


def test_the_caller_s_codegen_preference_is_restored():
    before = b2.prefs.codegen.target
    simulate_brian2(_net(), _inputs(B=1, T=5)[0])
    assert b2.prefs.codegen.target == before


def test_a_closed_loop_input_is_a_network_operation():
    net = _net()
    x, h0 = _inputs(B=2, T=12)
    seen = []

    def loop(k, rates):
        seen.append(rates.shape)
        return x[:, k]

    states, _ = simulate_brian2(net, loop, h0=h0, n_steps=12)
    assert np.abs(states - net.run(x, h0).states).max() < 1e-10
    assert seen == [(2, 6)] * 12
    with pytest.raises(ValueError, match="network_operation.*cpp_standalone.*codegen='numpy'"):
        simulate_brian2(net, loop, h0=h0, n_steps=12, codegen="cpp_standalone")
    with pytest.raises(ValueError, match="closed-loop input needs n_steps"):
        simulate_brian2(net, loop, h0=h0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "rk2"}, ValueError, "method.*euler.*rk4"),
        ({"codegen": "gpu"}, ValueError, "codegen.*numpy.*cython.*cpp_standalone"),
        ({"dt": 0.3 * b2.ms}, ValueError, "dt must divide.*Δ/k"),
        ({"dt": 0.1}, ValueError, "dt must be a positive Brian2 time"),
        ({"time_unit": 1.0}, TypeError, "time_unit must be a Brian2 time"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        simulate_brian2(_net(), _inputs(B=1, T=5)[0], **kwargs)


def test_bad_networks_and_inputs_are_named():
    with pytest.raises(TypeError, match="bioplastic.LeakyRNN"):
        to_brian2("net", np.zeros((1, 5, 2)))
    with pytest.raises(ValueError, match="x.*input"):
        simulate_brian2(_net(), np.zeros((1, 5, 3)))
    custom = bp.Activation("cube", lambda u, out: np.power(u, 3, out=out), lambda f, out: 3 * f)
    net = bp.LeakyRNN(
        np.zeros((2, 1)), np.eye(2) * 0.5, np.ones((1, 2)), alpha=0.5, activation=custom
    )
    with pytest.raises(ValueError, match="no Brian2 expression.*tanh"):
        simulate_brian2(net, np.zeros((1, 5, 1)))


# ------------------------------------------------------------------ RFLO in Brian2
@dataclass
class OneTrial:
    """The same trial every time (a real Task: sample() returns Trials)."""

    n_steps: int = 30
    seed: int = 1
    name = "one_trial"
    n_in = 2
    n_out = 2

    def trial(self) -> tuple[np.ndarray, np.ndarray]:
        x = np.random.default_rng(self.seed).standard_normal((1, self.n_steps, 2))
        t = np.arange(self.n_steps)
        y = np.stack([np.sin(2 * np.pi * t / 15), np.cos(2 * np.pi * t / 10)], -1)[None]
        return x, y

    def sample(self, n: int, rng: np.random.Generator) -> Trials:
        x, y = self.trial()
        return Trials(np.repeat(x, n, 0), np.repeat(y, n, 0))


def _plastic_net(form, n, tau, seed=3):
    p = bp.LeakyRNN.random(2, n, 2, tau=tau, seed=seed).params
    return bp.LeakyRNN(
        p["W_in"],
        p["W_rec"],
        p["W_out"],
        p["b"],
        p["b_out"],
        tau=tau,
        form=form,
        plastic=("W_rec", "W_out"),
    )


@pytest.mark.parametrize("form", ["rate", "current"])
@pytest.mark.parametrize(("n", "n_steps", "n_trials"), [(8, 30, 3), (30, 100, 10)])
def test_rflo_in_brian2_is_bioplastic_online_rflo(form, n, n_steps, n_trials):
    """The same weights as bp.train(rule="rflo", update="online", update_every=1).

    Tolerance: both evaluate the same float64 recursion and differ only in summation order
    (Brian2 sums synapses one by one, NumPy's matmul in blocks), a few ulp per step.  After
    ``n_trials × n_steps`` online updates the measured deviation is ≤ 3e-15 (1,000 updates,
    N = 30); 1e-12 leaves room for a different BLAS and is ~10⁹ below the weight change.  A
    one-step scheduling error (the trace updated after the units) changes the weights by ~0.1.
    """
    tau = np.linspace(2.0, 10.0, n)
    net = _plastic_net(form, n, tau)
    task = OneTrial(n_steps)
    B = np.random.default_rng(5).standard_normal((n, 2)) / np.sqrt(2)
    lr = {"W_rec": 0.05, "W_out": 0.02}
    ds = bp.train(
        net,
        task,
        "rflo",
        feedback=B,
        optimizer=bp.optim.SGD(lr),
        n_trials=n_trials,
        update="online",
        update_every=1,
        eval_every=10_000,
    )
    x, y = task.trial()
    res = rflo_brian2(net, np.repeat(x, n_trials, 0), np.repeat(y, n_trials, 0), B, lr)
    for k in ("W_rec", "W_out"):
        assert np.abs(ds[k].values - net.params[k]).max() > 0.02  # learning happened
        assert np.abs(res.net.params[k] - ds[k].values).max() < 1e-12, k
    for k in ("W_in", "b", "b_out"):
        assert np.array_equal(res.net.params[k], net.params[k])
    np.testing.assert_allclose(res.loss, ds["loss"].values, rtol=1e-12)
    assert res.loss[-1] < res.loss[0]
    assert res.trajectory.states.shape == (n_trials, n_steps, n)


@needs_compiler
def test_rflo_in_brian2_runs_as_cpp_standalone():
    net = _plastic_net("rate", 8, 4.0)
    x, y = OneTrial().trial()
    B = np.random.default_rng(5).standard_normal((8, 2))
    a = rflo_brian2(net, x, y, B, 0.05, codegen="cpp_standalone")
    b = rflo_brian2(net, x, y, B, 0.05)
    assert np.abs(a.net.params["W_rec"] - b.net.params["W_rec"]).max() < 1e-12
    assert np.abs(a.net.params["W_rec"] - net.params["W_rec"]).max() > 1e-3


def test_rflo_in_brian2_bad_input():
    x, y = OneTrial().trial()
    B = np.ones((8, 2))
    with pytest.raises(ValueError, match="W_rec and W_out only.*plastic=\\('W_rec', 'W_out'\\)"):
        rflo_brian2(bp.LeakyRNN.random(2, 8, 2, tau=4.0), x, y, B, 0.1)
    net = _plastic_net("rate", 8, 4.0)
    with pytest.raises(ValueError, match="feedback.*unit"):
        rflo_brian2(net, x, y, np.ones((2, 8)), 0.1)
    with pytest.raises(ValueError, match="target.*time"):
        rflo_brian2(net, x, y[:, :5], B, 0.1)
    with pytest.raises(ValueError, match="lr"):
        rflo_brian2(net, x, y, B, -1.0)


def test_the_plain_brian2_example_is_the_same_rule():
    """examples/rflo_in_brian2.py (plain Brian2, for users to adapt) learns what
    rflo_brian2 learns (and so what bp.train's online RFLO learns)."""
    path = Path(__file__).resolve().parent.parent / "examples" / "rflo_in_brian2.py"
    spec = importlib.util.spec_from_file_location("rflo_in_brian2", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    N, T, n_trials = 10, 40, 3
    rng = np.random.default_rng(0)
    W_in, W_rec = rng.standard_normal((N, 2)), 1.5 * rng.standard_normal((N, N)) / np.sqrt(N)
    W_out, B = rng.standard_normal((2, N)) / np.sqrt(N), rng.standard_normal((N, 2))
    x, target = rng.standard_normal((T, 2)), rng.standard_normal((T, 2))
    W_rec_new, W_out_new, y = example.rflo(W_in, W_rec, W_out, B, x, target, n_trials)
    net = bp.LeakyRNN(W_in, W_rec, W_out, alpha=0.1, plastic=("W_rec", "W_out"))
    want = rflo_brian2(
        net,
        np.tile(x, (n_trials, 1, 1)),
        np.tile(target, (n_trials, 1, 1)),
        B,
        {"W_rec": 0.05, "W_out": 0.02},
    )
    assert np.abs(W_rec_new - W_rec).max() > 1e-3
    assert np.abs(W_rec_new - want.net.params["W_rec"]).max() < 1e-12
    assert np.abs(W_out_new - want.net.params["W_out"]).max() < 1e-12
    assert np.abs(y - want.trajectory.outputs).max() < 1e-12


# ------------------------------------------------------------------ the CLI check
def test_info_brian2_check(tmp_path, capsys):
    net = bp.LeakyRNN.random(1, 12, 1, tau=5.0, seed=0)
    task = bp.tasks.PeriodicOutput(period=20.0, tau=5.0, n_periods=2.0)
    out = tmp_path / "run.nc"
    bp.train(net, task, "rflo", n_trials=20, h0="random", out=out)
    assert main(["info", str(out), "--brian2-check"]) == 0
    text = capsys.readouterr().out
    assert "brian2:" in text and "max |Δstate| =" in text
    value = float(text.split("max |Δstate| = ")[1].split()[0])
    assert value < 1e-10


def test_rflo_in_brian2_refuses_a_partly_plastic_network():
    base = bp.LeakyRNN.random(1, 3, 1, tau=2.0, seed=0)
    rows = np.zeros((3, 3), bool)
    rows[2] = True
    net = bp.LeakyRNN(**base.params, tau=2.0, plastic={"W_rec": rows, "W_out": True})
    x = np.zeros((1, 4, 1))
    with pytest.raises(ValueError, match="learn only in part"):
        rflo_brian2(net, x, x, np.ones((3, 1)), 0.1)
