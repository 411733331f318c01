"""Independent references for the tests: a plain-loop simulator and finite differences.

Nothing here calls bioplastic's gradient code.  ``reference_loss`` re-implements the model
equations of DESIGN.md straight from the text (one trial at a time, explicit Python loops), and
allows the parameters to differ from step to step, which is what the truncated-BPTT reference
needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

import bioplastic as bp
from bioplastic.verify import (  # noqa: F401
    central_difference,
    finite_difference_gradient,
    relative_error,
)

FORMS = ("rate", "current")
ACTIVATION_NAMES = ("tanh", "relu", "softplus", "sigmoid", "linear")
ALPHAS = ("one", "0.1", "per-unit")

F = {
    "tanh": np.tanh,
    "relu": lambda u: np.maximum(u, 0.0),
    "softplus": lambda u: np.log1p(np.exp(u)),
    "sigmoid": lambda u: 1.0 / (1.0 + np.exp(-u)),
    "linear": lambda u: u,
}


@dataclass
class Problem:
    net: bp.LeakyRNN
    x: np.ndarray
    target: np.ndarray
    mask: np.ndarray | None
    h0: np.ndarray | None


def make_alpha(kind: str, n: int, rng: np.random.Generator):
    return {"one": 1.0, "0.1": 0.1}.get(kind) if kind != "per-unit" else rng.uniform(0.05, 1.0, n)


def make_problem(
    rng: np.random.Generator,
    *,
    form: str,
    activation: str,
    alpha: str,
    B: int,
    T: int,
    n: int,
    n_in: int,
    n_out: int,
    masked: bool,
    with_h0: bool,
) -> Problem:
    net = bp.LeakyRNN(
        rng.standard_normal((n, n_in)) / np.sqrt(max(n_in, 1)),
        1.5 * rng.standard_normal((n, n)) / np.sqrt(n),
        rng.standard_normal((n_out, n)) / np.sqrt(n),
        0.3 * rng.standard_normal(n),
        0.3 * rng.standard_normal(n_out),
        alpha=make_alpha(alpha, n, rng),
        activation=activation,
        form=form,
    )
    mask = (rng.random((B, T, n_out)) < 0.7).astype(float) if masked else None
    h0 = 0.5 * rng.standard_normal((B, n)) if with_h0 else None
    return Problem(
        net, rng.standard_normal((B, T, n_in)), rng.standard_normal((B, T, n_out)), mask, h0
    )


def small_problem(
    form: str,
    *,
    alpha: str = "per-unit",
    seed: int = 0,
    B: int = 3,
    T: int = 12,
    n: int = 5,
    masked: bool = True,
) -> Problem:
    """The rule tests' usual problem: tanh, 2 inputs, 2 outputs, a random h0, ``seed``'s data."""
    return make_problem(
        np.random.default_rng(seed),
        form=form,
        activation="tanh",
        alpha=alpha,
        B=B,
        T=T,
        n=n,
        n_in=2,
        n_out=2,
        masked=masked,
        with_h0=True,
    )


@st.composite
def problems(draw, form: str, activation: str, alpha: str, max_n: int = 6, max_T: int = 10):
    """Random shapes, seeds, masks and initial states for one (form, activation, α) case."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return make_problem(
        rng,
        form=form,
        activation=activation,
        alpha=alpha,
        B=draw(st.integers(1, 4)),
        T=draw(st.integers(1, max_T)),
        n=draw(st.integers(1, max_n)),
        n_in=draw(st.integers(0, 3)),
        n_out=draw(st.integers(1, 3)),
        masked=draw(st.booleans()),
        with_h0=draw(st.booleans()),
    )


def per_step(value: np.ndarray, T: int) -> np.ndarray:
    return np.broadcast_to(value, (T,) + value.shape).copy()


