"""RFLO (Murray 2019, eLife 8:e43299) as a Brian2 plasticity rule: a plain Brian2 script to adapt.

A rate network learns to turn a 2-D input into two sinusoids with RFLO: an eligibility trace on
every recurrent synapse, random feedback of the output error, and a weight change at every time
step.  Only Brian2 and NumPy; ``bioplastic.brian.rflo_brian2`` builds the same model (tested to
give the same weights, and those of ``bioplastic.train(rule="rflo", update="online",
update_every=1)``).

    python examples/rflo_in_brian2.py

Within one time step Brian2 runs, in its ``groups`` slot by ``order``: the summed ``I_rec``
(order -1, from the old rates) → the trace ``P`` (-0.5: old rates, new input ``u``) → the units
(0) → the summed output ``y`` (1: new rates) → the summed learning signal ``delta`` (3); then,
at the ``end`` slot, the weight changes.  That is RFLO's order of operations.
"""

from __future__ import annotations

import numpy as np
from brian2 import (
    Network,
    NeuronGroup,
    StateMonitor,
    Synapses,
    TimedArray,
    linked_var,
    ms,
    prefs,
)


def rflo(W_in, W_rec, W_out, B, x, target, n_trials, tau=10 * ms, dt=1 * ms, eta=(0.05, 0.02)):
    """Train W_rec and W_out online on ``n_trials`` repeats of one trial.

    W_in (N, N_in), W_rec (N, N), W_out (N_out, N), B (N, N_out) are ``[post, pre]`` matrices;
    x (T, N_in) and target (T, N_out).  Returns the learned W_rec, W_out and the outputs
    (n_trials, T, N_out).
    """
    prefs.codegen.target = "numpy"
    N, N_out, T = W_rec.shape[0], W_out.shape[0], x.shape[0]
    eta_rec, eta_out = eta
    drive = TimedArray(np.tile(x @ W_in.T, (n_trials, 1)), dt=dt)  # W_in x_t, trials back to back
    y_star = TimedArray(np.tile(target, (n_trials, 1)), dt=dt)
    ns = {"drive": drive, "y_star": y_star, "tau": tau, "eta_rec": eta_rec, "eta_out": eta_out}

    # δ = B e lives in a helper group (summed at order 3, after y); the units link to it
    signal = NeuronGroup(N, "delta : 1", dt=dt, order=4)
    units = NeuronGroup(
        N,
        """dh/dt = (-h + tanh(u)) / tau : 1
        u = I_rec + drive(t, i) : 1
        I_rec : 1
        delta : 1 (linked)""",
        method="euler",
        dt=dt,
        namespace=ns,
    )
    units.delta = linked_var(signal, "delta")
    recurrent = Synapses(
        units,
        units,
        """w : 1
        I_rec_post = w * h_pre : 1 (summed)
        dP/dt = (-P + (1 - tanh(u_post)**2) * h_pre) / tau : 1 (clock-driven)""",
        method="euler",
        dt=dt,
        order=-0.5,
        namespace=ns,
    )
    recurrent.connect()  # all-to-all, ordered by pre then post: w = W[post, pre] is W.T.ravel()
    recurrent.w = W_rec.T.ravel()
    readout = NeuronGroup(N_out, "y : 1\nerr = y - y_star(t, i) : 1", dt=dt, order=2, namespace=ns)
    out = Synapses(units, readout, "w_out : 1\ny_post = w_out * h_pre : 1 (summed)", dt=dt)
    out.connect()
    out.w_out = W_out.T.ravel()
    feedback = Synapses(
        readout,
        signal,
        "B : 1 (constant)\ndelta_post = B * err_pre : 1 (summed)",
        dt=dt,
        namespace=ns,
    )
    feedback.connect()
    feedback.B = B.T.ravel()

    learn = [  # the online weight change, once the step is complete
        recurrent.run_regularly("w -= eta_rec * delta_post * P", when="end"),
        out.run_regularly("w_out -= eta_out * err_post * h_pre", when="end"),
        # every trial starts from rest with a clean trace
        units.run_regularly("h = 0", dt=T * dt, when="start"),
        recurrent.run_regularly("P = 0", dt=T * dt, when="start"),
    ]
    monitor = StateMonitor(readout, "y", record=True, dt=dt, when="end")
    net = Network(signal, units, recurrent, readout, out, feedback, *learn, monitor)
    net.run(n_trials * T * dt, namespace=ns)
    W_rec_new = np.asarray(recurrent.w).reshape(N, N).T
    W_out_new = np.asarray(out.w_out).reshape(N, N_out).T
    return W_rec_new, W_out_new, np.asarray(monitor.y).T.reshape(n_trials, T, N_out)


def main() -> None:
    N, T, n_trials = 30, 200, 30
    rng = np.random.default_rng(0)
    W_in = rng.uniform(-1, 1, (N, 2)) / np.sqrt(2)
    W_rec = 1.5 * rng.standard_normal((N, N)) / np.sqrt(N)
    W_out = rng.uniform(-1, 1, (2, N)) / np.sqrt(N)
    B = rng.standard_normal((N, 2))
    t = np.arange(T)
    x = np.stack([np.sin(2 * np.pi * t / 50), np.ones(T)], -1)
    target = np.stack([np.sin(2 * np.pi * t / 25), np.cos(2 * np.pi * t / 100)], -1)
    _, _, y = rflo(W_in, W_rec, W_out, B, x, target, n_trials)
    loss = 0.5 * ((y - target) ** 2).sum(axis=(1, 2))
    print(
        "loss per trial:", " ".join(f"{v:.1f}" for v in loss[:: n_trials // 6]), f"{loss[-1]:.1f}"
    )


if __name__ == "__main__":
    main()
