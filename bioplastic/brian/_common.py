"""What the Brian2 builders share: activation expressions, code-generation targets, units."""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import brian2 as b2
import numpy as np

from .._validate import one_of
from ..network import LeakyRNN

__all__ = ["CODEGEN_TARGETS", "activation_expr", "slope_expr", "check_codegen", "target", "step"]

CODEGEN_TARGETS: tuple[str, ...] = ("numpy", "cython", "cpp_standalone")

# f(u) and f'(u) as Brian2 expressions of a variable named {u}; the same functions as
# bioplastic.activations, written so that they do not overflow.
_EXPR: dict[str, tuple[str, str]] = {
    "tanh": ("tanh({u})", "(1 - tanh({u})**2)"),
    "relu": ("clip({u}, 0, inf)", "int({u} > 0)"),
    "softplus": ("(log1p(exp(-abs({u}))) + clip({u}, 0, inf))", "(1 / (1 + exp(-{u})))"),
    "sigmoid": ("(1 / (1 + exp(-{u})))", "(exp(-abs({u})) / (1 + exp(-abs({u})))**2)"),
    "linear": ("({u})", "1"),
}


def activation_expr(net: LeakyRNN, u: str) -> str:
    """``f(u)`` of ``net``'s activation as a Brian2 expression."""
    return _expr(net, 0).format(u=f"({u})")


def slope_expr(net: LeakyRNN, u: str) -> str:
    """``f'(u)`` of ``net``'s activation as a Brian2 expression."""
    return _expr(net, 1).format(u=f"({u})")


def _expr(net: LeakyRNN, which: int) -> str:
    name = net.activation.name
    if name not in _EXPR:
        raise ValueError(
            f"activation {name!r} has no Brian2 expression; accepted: {', '.join(_EXPR)}"
        )
    return _EXPR[name][which]


def check_codegen(codegen: str, *, network_operation: str | None = None) -> str:
    """Validate a code-generation target before Brian2 sees it.

    ``network_operation`` names the feature that needs a Python ``network_operation`` (which
    only the runtime targets can run), or is None when nothing does.
    """
    one_of("codegen", codegen, CODEGEN_TARGETS)
    if codegen == "cpp_standalone" and network_operation is not None:
        raise ValueError(
            f"{network_operation} needs a Brian2 network_operation (a Python function called "
            "during the run), which codegen='cpp_standalone' cannot run: use codegen='numpy' "
            "or 'cython', or give the input as an array (it becomes a TimedArray)"
        )
    if codegen == "cython" and importlib.util.find_spec("Cython") is None:
        raise ImportError("codegen='cython' needs Cython: pip install cython (or codegen='numpy')")
    if codegen != "numpy" and shutil.which("c++") is None and shutil.which("g++") is None:
        raise RuntimeError(
            f"codegen={codegen!r} compiles C++, and no C++ compiler (c++ or g++) is on PATH: "
            "install one, or use codegen='numpy'"
        )
    return codegen


@contextmanager
def target(codegen: str) -> Iterator[str | None]:
    """Run Brian2 with ``codegen`` for the duration of the block, then restore the caller's
    settings.  Yields the standalone build directory (None for the runtime targets)."""
    if codegen != "cpp_standalone":
        old = b2.prefs.codegen.target
        b2.prefs.codegen.target = codegen
        try:
            yield None
        finally:
            b2.prefs.codegen.target = old
        return
    directory = tempfile.mkdtemp(prefix="bioplastic_brian2_")
    b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
    try:
        yield directory
    finally:
        b2.device.reinit()
        b2.set_device("runtime")
        shutil.rmtree(directory, ignore_errors=True)


def step(net: LeakyRNN, time_unit: b2.Quantity) -> b2.Quantity:
    """Δ, the network's time step as a Brian2 quantity: ``net.dt × time_unit``."""
    if not isinstance(time_unit, b2.Quantity) or not time_unit.has_same_dimensions(b2.second):
        raise TypeError(f"time_unit must be a Brian2 time such as brian2.ms; got {time_unit!r}")
    if float(time_unit) <= 0:
        raise ValueError(f"time_unit must be positive; got {time_unit!r}")
    return net.dt * time_unit


def substeps(step_: b2.Quantity, dt: b2.Quantity | None) -> tuple[b2.Quantity, int]:
    """The integration step and the number of them per network step (Δ/dt, an integer)."""
    if dt is None:
        return step_, 1
    if not isinstance(dt, b2.Quantity) or not dt.has_same_dimensions(b2.second) or dt <= 0:
        raise ValueError(f"dt must be a positive Brian2 time such as 0.1*brian2.ms; got {dt!r}")
    m = float(step_ / dt)
    k = int(round(m))
    if k < 1 or abs(m - k) > 1e-9 * max(1.0, m):
        raise ValueError(
            f"dt must divide the network's step Δ = {step_} a whole number of times; got "
            f"dt = {dt} (Δ/dt = {m:g}): use Δ/k for an integer k"
        )
    return step_ / k, k


def blocks(pattern: np.ndarray, n_trials: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One copy per trial of the synapses where ``pattern`` ``(post, pre)`` is nonzero.

    Trial ``b`` owns the units ``b·n … b·n + n - 1`` of each group (block-diagonal).  Returns
    the ``pre`` and ``post`` indices of the synapses and the flat index into ``pattern`` of
    each, so that ``S.w = W.ravel()[flat]`` loads a ``W[post, pre]`` matrix.
    """
    n_post, n_pre = pattern.shape
    post, pre = np.nonzero(pattern)
    trial = np.arange(n_trials)[:, None]
    flat = np.ravel_multi_index((post, pre), pattern.shape)
    return (
        (trial * n_pre + pre).ravel(),
        (trial * n_post + post).ravel(),
        np.tile(flat, n_trials),
    )