def reference_run(net: bp.LeakyRNN, x, h0=None, params_t=None):
    """The model equations, one trial and one step at a time.

    ``params_t`` optionally gives ``W_in, W_rec, b`` per step, each with a leading time axis.
    Returns states ``(trial, time, unit)``, outputs, and the argument of f at every step.
    """
    p = net.params
    T = x.shape[1]
    pt = params_t or {k: per_step(p[k], T) for k in ("W_in", "W_rec", "b")}
    alpha = np.asarray(net.alpha, dtype=float)
    f = F[net.activation.name]
    B, n = x.shape[0], net.n_rec
    states, outputs, args = np.zeros((B, T, n)), np.zeros((B, T, net.n_out)), np.zeros((B, T, n))
    for trial in range(B):
        s = np.zeros(n) if h0 is None else np.asarray(h0[trial], dtype=float)
        for t in range(T):
            W_in, W_rec, b = pt["W_in"][t], pt["W_rec"][t], pt["b"][t]
            if net.form == "rate":
                u = W_rec @ s + W_in @ x[trial, t] + b
                s = (1 - alpha) * s + alpha * f(u)
                args[trial, t] = u
                r = s
            else:
                s = (1 - alpha) * s + alpha * (W_rec @ f(s) + W_in @ x[trial, t] + b)
                args[trial, t] = s
                r = f(s)
            states[trial, t] = s
            outputs[trial, t] = p["W_out"] @ r + p["b_out"]
    return states, outputs, args


def reference_loss(net, x, target, mask=None, h0=None, params_t=None, only_t=None) -> float:
    """0.5 Σ m (y - y*)² / n_trials, optionally of the single time step ``only_t``."""
    _, y, _ = reference_run(net, x, h0, params_t)
    sq = (y - target) ** 2 if mask is None else mask * (y - target) ** 2
    if only_t is not None:
        sq = sq[:, only_t]
    return 0.5 * sq.sum() / x.shape[0]


def fd_gradient(p: Problem) -> dict[str, np.ndarray]:
    """Central differences of ``bioplastic.loss`` for every parameter."""
    return finite_difference_gradient(p.net, p.x, p.target, p.mask, h0=p.h0)


def kink_distance(p: Problem) -> float:
    """Smallest |argument of f| in the run; small values make ReLU finite differences invalid."""
    _, _, args = reference_run(p.net, p.x, p.h0)
    return float(np.abs(args).min())


def rel_err(a: dict, b: dict, floor: float = 1e-4) -> float:
    """The worse of two relative errors, so no parameter can hide behind the others:

    * over all parameters together (:func:`bioplastic.verify.relative_error`);
    * per parameter, ``‖a_k - b_k‖ / ‖b_k‖``, where ``‖b_k‖`` is floored at ``floor`` times the
      norm of the whole gradient (a parameter whose gradient is essentially zero cannot be
      measured relative to itself).
    """
    total = np.sqrt(sum(np.sum(np.square(b[k])) for k in b))
    per = max(
        np.linalg.norm(np.asarray(a[k]) - b[k]) / max(np.linalg.norm(b[k]), floor * total, 1e-300)
        for k in b
    )
    return max(relative_error(a, b), per)


def faces(rule, net, batch, feedback, seed: int):
    """A rule's per-trial face and its online face stepped through the same batch."""
    from bioplastic.objective import output_error
    from bioplastic.rules import run_online

    def simulate():
        trace = net.forward(batch.x, batch.h0, derivatives=True)
        return trace, output_error(trace, batch)

    per_trial = rule.gradient(net, *simulate(), feedback, np.random.default_rng(seed))
    online = run_online(rule, net, *simulate(), feedback, np.random.default_rng(seed))
    return per_trial, online


def interrupt_stream(monkeypatch, stream_cls, at: int):
    """Make the ``at``-th call of ``stream_cls.next`` raise KeyboardInterrupt (a Ctrl-C in the
    middle of a run); returns a function that puts ``next`` back."""
    calls = {"n": 0}
    real = stream_cls.next

    def interrupting(self, n_steps=None):
        calls["n"] += 1
        if calls["n"] == at:
            raise KeyboardInterrupt
        return real(self, n_steps)

    monkeypatch.setattr(stream_cls, "next", interrupting)
    return lambda: monkeypatch.setattr(stream_cls, "next", real)
