"""The online update through a compiled kernel, where one applies (:mod:`bioplastic.kernels`).

:func:`supported` says when: RFLO, e-prop, SnAp-1, RTRL, UORO, KF-RTRL or R-KF-RTRL, the
rate form with tanh units in float64, SGD or Adam, fixed or symmetric feedback (not
Kolen–Pollack), no teacher forcing, no partly plastic parameters; RTRL only with a dense
influence (a structured one, :mod:`bioplastic.rules.influence`, runs on numpy).
:func:`online_update` then does what :func:`bioplastic.training.updates.online_update` does,
with the same records, state and checkpoints; the two are tested equal.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from ..errors import NonFiniteError
from ..kernels import CHUNK, DIAGONAL, FULL, KRONECKER, RANK_ONE, REVERSE_KRONECKER, WINDOW
from ..network import PARAM_NAMES
from ..optim import Adam, AdamState
from ..rules.base import Step, theta_blocks
from ..rules.influence import influence_blocks
from ..rules.online import Sums, random_signs
from ..tasks.base import Trials
from .run import Run
from .state import RunState

__all__ = ["supported", "online_update"]

# the rules it runs, and the kind of influence each carries (SnAp-1's trace also decays by
# its self-connection: the kernel's `snap` flag)
KINDS = {
    "rflo": DIAGONAL,
    "eprop": DIAGONAL,
    "snap1": DIAGONAL,
    "rtrl": FULL,
    "uoro": RANK_ONE,
    "kf_rtrl": KRONECKER,
    "rkf_rtrl": REVERSE_KRONECKER,
    "tbptt": WINDOW,
    "bptt": CHUNK,
}
STATE = {  # the rule state's (vector, matrix) factors
    RANK_ONE: ("a", "b"),
    KRONECKER: ("u", "A"),
    REVERSE_KRONECKER: ("a", "B"),
}


def supported(run: Run, net) -> bool:
    """Whether the compiled online path applies to this run (module docstring)."""
    s = run.settings
    return (
        kernels.available()
        and run.rule.name in KINDS
        and net.form == "rate"
        and net.activation.name == "tanh"
        and np.dtype(net.dtype) == np.float64
        and not s.teacher_forcing
        and not run.adaptive
        and run.loss in ("mse", "softmax_xent")
        and not (KINDS[run.rule.name] == FULL and influence_blocks(net) is not None)
        and not net.plastic_masks
    )


def online_update(run: Run, state: RunState, trials: Trials) -> float:
    """One batch stepped in time by the compiled kernel, updating every ``update_every``."""
    from ..kernels.trace_online import trace_chunk

    s, net = run.settings, state.net
    x, target = trials.x, trials.target
    nB, T, _ = x.shape
    if run.continuing and state.h is not None:  # the stream goes on
        h, rule_state = state.h.copy(), state.rule_state
    else:
        h = np.zeros((nB, net.n_rec)) if run.h0 is None else np.tile(run.h0, (nB, 1))
        rule_state = run.rule.init(net, nB, state.rngs["rule"])
    kind = KINDS[run.rule.name]
    vec, signs, spare = np.empty((1, 1)), np.empty((1, 1, 1)), np.empty((1, 1, 1))
    if kind == FULL:
        P = np.ascontiguousarray(rule_state.influence, np.float64)
        spare = np.empty_like(P)
    elif kind in (RANK_ONE, KRONECKER, REVERSE_KRONECKER):
        vec_name, mat_name = STATE[kind]
        vec = np.ascontiguousarray(getattr(rule_state, vec_name), np.float64)
        P = np.ascontiguousarray(getattr(rule_state, mat_name), np.float64)
        # the chunk's signs now: the same draws as T steps one at a time (online.random_signs)
        width = 2 if kind == KRONECKER else net.n_rec
        signs = random_signs(rule_state.rng, (T, nB, width), np.float64)
    elif kind in (WINDOW, CHUNK):
        P = np.empty((1, 1, 1))
    else:
        P = np.ascontiguousarray(rule_state.trace)
    ring, ring_pos = _NO_RING
    if kind == WINDOW:
        ring, ring_pos = _ring(list(rule_state.window), run.rule.truncation, net, nB)
    elif kind == CHUNK:  # every batch ends with an update: no step is held between batches
        if rule_state.steps:
            raise AssertionError("BPTT's online state holds steps between batches")
        ring, ring_pos = _ring([], s.update_every or T, net, nB)
    params = {k: np.array(v, dtype=np.float64) for k, v in net.params.items()}
    plastic = np.array([k in net.plastic for k in PARAM_NAMES])
    names = [name for name, _ in theta_blocks(net)]
    blocks = np.array(["W_rec" in names, "W_in" in names, "b" in names])
    conn = {
        k: np.ascontiguousarray(net.connectivity.get(k, np.ones_like(params[k])), np.float64)
        for k in ("W_in", "W_rec", "W_out")
    }
    alpha = np.broadcast_to(np.asarray(net.alpha, np.float64), (net.n_rec,)).copy()
    opt = run.optimizer
    adam = isinstance(opt, Adam)
    sizes = [params[k].size for k in PARAM_NAMES]
    if adam:
        m = np.concatenate([state.opt_state.m[k].ravel() for k in PARAM_NAMES])
        v = np.concatenate([state.opt_state.v[k].ravel() for k in PARAM_NAMES])
        step = state.opt_state.step
    else:
        m = v = np.zeros(sum(sizes))
        step = 0
    summed = np.zeros(sum(sizes))
    mask = trials.mask if trials.mask is not None else np.ones((1, 1, 1))
    total, step_after, status, at, swapped = trace_chunk(
        np.ascontiguousarray(x, np.float64),
        np.ascontiguousarray(target, np.float64),
        np.ascontiguousarray(mask, np.float64),
        trials.mask is not None,
        h,
        P,
        spare,
        kind,
        vec,
        signs,
        ring,
        ring_pos,
        params["W_in"],
        params["W_rec"],
        params["b"],
        params["W_out"],
        params["b_out"],
        alpha,
        np.ascontiguousarray(state.B, np.float64),
        run.symmetric,
        run.rule.name == "snap1",
        run.loss == "softmax_xent",
        s.update_every or T,
        1.0 / T if s.mean_over_time else 1.0,
        plastic,
        blocks,
        conn["W_in"],
        conn["W_rec"],
        conn["W_out"],
        net.dale if net.dale is not None else np.ones(net.n_rec),
        net.dale is not None,
        adam,
        np.array([opt.lr[k] for k in PARAM_NAMES]),
        opt.beta1 if adam else 0.0,
        opt.beta2 if adam else 0.0,
        opt.eps if adam else 1.0,
        opt.clip_norm if opt.clip_norm is not None else -1.0,
        m,
        v,
        step,
        summed,
    )
    if kind == FULL:
        rule_state.influence, rule_state.spare = (spare, P) if swapped else (P, spare)
    elif kind == WINDOW:
        _unring(rule_state, ring, ring_pos)
    elif kind in STATE:
        setattr(rule_state, STATE[kind][0], vec)
        setattr(rule_state, STATE[kind][1], P)
    else:
        rule_state.trace = P
    if status == 1:
        raise NonFiniteError(f"the loss overflowed at step {at} of the chunk")
    if status == 2:
        raise NonFiniteError(f"an update overflowed at step {at} of the chunk")
    state.net = net.evolve({k: params[k] for k in PARAM_NAMES if k in net.plastic})
    if run.symmetric:
        state.B = np.ascontiguousarray(state.net.params["W_out"].T)
    if adam:
        split = np.cumsum(sizes)[:-1]
        shapes = {k: params[k].shape for k in PARAM_NAMES}
        ms = dict(zip(PARAM_NAMES, np.split(m, split)))
        vs = dict(zip(PARAM_NAMES, np.split(v, split)))
        state.opt_state = AdamState(
            int(step_after),
            {k: ms[k].reshape(shapes[k]) for k in PARAM_NAMES},
            {k: vs[k].reshape(shapes[k]) for k in PARAM_NAMES},
        )
    rule_state.sums = Sums.zeros(net)
    if run.continuing:
        state.h, state.rule_state = h, rule_state
    split = np.cumsum(sizes)[:-1]
    parts = dict(zip(PARAM_NAMES, np.split(summed, split)))
    plastic_sq = sum(float(parts[k] @ parts[k]) for k in PARAM_NAMES if k in net.plastic)
    state.history.append("grad_norm", float(np.sqrt(plastic_sq)))
    return float(total)


_NO_RING = (tuple(np.empty((1, 1, 1)) for _ in range(5)), np.zeros(2, np.int64))


def _ring(steps: list[Step], k: int, net, nB: int) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Held steps (T-BPTT's window) as ring buffers ``(trial, k, ·)`` of ``(â, gain, q, e,
    rate)``, oldest in slot 0, and ``[newest slot, steps held]``."""
    n = net.n_rec
    widths = (sum(c.stop - c.start for _, c in theta_blocks(net)), n, n, net.n_out, n)
    ring = tuple(np.zeros((nB, k, w)) for w in widths)
    for slot, st in enumerate(steps):
        for buf, v in zip(ring, (st.pre, st.gain, st.credit, st.error, st.rate), strict=True):
            buf[:, slot] = v
    return ring, np.array([len(steps) - 1, len(steps)], np.int64)


def _unring(rule_state, ring, ring_pos) -> None:
    """Back from ring buffers to the window of :class:`Step` the numpy path keeps."""
    newest, held = int(ring_pos[0]), int(ring_pos[1])
    k = ring[0].shape[1]
    rule_state.window.clear()
    for age in range(held - 1, -1, -1):
        slot = (newest - age) % k
        pre, gain, q, e, rate = (buf[:, slot].copy() for buf in ring)
        rule_state.window.append(Step(pre, gain, None, q, e, rate))
    rule_state.cut.clear()  # the fused path never forces: no cuts, one per held step
    rule_state.cut.extend([None] * len(rule_state.window))
