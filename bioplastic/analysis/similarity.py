r"""How alike two networks' representations of the same trials are.

``X`` ``(sample, unit_x)`` and ``Y`` ``(sample, unit_y)`` are the two networks' states on the
same held-out trials (time steps and trials stacked as samples); the unit counts may differ.

* **Linear CKA** (Kornblith et al. 2019, ICML, eq. 5 with linear kernels): with ``X``, ``Y``
  centred, ``CKA = ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F)``: 1 for representations equal up to a
  rotation and a scale, invariant to those, not to other linear maps.
* **Procrustes distance** (the shape metric of Williams et al. 2021, NeurIPS, eq. 5): with
  ``X``, ``Y`` centred and scaled to unit Frobenius norm (the narrower one padded with zero
  columns), ``d = min_Q ‖X − Y Q‖_F`` over orthogonal ``Q``, ``d² = 2 − 2‖XᵀY‖_*``: 0 for
  equal shapes, at most √2 for orthogonal ones.
* **CCA distance**: ``1 −`` the mean canonical correlation of ``X`` and ``Y`` (over
  ``min(rank X, rank Y)`` pairs; Raghu et al. 2017's SVCCA without the SVD step), invariant to
  any invertible linear map of either.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["linear_cka", "procrustes_distance", "cca_distance"]


def _pair(X: ArrayLike, Y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"X and Y must be (sample, unit) with the same samples (the same trials and time "
            f"steps, stacked); got {X.shape} and {Y.shape}"
        )
    if X.shape[0] < 2:
        raise ValueError("need at least 2 samples")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
        raise ValueError("X or Y has NaN or inf entries")
    return X - X.mean(axis=0), Y - Y.mean(axis=0)


def linear_cka(X: ArrayLike, Y: ArrayLike) -> float:
    """Linear CKA of ``X`` and ``Y`` ``(sample, unit)``, in [0, 1]."""
    X, Y = _pair(X, Y)
    cross = np.linalg.norm(Y.T @ X) ** 2
    norm = np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)
    if norm == 0:
        raise ValueError("X or Y is constant across samples: CKA is undefined")
    return float(cross / norm)


def procrustes_distance(X: ArrayLike, Y: ArrayLike) -> float:
    """``min_Q ‖X̂ − Ŷ Q‖_F`` over orthogonal ``Q``, ``X̂``, ``Ŷ`` centred and of unit norm."""
    X, Y = _pair(X, Y)
    nx, ny = np.linalg.norm(X), np.linalg.norm(Y)
    if nx == 0 or ny == 0:
        raise ValueError("X or Y is constant across samples: the distance is undefined")
    nuclear = np.linalg.svd((X / nx).T @ (Y / ny), compute_uv=False).sum()
    return float(np.sqrt(max(0.0, 2.0 - 2.0 * nuclear)))


def cca_distance(X: ArrayLike, Y: ArrayLike, rtol: float = 1e-10) -> float:
    """``1 −`` the mean canonical correlation of ``X`` and ``Y`` (ranks cut at ``rtol``)."""
    X, Y = _pair(X, Y)

    def basis(A: np.ndarray) -> np.ndarray:
        U, sv, _ = np.linalg.svd(A, full_matrices=False)
        if sv.size == 0 or sv[0] == 0:
            raise ValueError("X or Y is constant across samples: CCA is undefined")
        return U[:, sv > rtol * sv[0]]

    rho = np.linalg.svd(basis(X).T @ basis(Y), compute_uv=False)
    return float(1.0 - np.clip(rho, 0.0, 1.0).mean())
