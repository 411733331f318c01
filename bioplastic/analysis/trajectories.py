r"""Population trajectories in a low-dimensional space, and the network's local dynamics
along them.

* :func:`pca`: principal components of states ``(…, unit)`` (the SVD of the centred states),
  with the fraction of variance each explains; :func:`project` puts other states (fixed
  points, another condition) into the same space.
* :func:`spectrum`: the eigenvalues λ of the map's Jacobian at each state of a trajectory
  (:func:`~bioplastic.analysis.dynamics.jacobian`, the input held at that step's value), as
  time constants ``τ = −dt / ln|λ|`` and frequencies ``arg λ / (2π dt)`` (cycles per unit of
  time; Sussillo & Barak 2013, "linearization").
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from ..network import LeakyRNN
from .dynamics import jacobian

__all__ = ["pca", "project", "spectrum"]


def pca(states: ArrayLike, n_components: int = 3) -> xr.Dataset:
    """PCA of ``states`` ``(…, unit)``: ``components`` (pc, unit), ``mean`` (unit),
    ``explained`` (pc: fraction of the variance) and ``total_variance``."""
    S = np.asarray(states, dtype=float)
    S = S.reshape(-1, S.shape[-1])
    if S.shape[0] < 2 or not np.all(np.isfinite(S)):
        raise ValueError(f"need at least 2 finite states; got shape {S.shape}")
    k = int(n_components)
    if not 1 <= k <= S.shape[1]:
        raise ValueError(f"n_components must lie in [1, {S.shape[1]}] (units); got {n_components}")
    mean = S.mean(axis=0)
    _, sv, Vt = np.linalg.svd(S - mean, full_matrices=False)
    var = sv**2
    total = float(var.sum())
    explained = var[:k] / total if total > 0 else np.zeros(k)
    return xr.Dataset(
        {
            "components": (("pc", "unit"), Vt[:k]),
            "mean": ("unit", mean),
            "explained": ("pc", explained),
        },
        coords={"pc": np.arange(1, k + 1)},
        attrs={"total_variance": total / (S.shape[0] - 1)},
    )


def project(basis: xr.Dataset, states: ArrayLike) -> np.ndarray:
    """States ``(…, unit)`` in the PC space of ``basis`` (:func:`pca`): ``(…, pc)``."""
    S = np.asarray(states, dtype=float)
    return (S - basis["mean"].values) @ basis["components"].values.T


def spectrum(net: LeakyRNN, states: ArrayLike, x: ArrayLike) -> xr.Dataset:
    """The Jacobian's eigenvalues along one trajectory: each state ``s_{t-1}`` with the input
    ``x_t`` of the step taken from it, ``states`` ``(time, unit)`` = ``s_0 … s_{T-1}`` and ``x``
    ``(time, n_in)`` = ``x_1 … x_T``.  Returns ``eig_real``, ``eig_imag`` (time, mode;
    by decreasing |λ|), ``tau`` (time constant; inf for |λ| = 1, negative for growing modes)
    and ``frequency`` (cycles per unit of time), with ``dt`` in the attrs."""
    S, X = np.asarray(states, dtype=float), np.asarray(x, dtype=float)
    if S.ndim != 2 or S.shape[1] != net.n_rec or X.shape != (S.shape[0], net.n_in):
        raise ValueError(
            f"states must be (time, n_rec={net.n_rec}) and x (time, n_in={net.n_in}); got "
            f"{S.shape} and {X.shape}"
        )
    lam = np.linalg.eigvals(jacobian(net, S, X))  # one batched call over time
    lam = np.take_along_axis(lam, np.argsort(-np.abs(lam), axis=1, kind="stable"), axis=1)
    with np.errstate(divide="ignore"):
        tau = -net.dt / np.log(np.abs(lam))
    return xr.Dataset(
        {
            "eig_real": (("time", "mode"), lam.real),
            "eig_imag": (("time", "mode"), lam.imag),
            "tau": (("time", "mode"), tau),
            "frequency": (("time", "mode"), np.angle(lam) / (2 * np.pi * net.dt)),
        },
        attrs={"dt": float(net.dt)},
    )
