r"""A :class:`~bioplastic.LeakyRNN` as a Brian2 model.

Brian2: Stimberg, Brette & Goodman 2019, eLife 8:e47314.  The discrete network of
:mod:`bioplastic.network` is the forward-Euler step, at dt = Δ, of the ODE (τ = Δ/α)

**rate form**::

    τ dh/dt = -h + f(I_rec + I_in(t) + I_ext),     I_rec = W_rec h

**current form** (Song, Yang & Wang 2016, eq. 1)::

    τ dv/dt = -v + I_rec + I_in(t) + I_ext,        I_rec = W_rec f(v)

with the input drive ``I_in(t) = W_in x_k + b`` held constant over the k-th step
``[(k-1)Δ, kΔ)`` (a ``TimedArray``).  The Brian2 objects (:class:`Brian2Model`):

* ``neurons``: a ``NeuronGroup`` of ``n_trials × n_rec`` units, unit ``i`` of trial ``b`` at
  index ``b·n_rec + i``, integrating the ODE; ``I_ext`` is 0 and free for the user's own
  synapses or code;
* ``synapses``: ``Synapses`` from the units onto themselves, one block per trial, with
  ``w = W_rec[post, pre]`` and the summed variable ``I_rec_post = w * r_pre``;
* ``monitor``: a ``StateMonitor`` of the state every Δ.  The outputs
  ``y = W_out ρ(s) + b_out`` are read out from the monitored rates.

In the current form the rates ``r = f(v)`` are a variable refreshed after each integration
step (a ``run_regularly`` operation), so that ``f`` is evaluated once per unit, not once per
synapse.

**Accuracy.**  Brian2 computes a summed variable once per integration step and holds it fixed
while the step integrates, so the recurrent coupling is integrated to first order whatever
the ``method``; ``"rk4"`` integrates each unit's own leak and nonlinearity to fourth order.
Brian2 therefore converges to the ODE at first order in dt (measured in ``docs/brian2.md``).
At dt = Δ with ``method="euler"`` it is the discrete network exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import brian2 as b2
import numpy as np
import xarray as xr
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
from numpy.typing import ArrayLike

from .._validate import one_of
from ..network import LeakyRNN, Trajectory
from ._common import activation_expr, blocks, check_codegen, step, substeps, target

__all__ = ["Brian2Model", "to_brian2", "simulate_brian2", "trajectory_dataset", "METHODS"]

METHODS: tuple[str, ...] = ("euler", "rk4")

ClosedLoop = Callable[[int, np.ndarray], ArrayLike]
"""``x(k, rates) -> (trial, input)``: the input of step k+1 given the rates ρ(s_k)."""


@dataclass
class Brian2Model:
    """A LeakyRNN built in Brian2 by :func:`to_brian2`; add your own objects to ``network``."""

    net: LeakyRNN
    network: b2.Network
    neurons: b2.NeuronGroup  # (trial · unit); variable h (rate form) or v (current form)
    synapses: b2.Synapses  # w = W_rec[post, pre], block-diagonal over trials
    monitor: b2.StateMonitor | None  # the state at t = 0, Δ, 2Δ, …
    n_trials: int
    n_steps: int
    step: b2.Quantity  # Δ, one network step
    dt: b2.Quantity  # the integration step (Δ / an integer)
    codegen: str

    @property
    def state(self) -> str:
        """The name of the state variable: ``"h"`` (rate form) or ``"v"`` (current form)."""
        return "h" if self.net.form == "rate" else "v"

    def run(self) -> Trajectory:
        """Simulate ``n_steps`` network steps; return ``states, outputs`` as ``net.run`` does.

        Runtime targets only (``simulate_brian2`` handles ``cpp_standalone``).
        """
        if self.codegen == "cpp_standalone":
            raise RuntimeError(
                "use simulate_brian2(..., codegen='cpp_standalone'), which builds it"
            )
        with target(self.codegen):
            self.network.run(self.duration)
        return self.read()

    @property
    def duration(self) -> b2.Quantity:
        # one integration step past the end, so that the monitor (at the start of each step)
        # sees the state at T·Δ
        return self.n_steps * self.step + self.dt

    def read(self) -> Trajectory:
        """The monitored trajectory, after the run."""
        n, B, T = self.net.n_rec, self.n_trials, self.n_steps
        s = np.asarray(getattr(self.monitor, self.state))[:, 1 : T + 1]  # (trial·unit, time)
        states = s.reshape(B, n, T).transpose(0, 2, 1).astype(self.net.dtype)
        p = self.net.params
        outputs = self.net.rate(states) @ p["W_out"].T + p["b_out"]
        return Trajectory(np.ascontiguousarray(states), outputs)


def _equations(net: LeakyRNN, closed_loop: bool) -> str:
    drive = "I_in : 1" if closed_loop else "I_in = D(t, i) : 1"
    ode = (
        f"dh/dt = (-h + {activation_expr(net, 'u')}) / tau : 1"
        if net.form == "rate"
        else "dv/dt = (-v + u) / tau : 1\nr : 1"
    )
    rest = "u = I_rec + I_in + I_ext : 1\nI_rec : 1\nI_ext : 1\ntau : second (constant)"
    return f"{ode}\n{drive}\n{rest}"


def to_brian2(
    net: LeakyRNN,
    x: ArrayLike | ClosedLoop,
    *,
    h0: ArrayLike | None = None,
    n_steps: int | None = None,
    time_unit: b2.Quantity = b2.ms,
    dt: b2.Quantity | None = None,
    method: str = "euler",
    codegen: str = "numpy",
) -> Brian2Model:
    """Build ``net`` as a Brian2 model (see the module docstring for the equations).

    Parameters
    ----------
    x:
        Inputs ``(trial, time, input)``, which become a ``TimedArray``; or a closed-loop input
        ``x(k, rates) -> (trial, input)`` called at the start of each step (a
        ``network_operation``; runtime targets only), which needs ``n_steps``.
    h0:
        Initial state ``(trial, unit)`` or ``(unit,)``; zeros if None.  With a closed-loop
        input its leading dimension sets the number of trials (default 1).
    time_unit:
        The Brian2 time of one unit of ``net.dt``: the network's step is Δ = ``net.dt ×
        time_unit`` and τ = Δ/α.
    dt:
        The integration step, Δ/k for an integer k; Δ if None.
    method:
        ``"euler"`` or ``"rk4"``.
    codegen:
        ``"numpy"`` (default; no compiler needed), ``"cython"`` or ``"cpp_standalone"``.  For
        ``cpp_standalone``, call ``brian2.set_device("cpp_standalone")`` first, or let
        :func:`simulate_brian2` do it.
    """
    return build(
        net, x, h0=h0, n_steps=n_steps, time_unit=time_unit, dt=dt, method=method, codegen=codegen
    )


def build(
    net: LeakyRNN,
    x: ArrayLike | ClosedLoop,
    *,
    h0: ArrayLike | None,
    n_steps: int | None,
    time_unit: b2.Quantity,
    dt: b2.Quantity | None,
    method: str,
    codegen: str,
    neuron_equations: str = "",
    synapse_equations: str = "",
    synapse_order: float = 0.0,
    linked: Mapping[str, tuple[b2.NeuronGroup, str]] | None = None,
    monitor: bool = True,
) -> Brian2Model:
    """:func:`to_brian2`, with extra equations for the units and the recurrent synapses
    (which run at ``synapse_order`` in the ``groups`` slot; the units at 0) and
    ``linked`` variables of the units (``{name: (group, variable)}``), for
    :mod:`bioplastic.brian.rflo`.  Without ``monitor`` the model has no StateMonitor."""
    if not isinstance(net, LeakyRNN):
        raise TypeError(f"net must be a bioplastic.LeakyRNN; got {type(net).__name__}")
    one_of("method", method, METHODS)
    closed = callable(x)
    check_codegen(codegen, network_operation="a closed-loop input x" if closed else None)
    if codegen == "cpp_standalone" and not isinstance(b2.get_device(), CPPStandaloneDevice):
        raise RuntimeError(
            "codegen='cpp_standalone' needs brian2.set_device('cpp_standalone') before "
            "to_brian2; simulate_brian2(..., codegen='cpp_standalone') does this for you"
        )
    if closed:
        if n_steps is None or int(n_steps) != n_steps or n_steps < 1:
            raise ValueError(
                f"a closed-loop input needs n_steps, a positive integer; got {n_steps!r}"
            )
        n_trials = 1 if h0 is None or np.ndim(h0) < 2 else np.shape(h0)[0]
        T = int(n_steps)
    else:
        xa = net.check_inputs(x)
        n_trials, T = xa.shape[:2]
        if n_steps is not None and n_steps != T:
            raise ValueError(f"n_steps={n_steps} but x has {T} steps; leave n_steps out")
    s0 = net.check_h0(h0, n_trials).astype(np.float64)
    step_ = step(net, time_unit)
    dt_, _ = substeps(step_, dt)
    n, p = net.n_rec, net.params
    namespace: dict = {}
    if not closed:
        drive = (xa @ p["W_in"].T + p["b"]).astype(np.float64)  # (trial, time, unit)
        namespace["D"] = b2.TimedArray(drive.transpose(1, 0, 2).reshape(T, n_trials * n), dt=step_)
    G = b2.NeuronGroup(
        n_trials * n,
        "\n".join(
            [
                _equations(net, closed),
                neuron_equations,
                *(f"{k} : 1 (linked)" for k in linked or {}),
            ]
        ),
        method=method,
        dt=dt_,
        namespace=namespace,
        name="leakyrnn_units*",
    )
    tau = float(step_ / b2.second) / np.broadcast_to(np.asarray(net.alpha, np.float64), n)
    G.tau = np.tile(tau, n_trials) * b2.second
    state = "h" if net.form == "rate" else "v"
    setattr(G, state, s0.ravel())
    for name, (group, variable) in (linked or {}).items():  # before the synapses refer to them
        setattr(G, name, b2.linked_var(group, variable))
    pre_rate = "h_pre" if net.form == "rate" else "r_pre"
    S = b2.Synapses(
        G,
        G,
        f"w : 1\nI_rec_post = w * {pre_rate} : 1 (summed)\n{synapse_equations}",
        dt=dt_,
        method=method,
        namespace=namespace,
        order=synapse_order,
        name="leakyrnn_w_rec*",
    )
    pattern = net.connectivity.get("W_rec", np.ones((n, n), bool))
    pre, post, flat = blocks(pattern, n_trials)
    S.connect(i=pre, j=post)
    S.w = p["W_rec"].ravel()[flat].astype(np.float64)
    objects: list = [G, S]
    if net.form == "current":  # r = f(v) once per unit, after every integration step
        G.r = net.activation(s0).ravel()
        objects.append(
            G.run_regularly(f"r = {activation_expr(net, 'v')}", when="groups", order=G.order + 0.5)
        )
    if closed:
        objects.append(_closed_loop(net, G, x, n_trials, T, step_))
    M = None
    if monitor:
        M = b2.StateMonitor(G, state, record=True, dt=step_, when="start", name="leakyrnn_monitor*")
        objects.append(M)
    return Brian2Model(net, b2.Network(*objects), G, S, M, n_trials, T, step_, dt_, codegen)


def _closed_loop(
    net: LeakyRNN, G: b2.NeuronGroup, x: ClosedLoop, n_trials: int, n_steps: int, step_
) -> b2.NetworkOperation:
    p, n = net.params, net.n_rec
    k = [0]

    @b2.network_operation(dt=step_, when="start")
    def set_input() -> None:
        if k[0] >= n_steps:  # the extra integration step past the end (Brian2Model.duration)
            return
        s = np.asarray(G.h[:] if net.form == "rate" else G.v[:]).reshape(n_trials, n)
        xk = net.check_inputs(np.asarray(x(k[0], net.rate(s)), float)[:, None, :])[:, 0]
        G.I_in = (xk @ p["W_in"].T + p["b"]).ravel()
        k[0] += 1

    return set_input


def simulate_brian2(
    net: LeakyRNN,
    x: ArrayLike | ClosedLoop,
    *,
    h0: ArrayLike | None = None,
    n_steps: int | None = None,
    method: str = "euler",
    dt: b2.Quantity | None = None,
    time_unit: b2.Quantity = b2.ms,
    codegen: str = "numpy",
    as_dataset: bool = False,
) -> Trajectory | xr.Dataset:
    """Simulate ``net`` in Brian2; return ``states, outputs`` like :meth:`LeakyRNN.run`.

    The arguments are those of :func:`to_brian2`.  With ``as_dataset=True`` the result is
    the labelled form of :func:`trajectory_dataset`.  ``codegen="cpp_standalone"`` builds and
    runs a C++ project in a temporary directory, then restores Brian2's runtime device.

    >>> import numpy as np, bioplastic as bp
    >>> from bioplastic.brian import simulate_brian2
    >>> net = bp.LeakyRNN.random(1, 8, 1, tau=5.0, seed=0)
    >>> x = np.ones((2, 20, 1))
    >>> states, outputs = simulate_brian2(net, x)
    >>> bool(np.abs(outputs - net.run(x).outputs).max() < 1e-12)
    True
    """
    with target(codegen) as directory:
        model = to_brian2(
            net,
            x,
            h0=h0,
            n_steps=n_steps,
            time_unit=time_unit,
            dt=dt,
            method=method,
            codegen=codegen,
        )
        if directory is None:
            model.network.run(model.duration)
        else:
            model.network.run(model.duration)
            b2.device.build(directory=directory, compile=True, run=True)
        out = model.read()
    if not as_dataset:
        return out
    attrs = {"method": method, "dt_ms": float(model.dt / b2.ms), "codegen": codegen}
    return trajectory_dataset(net, out, time_unit, attrs)


def trajectory_dataset(
    net: LeakyRNN,
    trajectory: Trajectory,
    time_unit: b2.Quantity = b2.ms,
    attrs: Mapping[str, str | float] | None = None,
) -> xr.Dataset:
    """``states, outputs`` as a Dataset with dims ``trial, time, unit, output``; ``time`` is in
    ms (t = Δ … TΔ with Δ = ``net.dt × time_unit``), ``attrs`` become attributes."""
    states, outputs = trajectory
    B, T, _ = states.shape
    ms = {"units": "ms"}
    name = "h" if net.form == "rate" else "v"
    return xr.Dataset(
        {
            "states": (("trial", "time", "unit"), states, {"long_name": name}),
            "outputs": (("trial", "time", "output"), outputs, {"long_name": "y"}),
        },
        coords={
            "trial": np.arange(B),
            "time": ("time", float(step(net, time_unit) / b2.ms) * np.arange(1, T + 1), ms),
            "unit": np.arange(net.n_rec),
            "output": np.arange(net.n_out),
        },
        attrs={"simulator": "brian2", "form": net.form, **dict(attrs or {})},
    )
