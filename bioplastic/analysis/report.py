"""One run opened up (:func:`analyse`), two runs set side by side (:func:`compare`), and the
analysis figure (:func:`plot_analysis`); ``bioplastic analyse run.nc`` runs the first and the
last."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from numpy.typing import ArrayLike  # noqa: E402

from ..network import LeakyRNN  # noqa: E402
from ..results import load  # noqa: E402
from ..tasks.base import Trials  # noqa: E402
from ..training.checkpoint import held_out  # noqa: E402
from .fixed_points import KINDS, find_fixed_points, match  # noqa: E402
from .similarity import cca_distance, linear_cka, procrustes_distance  # noqa: E402
from .trajectories import pca, project, spectrum  # noqa: E402

__all__ = ["analyse", "compare", "match_fixed_points", "plot_analysis", "states_of"]

Source = LeakyRNN | xr.Dataset | str | os.PathLike


def _network_and_trials(
    source: Source, trials: Trials | None
) -> tuple[LeakyRNN, Trials, np.ndarray | None]:
    if isinstance(source, LeakyRNN):
        if trials is None:
            raise ValueError("give the trials to analyse a LeakyRNN on (a saved run has its own)")
        return source, trials, None
    ds = load(source) if isinstance(source, (str, os.PathLike)) else source
    net, held, h0 = held_out(ds)
    return net, held if trials is None else trials, h0


def states_of(source: Source, trials: Trials | None = None) -> np.ndarray:
    """The network's states ``(trial, time, unit)`` on ``trials`` (a run: its held-out
    trials, from its initial state)."""
    net, tr, h0 = _network_and_trials(source, trials)
    return net.run(tr.x, h0).states


def analyse(
    source: Source,
    trials: Trials | None = None,
    *,
    x: ArrayLike | None = None,
    n_starts: int = 1000,
    n_components: int = 3,
    q_max: float = 1e-10,
    noise: float = 0.01,
    seed: int = 0,
) -> xr.Dataset:
    """Trajectories, their PCs, fixed points and the spectrum along them, for one network.

    ``source``: a :class:`LeakyRNN` (then give ``trials``) or a saved run (a path or its
    Dataset; its held-out trials unless ``trials`` is given).  Fixed points are sought at the
    held input ``x`` (default: zero input) from ``n_starts`` states drawn along the trajectories
    (plus N(0, ``noise``²) jitter, from ``np.random.default_rng(seed)``), kept where
    ``q < q_max``.  The spectrum is the first trial's.

    Returns a Dataset: ``trajectory`` (trial, time, pc; each trial's condition labels as
    ``condition_<name>`` coordinates), ``explained`` (pc), ``components``
    (pc, unit), fixed points (``fp_state`` (point, unit), ``fp_pc`` (point, pc), ``fp_q``,
    ``fp_kind``, ``fp_n_unstable``, ``fp_eig_real``/``fp_eig_imag`` (point, mode)), and the
    spectrum (``eig_real``, ``eig_imag``, ``tau``, ``frequency``: time, mode).
    """
    net, tr, h0 = _network_and_trials(source, trials)
    if not (isinstance(n_starts, int) and n_starts >= 1):
        raise ValueError(f"n_starts must be an int >= 1; got {n_starts!r}")
    states = net.run(tr.x, h0).states
    basis = pca(states, min(n_components, net.n_rec))
    flat = states.reshape(-1, net.n_rec)
    rng = np.random.default_rng(seed)
    starts = flat[rng.integers(len(flat), size=n_starts)]
    starts = starts + noise * rng.standard_normal(starts.shape)
    fp = find_fixed_points(net, starts, x, q_max=q_max)
    start = np.zeros(net.n_rec) if h0 is None else np.broadcast_to(h0, (net.n_rec,))
    before = np.concatenate([start[None], states[0, :-1]])  # s_{t-1}, the state x_t acts on
    spec = spectrum(net, before, tr.x[0])
    out = xr.Dataset(
        {
            "trajectory": (("trial", "time", "pc"), project(basis, states)),
            "explained": ("pc", basis["explained"].values),
            "components": (("pc", "unit"), basis["components"].values),
            "fp_state": (("point", "unit"), fp["state"].values),
            "fp_pc": (("point", "pc"), project(basis, fp["state"].values)),
            "fp_q": ("point", fp["q"].values),
            "fp_kind": ("point", fp["kind"].values),
            "fp_n_unstable": ("point", fp["n_unstable"].values),
            "fp_eig_real": (("point", "mode"), fp["eig_real"].values),
            "fp_eig_imag": (("point", "mode"), fp["eig_imag"].values),
            "held_input": ("input", fp["held_input"].values),
            **{k: (("time", "mode"), spec[k].values) for k in ("eig_real", "eig_imag", "tau")},
            "frequency": (("time", "mode"), spec["frequency"].values),
        },
        coords={
            "pc": basis["pc"].values,
            **{
                f"condition_{k}": ("trial", np.asarray(v))
                for k, v in (tr.conditions or {}).items()
                if np.ndim(v) == 1 and len(v) == tr.x.shape[0]
            },
        },
        attrs={
            "n_starts": n_starts,
            "q_max": q_max,
            "seed": seed,
            "form": net.form,
            "dt": float(net.dt),
        },
    )
    return out


def compare(a: Source, b: Source, trials: Trials | None = None) -> dict[str, float]:
    """How alike two networks' states are on the same trials (``a``'s held-out trials unless
    ``trials`` is given): linear CKA, Procrustes and CCA distances."""
    if trials is None:
        if isinstance(a, LeakyRNN):
            raise ValueError("give the trials to compare two LeakyRNNs on")
        trials = _network_and_trials(a, None)[1]
    X, Y = (states_of(src, trials) for src in (a, b))
    X, Y = X.reshape(-1, X.shape[-1]), Y.reshape(-1, Y.shape[-1])
    return {
        "cka": linear_cka(X, Y),
        "procrustes": procrustes_distance(X, Y),
        "cca": cca_distance(X, Y),
    }


def match_fixed_points(
    a: Source,
    b: Source,
    trials: Trials | None = None,
    *,
    x: ArrayLike | None = None,
    n_starts: int = 300,
    n_components: int = 3,
    seed: int = 0,
) -> xr.Dataset:
    """Two networks' fixed points at the held input ``x``, matched in a shared space.

    Each network's states on the same trials (``a``'s held-out trials unless ``trials`` is
    given) are projected on their own top ``n_components`` PCs; ``b``'s are rotated onto
    ``a``'s by orthogonal Procrustes (:func:`scipy.linalg.orthogonal_procrustes`), and its
    fixed points with them.  The points are then paired to minimise the summed distance
    (:func:`scipy.optimize.linear_sum_assignment`; the extra points of the network with more
    stay unpaired).  Distances are in units of ``a``'s trajectories' RMS distance from their
    mean.  Returns ``a_kind``, ``b_kind`` and ``distance`` over ``pair``, with the counts of
    each kind in the attrs.
    """
    from scipy.linalg import orthogonal_procrustes

    if trials is None:
        if isinstance(a, LeakyRNN):
            raise ValueError("give the trials to compare two LeakyRNNs on")
        trials = _network_and_trials(a, None)[1]
    found, spaces = [], []
    for src in (a, b):
        net, tr, h0 = _network_and_trials(src, trials)
        states = net.run(tr.x, h0).states
        flat = states.reshape(-1, net.n_rec)
        rng = np.random.default_rng(seed)
        starts = flat[rng.integers(len(flat), size=n_starts)]
        found.append(find_fixed_points(net, starts, x))
        basis = pca(states, n_components)
        spaces.append((basis, project(basis, flat)))
    (basis_a, Pa), (basis_b, Pb) = spaces
    Q, _ = orthogonal_procrustes(Pb, Pa)
    fa = project(basis_a, found[0]["state"].values)
    fb = project(basis_b, found[1]["state"].values) @ Q
    scale = float(np.sqrt(np.mean(np.sum(Pa**2, axis=1))))
    rows, cols, dist = match(fa, fb)
    counts = {
        f"{who}_{kind}": int((fp["kind"].values == kind).sum())
        for who, fp in zip("ab", found)
        for kind in KINDS
    }
    return xr.Dataset(
        {
            "a_kind": ("pair", found[0]["kind"].values[rows].astype(str)),
            "b_kind": ("pair", found[1]["kind"].values[cols].astype(str)),
            "distance": ("pair", dist / scale),
        },
        attrs={**counts, "scale": scale, "n_components": n_components},
    )


def plot_analysis(an: xr.Dataset, path: str | os.PathLike, title: str = "") -> Path:
    """Trajectories and fixed points in PC 1–2, the fixed points' eigenvalues against the
    unit circle, and the time constants along the first trial; writes a PNG."""
    f, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    ax = axes[0]
    traj = an["trajectory"].values
    for k in range(traj.shape[0]):
        ax.plot(traj[k, :, 0], traj[k, :, 1], lw=0.8, alpha=0.7)
    marks = {"stable": ("o", "k"), "saddle": ("x", "tab:red"), "unstable": ("^", "tab:orange")}
    for kind in KINDS:
        sel = an["fp_kind"].values == kind
        if sel.any():
            m, c = marks[kind]
            pc = an["fp_pc"].values[sel]
            ax.scatter(pc[:, 0], pc[:, 1], marker=m, color=c, s=40, label=f"{kind} ({sel.sum()})")
    ev = an["explained"].values
    ax.set_xlabel(f"PC 1 ({100 * ev[0]:.0f}%)")
    ax.set_ylabel(f"PC 2 ({100 * ev[1]:.0f}%)" if len(ev) > 1 else "")
    ax.set_title("held-out trajectories and fixed points", fontsize=9)
    if an.sizes.get("point", 0):
        ax.legend(frameon=False, fontsize=7)
    ax = axes[1]
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="0.6", lw=0.8)
    for i in range(an.sizes["point"]):
        kind = str(an["fp_kind"].values[i])
        m, c = marks[kind]
        ax.scatter(an["fp_eig_real"].values[i], an["fp_eig_imag"].values[i], s=8, color=c, marker=m)
    ax.set_aspect("equal")
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.set_title("eigenvalues of the map's Jacobian at each fixed point", fontsize=9)
    ax = axes[2]
    tau = np.abs(an["tau"].values[:, :5])
    ax.semilogy(np.arange(1, tau.shape[0] + 1), tau)
    ax.set_xlabel("time step of the first held-out trial")
    ax.set_ylabel("|time constant| of the 5 modes of largest |λ|")
    ax.set_title("linearised dynamics along the trajectory", fontsize=9)
    if title:
        f.suptitle(title)
    f.tight_layout()
    path = Path(path)
    f.savefig(path, dpi=100)
    plt.close(f)
    return path
