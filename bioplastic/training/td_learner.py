"""The TD(λ) learner of one stream (:func:`bioplastic.training.td_stream.learn_td`): the model,
its state, its credit (per-unit traces or a window for T-BPTT), its eligibility, and the growth
and generate-and-test steps, on the numpy reference path or a compiled kernel
(:mod:`bioplastic.kernels.lstm_td`).  Javed et al. 2023 (seed 003), sections 5-7."""

from __future__ import annotations

from collections import deque

import numpy as np

from .. import kernels
from ..errors import NonFiniteError
from ..lstm import LSTM
from ..model import gated_params, local, model_layout
from ..network import PARAM_NAMES
from ..rules.base import finalize
from ..rules.gated import back, heard, learning_units, trace_step

__all__ = ["Learner", "kernel_layout"]


def kernel_layout(model: LSTM):
    """The compiled kernel's view of an LSTM, or None where it does not apply: the ``W_rec``
    mask as CSR ``(ptr, idx)``, the learning units, and whether the readout learns.  Each
    learning unit must learn its whole incoming row (W_in, b and every W_rec entry it hears);
    other patterns run the numpy path."""
    n, P, masks = model.n_rec, model.params, model.plastic_masks
    conn = model.connectivity.get("W_rec", np.ones((n, n), dtype=bool))
    ptr = np.concatenate([[0], np.cumsum(conn.sum(axis=1))]).astype(np.int64)
    idx = np.nonzero(conn)[1].astype(np.int64)
    learns = {}
    for k in ("W_in", "W_rec", "b"):
        full = (
            np.ones(P[k].shape, dtype=bool)
            if k in model.plastic
            else np.zeros(P[k].shape, dtype=bool)
        )
        learns[k] = masks.get(k, full)
    rows = learns["b"].all(axis=0)
    if not (learns["b"] == rows).all() or model.dtype != np.float64:
        return None
    for k in ("W_in", "W_rec"):
        want = np.broadcast_to(rows[None, :, None], P[k].shape)
        got = learns[k] & (conn if k == "W_rec" else True)
        if not (got == (want & (conn if k == "W_rec" else True))).all():
            return None
    learn_out = {"W_out", "b_out"} <= model.plastic
    if learn_out != bool({"W_out", "b_out"} & model.plastic) or "W_out" in masks:
        return None
    return ptr, idx, np.nonzero(rows)[0].astype(np.int64), learn_out


def _all_learn(model) -> bool:
    """Every parameter learns, whole, and the layer is dense (the T-BPTT kernel's case)."""
    return (
        model.plastic == frozenset(PARAM_NAMES)
        and not model.plastic_masks
        and not model.connectivity
        and model.dtype == np.float64
    )


