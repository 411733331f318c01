"""TD(λ) online prediction (bioplastic.training.td; Sutton 1988, Javed et al. 2023): the
update against a hand-written linear TD(λ), its traces against BPTT, resume, and its errors."""

import numpy as np
import pytest
from helpers import interrupt_stream

import bioplastic as bp
from bioplastic.optim import SGD
from bioplastic.tasks import Add, TracePatterning

TASK = TracePatterning(chunk=150, test_steps=300, test_warmup=100)
KW = dict(update="online", update_every=1, n_eval=1, seed=2)  # seed 2: 3 US in 450 steps


def readout_only(seed=0):
    """A network whose features do not learn: TD(λ) on them is linear TD(λ)."""
    net = bp.LeakyRNN.columnar(TASK.n_in, 6, 2, 1, tau=3.0, seed=seed, g=0.8)
    return bp.LeakyRNN(
        **net.params, tau=3.0, connectivity=net.connectivity, plastic=("W_out", "b_out")
    )


@pytest.mark.parametrize("gamma, lam", [(0.0, 0.0), (0.9, 0.0), (0.9, 0.8), (0.5, 1.0)])
def test_td_on_fixed_features_is_linear_td_lambda(gamma, lam):
    """Hand-written: δ_{t-1} = c_t + γ ŷ_t − ŷ_{t-1}; w += η δ_{t-1} z_{t-1}; z_t = γλ z_{t-1} +
    φ_t, with φ_t = [h_t, 1]; over three chunks of the stream."""
    net, lr = readout_only(), 0.05
    task = TracePatterning(chunk=150, test_steps=300, test_warmup=100, gamma=gamma)
    ds = bp.train(
        net,
        task,
        "rtrl",
        optimizer=SGD(lr=lr),
        n_trials=3,
        eval_every=3,
        td={"gamma": gamma, "lambda": lam},
        **KW,
    )
    stream = task.stream(1, bp.training.settings.streams(KW["seed"])["task"])
    x = np.concatenate([stream.next().x for _ in range(3)], axis=1)
    h = net.run(x).states[0]  # the features never change
    phi = np.concatenate([h, np.ones((len(h), 1))], axis=1)
    c = x[0, :, TASK.cumulant_index]
    assert c.sum() >= 2  # the cumulant is there to predict
    w = np.concatenate([net.params["W_out"][0], net.params["b_out"]])
    z, prev = np.zeros_like(w), None
    for t in range(len(phi)):
        y = phi[t] @ w
        if prev is not None:
            w = w + lr * (c[t] + gamma * y - prev) * z
        z = gamma * lam * z + phi[t]
        prev = y
    np.testing.assert_allclose(ds.W_out.values[0], w[:-1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ds.b_out.values, w[-1:], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("rule", ["rtrl", "snap"])
def test_the_traces_are_the_discounted_gradients_of_the_predictions(rule, monkeypatch):
    """With the weights held (η = 0), z_T = Σ_s (γλ)^{T-1-s} ∇ŷ_s: for RTRL equal to BPTT's
    gradient of the predictions weighted so; for SnAp-n with n covering the columns, too."""
    from bioplastic.training import td

    net = bp.LeakyRNN.columnar(TASK.n_in, 3, 3, 1, tau=np.linspace(2, 5, 9), seed=2, g=1.0)
    gamma, lam = 0.9, 0.7
    seen = {}
    real = td.td_update

    def spy(run, state, trials):
        out = real(run, state, trials)
        seen["z"], seen["x"] = {k: v.copy() for k, v in state.td["z"].items()}, trials.x
        return out

    monkeypatch.setattr(bp.training.updates, "td_update", spy)
    opts = {"rule_options": {"n": 3}} if rule == "snap" else {}
    bp.train(
        net,
        TASK,
        rule,
        optimizer=SGD(lr=0.0),
        n_trials=1,
        eval_every=1,
        td={"gamma": gamma, "lambda": lam},
        **KW,
        **opts,
    )
    x = seen["x"]
    T = x.shape[1]
    y = net.run(x).outputs
    weights = (gamma * lam) ** np.arange(T - 1, -1, -1)[None, :, None]
    # ½ Σ_s w_s (y_s − (y_s − 1))² has the error e_s = w_s: the gradient is Σ_s w_s ∇ŷ_s
    exact = bp.gradient(net, x, y - 1.0, weights, rule="bptt")
    for k in exact:
        np.testing.assert_allclose(seen["z"][k], exact[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_a_td_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    net = bp.LeakyRNN.columnar(TASK.n_in, 4, 1, 1, tau=3.0, seed=1, g=0.8)
    kw = dict(optimizer=SGD(lr=0.02), n_trials=6, eval_every=2, td={"gamma": 0.9, "lambda": 0.9})
    whole = bp.train(net, TASK, "rtrl", **kw, **KW)
    restore = interrupt_stream(monkeypatch, bp.tasks.trace_patterning.TraceStream, at=5)
    part = bp.train(net, TASK, "rtrl", out=tmp_path / "td.nc", **kw, **KW)
    assert part.attrs["status"] == "interrupted"
    restore()
    resumed = bp.resume(tmp_path / "td.nc")
    for k in ("W_rec", "W_in", "b", "W_out", "b_out", "eval_loss", "loss"):
        np.testing.assert_allclose(resumed[k].values, whole[k].values, rtol=1e-12, err_msg=k)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"td": {"gamma": 0.9}}, r"td must be a table \{gamma = γ, lambda = λ\}"),
        ({"td": {"gamma": 1.5, "lambda": 0.5}}, r"td.gamma must be a number in \[0, 1\]"),
        ({"batch_size": 2, "n_trials": 2}, "batch_size must be 1"),
        ({"update_every": 2}, "update_every must be 1"),
    ],
)
def test_td_settings_name_the_fix(change, match):
    net = bp.LeakyRNN.columnar(TASK.n_in, 2, 1, 1, tau=3.0)
    kw = {**KW, "n_trials": 1, "td": {"gamma": 0.9, "lambda": 0.5}, **change}
    with pytest.raises(ValueError, match=match):
        bp.train(net, TASK, "rtrl", **kw)


def test_td_needs_a_cumulant():
    task = Add(t1=2, t2=3, hold=2, chunk=30, test_steps=60, test_warmup=20)
    net = bp.LeakyRNN.random(2, 4, 2, tau=2.0)
    with pytest.raises(ValueError, match="td needs a task with a cumulant"):
        bp.train(net, task, "rtrl", n_trials=1, td={"gamma": 0.9, "lambda": 0.5}, **KW)


def test_td_gamma_must_be_the_tasks():
    net = bp.LeakyRNN.columnar(TASK.n_in, 2, 1, 1, tau=3.0)
    with pytest.raises(ValueError, match=r"td.gamma \(0.5\) differs from the task's gamma"):
        bp.train(net, TASK, "rtrl", n_trials=1, td={"gamma": 0.5, "lambda": 0.5}, **KW)
