r"""RFLO as a Brian2 plasticity rule (Murray 2019, eLife 8:e43299).

The rule of :mod:`bioplastic.rules.rflo`, applied online at every step, written as Brian2
equations.  With Δ the network's step, τ = Δ/α, and Euler integration at dt = Δ:

**eligibility trace** (clock-driven, on each recurrent synapse j → i; Murray's Methods)::

    rate form:     τ_i dP/dt = -P + f'(u_i) h_j        (P ← (1-α) P + α f'(u_i(t)) h_j(t-1))
    current form:  τ_i dP/dt = -P + r_j                (P ← (1-α) P + α f(v_j(t-1)))

**output error and random-feedback learning signal** (summed variables)::

    y_k = Σ_i W_out[k, i] r_i + b_out[k],    e_k = y_k - y*_k(t)
    δ_i = Σ_k B[i, k] e_k

**online weight change**, after every step (``run_regularly`` at the end of the time step)::

    W_rec[i, j] -= η_rec · δ_i · P_ij              (current form: δ_i f'(v_i) P_ij)
    W_out[k, i] -= η_out · e_k · r_i

Scheduling within one time step (Brian2's ``groups`` slot, by ``order``): ``I_rec`` (summed,
from the old rates) → ``P`` (from the old rates and the new ``u``) → the units' state → the
current form's rates → ``y`` (summed, from the new rates) → ``δ`` (summed, into a helper
group that the units read as the linked variable ``delta``); then the weight changes.  This is
exactly :func:`bioplastic.train` with ``rule="rflo"``, ``update="online"``,
``update_every=1``, ``SGD(lr)``, ``batch_size=1`` and the loss ``½ Σ_t ‖e_t‖²`` (tested).
Trials run back to back: at each trial's start the state returns to ``h0`` and ``P`` to 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import brian2 as b2
import numpy as np
from numpy.typing import ArrayLike

from .._validate import as_float_array, check_finite, check_shape
from ..network import LeakyRNN, Trajectory
from ..optim import SGD
from ._common import activation_expr, blocks, check_codegen, slope_expr, step, target
from .network import build

__all__ = ["RFLOBrian2", "rflo_brian2", "PLASTIC"]

PLASTIC: tuple[str, ...] = ("W_rec", "W_out")


@dataclass
class RFLOBrian2:
    """What :func:`rflo_brian2` returns."""

    net: LeakyRNN  # the network with the learned W_rec and W_out
    trajectory: Trajectory  # states and outputs (trial, time, ·) during learning
    loss: np.ndarray  # (trial,) ½ Σ_t ‖e_t‖² of each trial, as bioplastic.train records it


def rflo_brian2(
    net: LeakyRNN,
    x: ArrayLike,
    target_: ArrayLike,
    feedback: ArrayLike,
    lr: float | Mapping[str, float],
    *,
    h0: ArrayLike | None = None,
    time_unit: b2.Quantity = b2.ms,
    codegen: str = "numpy",
) -> RFLOBrian2:
    """Train ``net``'s ``W_rec`` and ``W_out`` with RFLO inside Brian2, online at every step.

    Parameters
    ----------
    net:
        The network; its ``plastic`` set must be within ``("W_rec", "W_out")``.
    x, target_:
        Inputs ``(trial, time, input)`` and targets ``(trial, time, output)``; the trials run
        one after another.
    feedback:
        The fixed random feedback ``B`` ``(unit, output)`` (``bioplastic.rules.feedback``).
    lr:
        The SGD learning rate, one for both or ``{"W_rec": η_rec, "W_out": η_out}``.
    h0, time_unit, codegen:
        As for :func:`bioplastic.brian.to_brian2`.
    """
    plastic = set(net.plastic)
    if net.plastic_masks:
        raise ValueError(
            f"rflo_brian2 learns whole weight matrices; {sorted(net.plastic_masks)} learn only "
            "in part (plastic masks): train this network with bioplastic.train instead"
        )
    if not plastic or not plastic <= set(PLASTIC):
        raise ValueError(
            f"rflo_brian2 learns W_rec and W_out only; net.plastic is {sorted(plastic)}: build "
            "the network with plastic=('W_rec', 'W_out') (or one of them)"
        )
    eta = SGD(lr).lr
    xa = net.check_inputs(x)
    B_, T, _ = xa.shape
    tgt = as_float_array("target", target_, np.float64)
    check_shape("target", tgt, [("trial", B_), ("time", T), ("output", net.n_out)])
    check_finite("target", tgt)
    fb = as_float_array("feedback", feedback, np.float64)
    check_shape("feedback", fb, [("unit", net.n_rec), ("output", net.n_out)])
    check_finite("feedback", fb)
    check_codegen(codegen)
    s0 = net.check_h0(h0, 1)[0].astype(np.float64)
    with target(codegen) as directory:
        parts = _model(net, xa, tgt, fb, eta, s0, time_unit, codegen)
        parts["network"].run(B_ * T * parts["step"])
        if directory is not None:
            b2.device.build(directory=directory, compile=True, run=True)
        W_rec = np.zeros((net.n_rec, net.n_rec))
        W_rec.ravel()[parts["flat_rec"]] = np.asarray(parts["synapses"].w)
        W_out = np.zeros((net.n_out, net.n_rec))
        W_out.ravel()[parts["flat_out"]] = np.asarray(parts["readout"].w_out)
        s = np.asarray(getattr(parts["states"], "h" if net.form == "rate" else "v")).T
        y = np.asarray(parts["outputs"].y).T  # (time, output)
    trained = net.evolve({"W_rec": W_rec.astype(net.dtype), "W_out": W_out.astype(net.dtype)})
    e = y - tgt.reshape(B_ * T, -1)
    loss = 0.5 * (e * e).reshape(B_, T, -1).sum(axis=(1, 2))
    traj = Trajectory(s.reshape(B_, T, -1).astype(net.dtype), y.reshape(B_, T, -1))
    return RFLOBrian2(trained, traj, loss)


def _model(
    net: LeakyRNN,
    x: np.ndarray,
    tgt: np.ndarray,
    fb: np.ndarray,
    eta: Mapping[str, float],
    s0: np.ndarray,
    time_unit: b2.Quantity,
    codegen: str,
) -> dict:
    """The network of :func:`to_brian2` plus the readout, error, feedback and plasticity."""
    n_trials, T, _ = x.shape
    n, n_out = net.n_rec, net.n_out
    rate = net.form == "rate"
    state, r = ("h", "h") if rate else ("v", "r")
    # the units (trials back to back: one long input) and the eligibility trace on W_rec
    trace = (
        f"dP/dt = (-P + {slope_expr(net, 'u_post')} * h_pre) / tau_post : 1 (clock-driven)"
        if rate
        else "dP/dt = (-P + r_pre) / tau_post : 1 (clock-driven)"
    )
    Δ = step(net, time_unit)
    # the learning signal δ = B e, summed into a helper group that the units link to
    L = b2.NeuronGroup(n, "delta : 1", dt=Δ, order=4, name="rflo_signal*")  # δ is summed at 3
    model = build(
        net,
        x.reshape(1, n_trials * T, -1),
        h0=s0,
        n_steps=None,
        time_unit=time_unit,
        dt=None,
        method="euler",
        codegen=codegen,
        neuron_equations="s_init : 1 (constant)",
        synapse_equations=trace,
        synapse_order=-0.5,  # after I_rec (at -1), before the units' update (at 0)
        linked={"delta": (L, "delta")},
        monitor=False,
    )
    G, S = model.neurons, model.synapses
    G.s_init = s0
    # the readout y = W_out r + b_out and the error e = y - y*(t), after the units' update
    ns = {"Y": b2.TimedArray(tgt.reshape(n_trials * T, n_out), dt=Δ)}  # y*(t)
    Out = b2.NeuronGroup(
        n_out,
        "y_rec : 1\nb_out : 1 (constant)\ny = y_rec + b_out : 1\nerr = y - Y(t, i) : 1",
        namespace=ns,
        dt=Δ,
        order=2,  # y_rec is summed at 1
        name="rflo_readout*",
    )
    Out.b_out = net.params["b_out"].astype(np.float64)
    R = b2.Synapses(
        G,
        Out,
        f"w_out : 1\ny_rec_post = w_out * {r}_pre : 1 (summed)",
        namespace=ns,
        dt=Δ,
        name="rflo_w_out*",
    )
    pre, post, flat_out = blocks(np.ones((n_out, n), bool), 1)
    R.connect(i=pre, j=post)
    R.w_out = net.params["W_out"].ravel()[flat_out].astype(np.float64)
    F = b2.Synapses(
        Out,
        L,
        "B_fb : 1 (constant)\ndelta_post = B_fb * err_pre : 1 (summed)",
        namespace=ns,
        dt=Δ,
        name="rflo_feedback*",
    )
    pre, post, flat_fb = blocks(np.ones((n, n_out), bool), 1)
    F.connect(i=pre, j=post)
    F.B_fb = fb.ravel()[flat_fb]
    # the online weight changes, once the step is complete
    signal = "delta_post * P" if rate else f"delta_post * {slope_expr(net, 'v_post')} * P"
    eta_rec, eta_out = eta.get("W_rec", 0.0), eta.get("W_out", 0.0)  # exact as repr()
    ops = []
    if "W_rec" in net.plastic:
        code = f"w = w - {eta_rec!r} * {signal}"
        ops.append(S.run_regularly(code, when="end", name="rflo_dw_rec*"))
    if "W_out" in net.plastic:
        code = f"w_out = w_out - {eta_out!r} * err_post * {r}_pre"
        ops.append(R.run_regularly(code, when="end", name="rflo_dw_out*"))
    # a new trial: the state returns to h0 and the trace to 0
    reset = f"{state} = s_init" + ("" if rate else f"\nr = {activation_expr(net, 's_init')}")
    ops.append(G.run_regularly(reset, dt=T * Δ, when="start", name="rflo_reset_units*"))
    ops.append(S.run_regularly("P = 0", dt=T * Δ, when="start", name="rflo_reset_trace*"))
    states = b2.StateMonitor(G, state, record=True, dt=Δ, when="end", name="rflo_states*")
    outputs = b2.StateMonitor(Out, "y", record=True, dt=Δ, when="end", name="rflo_outputs*")
    network = b2.Network(model.network.objects, Out, R, L, F, *ops, states, outputs)
    _, _, flat_rec = blocks(net.connectivity.get("W_rec", np.ones((n, n), bool)), 1)
    return {
        "network": network,
        "step": Δ,
        "synapses": S,
        "readout": R,
        "states": states,
        "outputs": outputs,
        "flat_rec": flat_rec,
        "flat_out": flat_out,
    }