class Learner:
    """The TD(λ) state of one stream: the model, its state, credit and eligibility."""

    def __init__(self, model, credit, truncation, step_size, lam, gamma) -> None:
        self.model, self.credit, self.k = model, credit, truncation
        self.eta, self.lam, self.gamma = step_size, lam, gamma
        n, d = model.n_rec, 2 if isinstance(model, LSTM) else 1
        self.state = np.zeros((1, n, d), dtype=model.dtype)
        self.prev: float | None = None
        self._reset_credit()
        self.z = {k: np.zeros_like(v) for k, v in model.params.items()}
        self.compiled = isinstance(model, LSTM) and kernels.available()
        self.utility, self.age, self.u_decay = np.zeros(n), np.zeros(n, dtype=np.int64), 0.9999

    def _reset_credit(self) -> None:
        P = gated_params(self.model)
        Q, n, m = P["W_in"].shape
        d = self.state.shape[2]
        self.trace = np.zeros((1, Q, n, m + n + 1, d), dtype=self.model.dtype)
        self.window: deque = deque(maxlen=self.k or 1)
        self.layout = None
        if isinstance(self.model, LSTM) and self.credit == "tbptt" and _all_learn(self.model):
            k = self.k
            self.layout = "tbptt"
            self.ring = (
                np.zeros((k, m)),
                np.zeros((k, n)),
                np.zeros((k, n)),
                np.zeros((k, 4, n)),
                np.zeros((k, 4, n, n)),
                np.zeros(2, dtype=np.int64),
            )
        elif isinstance(self.model, LSTM) and self.credit == "traces":
            self.layout = kernel_layout(self.model)
        if self.layout is not None and self.credit == "traces":
            heard_ptr, _, learners, _ = self.layout
            K = m + 1 + int(np.diff(heard_ptr).max(initial=0))
            self.kernel_z = np.zeros((3, len(learners), 4, K))  # TH, TC, z

    def grow(self, n_new: int) -> None:
        """Add a stage; earlier units freeze, their eligibility with them; new state is 0."""
        m = self.model
        self.model = m.grow(n_new) if isinstance(m, LSTM) else m.grow(n_new, column_size=1)
        pad = np.zeros((1, n_new, self.state.shape[2]), dtype=self.state.dtype)
        self.state = np.concatenate([self.state, pad], axis=1)
        z_out = np.concatenate([self.z["W_out"], np.zeros((1, n_new), self.z["W_out"].dtype)], 1)
        z_bout = self.z["b_out"]
        self.z = {k: np.zeros_like(v) for k, v in self.model.params.items()}
        self.z["W_out"], self.z["b_out"] = z_out, z_bout  # the readout keeps its eligibility
        self.utility = np.concatenate([self.utility, np.zeros(n_new)])
        self.age = np.concatenate([self.age, np.zeros(n_new, dtype=np.int64)])
        self._reset_credit()

    def replace(self, r, rng: np.random.Generator) -> int | None:
        """Generate and test: start the least useful mature replaceable unit afresh."""
        model = self.model
        learning = learning_units(model)
        conn = model.connectivity.get("W_rec", np.ones((model.n_rec,) * 2, dtype=bool))
        heard_ = heard(model)
        mature = learning & (self.age >= r.maturity)
        if 2 * mature.sum() < learning.sum() or not (mature & ~heard_).any():
            return None
        i = int(np.flatnonzero(mature & ~heard_)[np.argmin(self.utility[mature & ~heard_])])
        p = {k: np.array(v) for k, v in model.params.items()}
        p["W_in"][:, i] = rng.uniform(-r.scale, r.scale, p["W_in"][:, i].shape)
        p["b"][:, i] = rng.uniform(-r.scale, r.scale, 4)
        p["W_rec"][:, i] = rng.uniform(-r.scale, r.scale, p["W_rec"][:, i].shape) * conn[i]
        p["W_out"][:, i] = 0.0
        self.model = model.evolve(model.project(p))
        self.state[:, i] = 0.0
        for k in ("W_in", "W_rec", "b"):
            self.z[k][:, i] = 0.0
        self.z["W_out"][:, i] = 0.0
        self.trace[:, :, i] = 0.0
        if self.layout is not None and not isinstance(self.layout, str):
            self.kernel_z[:, np.flatnonzero(self.layout[2] == i)] = 0.0
        self.utility[i], self.age[i] = 0.0, 0
        return i

    def run(self, x: np.ndarray, cumulant: np.ndarray, compiled: bool) -> np.ndarray:
        """Learn on ``x (time, input)``; returns the predictions ``V_t`` (NaN once diverged)."""
        if compiled and self.compiled and self.layout is not None:
            return self._run_compiled(x, cumulant)
        pred = np.full(len(x), np.nan)
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(len(x)):
                try:
                    V = self.step(x[t], cumulant[t])
                except NonFiniteError:  # the state overflowed: diverged
                    break
                pred[t] = V
                if not np.isfinite(V):
                    break
        return pred

    def _run_compiled(self, x, cumulant) -> np.ndarray:
        from ..kernels.lstm_td import lstm_td_chunk

        p = {k: np.array(v, dtype=np.float64) for k, v in self.model.params.items()}
        h, c = self.state[0, :, 0].copy(), self.state[0, :, 1].copy()
        prev = np.array([0.0 if self.prev is None else 1.0, self.prev or 0.0])
        pred = np.empty(len(x))
        x, cumulant = (np.ascontiguousarray(a, dtype=np.float64) for a in (x, cumulant))
        if self.layout == "tbptt":
            from ..kernels.lstm_td import lstm_tbptt_chunk

            z = self.z
            lstm_tbptt_chunk(
                x,
                cumulant,
                p["W_in"],
                p["W_rec"],
                p["b"],
                p["W_out"][0],
                p["b_out"],
                h,
                c,
                *self.ring,
                z["W_in"],
                z["W_rec"],
                z["b"],
                z["W_out"][0],
                z["b_out"],
                prev,
                self.eta,
                self.gamma,
                self.lam,
                pred,
            )
            return self._finish(p, h, c, prev, pred)
        heard_ptr, heard_idx, learners, learn_out = self.layout
        TH, TC, z = self.kernel_z
        lstm_td_chunk(
            x,
            cumulant,
            p["W_in"],
            p["W_rec"],
            p["b"],
            p["W_out"][0],
            p["b_out"],
            heard_ptr,
            heard_idx,
            learners,
            learn_out,
            h,
            c,
            TH,
            TC,
            z,
            self.z["W_out"][0],
            self.z["b_out"],
            self.utility,
            self.u_decay,
            prev,
            self.eta,
            self.gamma,
            self.lam,
            pred,
        )
        return self._finish(p, h, c, prev, pred)

    def _finish(self, p, h, c, prev, pred) -> np.ndarray:
        self.model = self.model.evolve(p)
        self.state = np.stack([h, c], axis=-1)[None]
        self.prev = float(prev[1]) if prev[0] else None
        return pred

    def step(self, x_t: np.ndarray, c_t: float) -> float:
        model, P = self.model, gated_params(self.model)
        s = self.state
        L = local(model, x_t[None, None], s[..., 0], s[..., 1] if s.shape[2] == 2 else None)
        V = float(L.outputs[0, 0, 0])
        if not np.isfinite(V):
            return V
        if self.prev is not None:  # δ_{t-1}, and the update along z_{t-1}
            delta = model.dtype.type(self.eta * (c_t + self.gamma * V - self.prev))  # η δ_{t-1}
            new = {k: model.params[k] + delta * self.z[k] for k in model.plastic}
            self.model = model.evolve(model.project(new))
        grad = model_layout(model, self.gradient(P, L))
        grad = finalize(model, grad)
        for k in self.z:
            self.z[k] *= self.gamma * self.lam
            self.z[k] += grad[k]
        self.utility *= self.u_decay
        self.utility += (1.0 - self.u_decay) * np.abs(P["W_out"][0] * L.rates[1][0])
        self.prev, self.state = V, L.states[1]
        return V

    def gradient(self, P: dict, L) -> dict[str, np.ndarray]:
        """``∇_θ V_t`` in gate layout, from this step's factors ``L`` (and the window)."""
        q = P["W_out"][0][None, :, None] * L.slope[1]  # ∂V/∂s_t (1, n, d)
        out = {"W_out": L.rates[1].copy(), "b_out": np.ones(1)}
        if self.credit == "traces":
            self.trace = trace_step(P, L, 0, self.trace)
            total = np.einsum("bqnpd,bnd->qnp", self.trace, q)
            m, n = P["W_in"].shape[2], P["W_in"].shape[1]
            out.update(W_in=total[..., :m], W_rec=total[..., m : m + n], b=total[..., -1])
            return out
        self.window.append((P, L))
        g = {k: np.zeros_like(P[k]) for k in ("W_in", "W_rec", "b")}
        for Pj, Lj in reversed(self.window):
            delta, q = back(Pj["W_rec"], Lj, q, 0)
            g["W_in"] += np.einsum("bqn,bm->qnm", delta, Lj.inputs[0])
            g["W_rec"] += np.einsum("bqn,bj->qnj", delta, Lj.rates[0])
            g["b"] += delta.sum(0)
        out.update(g)
        return out
