r"""Fixed and slow points of a network, and their stability (Sussillo & Barak 2013).

Sussillo & Barak (2013, Neural Computation 25:626) find the points where the dynamics stop, or
nearly stop, by minimising the speed ``q(s) = ½‖F(s) − s‖²`` (their eq. 2, here for the
discrete-time map :func:`~bioplastic.analysis.dynamics.step_map` at a held input) from many
starting states sampled along the network's trajectories.  Minima with ``q ≈ 0`` are fixed
points; shallow minima with small ``q`` are slow points.  Each is classified by the
eigenvalues λ of the map's Jacobian there: for a discrete-time map a mode is unstable when
``|λ| > 1``; a point is *stable* (no unstable mode), *unstable* (all unstable) or a *saddle*
(``n_unstable`` unstable modes: the dimension of its unstable manifold).

The search is batched over starts: one L-BFGS run (:func:`scipy.optimize.minimize`) on
``Σ_i q(s_i)``, whose objective and gradient separate by start (L-BFGS's memory and line
search are shared), with the
analytic gradient ``(∂F/∂s − I)ᵀ (F(s) − s)``; then a few Newton steps
``s ← s − (∂F/∂s − I)⁻¹ (F(s) − s)``, kept where they lower ``q``, polish the fixed points.
Points closer than ``merge`` (in the state's norm, relative to ``1 + ‖s‖``) are merged,
keeping the slowest, before the polish (starts that went to the same place) and after it.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.spatial.distance import pdist, squareform

from ..network import LeakyRNN
from .dynamics import held_input, jacobian, residual_and_gradient, step_map

__all__ = ["find_fixed_points", "classify", "speed", "match", "KINDS"]

KINDS = ("stable", "saddle", "unstable")


def classify(eigenvalues: np.ndarray, tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """``(kind, n_unstable)`` per point from the Jacobian's eigenvalues ``(point, mode)``."""
    n_unstable = np.sum(np.abs(eigenvalues) > 1 + tol, axis=1)
    n = eigenvalues.shape[1]
    kind = np.where(n_unstable == 0, "stable", np.where(n_unstable == n, "unstable", "saddle"))
    return kind, n_unstable


def _newton(net: LeakyRNN, s: np.ndarray, x: np.ndarray, steps: int) -> np.ndarray:
    """Up to ``steps`` Newton steps on ``F(s) − s = 0``, batched; a step is kept only where it
    lowers ``q``, and a point leaves the batch once a step fails to.  A singular ``∂F/∂s − I``
    at one point falls back to least squares for that point alone."""
    eye = np.eye(net.n_rec)
    s = s.copy()
    active = np.arange(len(s))
    for _ in range(steps):
        if active.size == 0:
            break
        pts = s[active]
        r, q, _ = residual_and_gradient(net, pts, x)
        A = jacobian(net, pts, x) - eye
        try:
            delta = np.linalg.solve(A, r[..., None])[..., 0]
        except np.linalg.LinAlgError:
            delta = np.stack([np.linalg.lstsq(a, v, rcond=None)[0] for a, v in zip(A, r)])
        trial = pts - delta
        _, q_new, _ = residual_and_gradient(net, trial, x)
        better = np.isfinite(q_new) & (q_new < q)
        s[active[better]] = trial[better]
        active = active[better & (q_new > 0)]
    return s


def _merge(s: np.ndarray, q: np.ndarray, merge: float) -> np.ndarray:
    """Indices of the points kept: slowest first, dropping any within ``merge`` (relative to
    ``1 + ‖s‖``) of a kept one."""
    D = squareform(pdist(s)) if len(s) > 1 else np.zeros((len(s), len(s)))
    radius = merge * (1.0 + np.linalg.norm(s, axis=1))
    taken = np.zeros(len(s), dtype=bool)
    keep: list[int] = []
    for i in np.argsort(q, kind="stable"):
        if not taken[i]:
            keep.append(int(i))
            taken |= D[i] <= radius[i]
    return np.array(keep, dtype=int)


def find_fixed_points(
    net: LeakyRNN,
    starts: ArrayLike,
    x: ArrayLike | None = None,
    *,
    q_max: float = 1e-10,
    merge: float = 1e-4,
    max_iter: int = 500,
    newton_steps: int = 8,
) -> xr.Dataset:
    """Fixed points (``q < q_max``) of ``net`` at the held input ``x`` (zero if None), from
    ``starts`` ``(start, unit)`` (e.g. states sampled along trajectories).  Raise ``q_max``
    (e.g. to 1e-4) to keep slow points too.

    Returns a Dataset over ``point`` (slowest first): ``state`` (point, unit), ``q``,
    ``kind`` ("stable", "saddle", "unstable"), ``n_unstable``, ``eig_real`` and ``eig_imag``
    (point, mode; sorted by decreasing |λ|), and ``held_input`` (input); attrs ``n_starts``,
    ``q_max`` and ``lbfgs_iterations``.
    """
    s0 = np.asarray(starts, dtype=float)
    if s0.ndim != 2 or s0.shape[1] != net.n_rec or s0.shape[0] < 1:
        raise ValueError(
            f"starts must have shape (n_starts, n_rec) = (k, {net.n_rec}) with k >= 1; got "
            f"{s0.shape}"
        )
    if not np.all(np.isfinite(s0)):
        raise ValueError("starts has NaN or inf entries: sample them from finite trajectories")
    for name, v in (("q_max", q_max), ("merge", merge)):
        if not (isinstance(v, (int, float)) and v > 0):
            raise ValueError(f"{name} must be a number > 0; got {v!r}")
    x = held_input(net, x)
    shape = s0.shape

    def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
        _, q, grad = residual_and_gradient(net, flat.reshape(shape), x)
        return float(q.sum()), grad.ravel()

    res = minimize(
        fun,
        s0.ravel(),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "ftol": 0.0, "gtol": 1e-14, "maxcor": 5},
    )
    s = res.x.reshape(shape)
    _, q, _ = residual_and_gradient(net, s, x)
    same = _merge(s, q, merge)  # starts that went to the very same place: polish one
    s = _newton(net, s[same], x, newton_steps)
    _, q, _ = residual_and_gradient(net, s, x)
    ok = np.isfinite(q) & (q < q_max)
    s, q = s[ok], q[ok]
    keep = _merge(s, q, merge) if len(q) else np.array([], dtype=int)
    s, q = s[keep], q[keep]
    if len(q):
        lam = np.linalg.eigvals(jacobian(net, s, x))
        lam = np.take_along_axis(lam, np.argsort(-np.abs(lam), axis=1, kind="stable"), axis=1)
    else:
        lam = np.empty((0, net.n_rec), complex)
    kind, n_unstable = classify(lam)
    return xr.Dataset(
        {
            "state": (("point", "unit"), s),
            "q": ("point", q),
            "kind": ("point", kind.astype(str)),
            "n_unstable": ("point", n_unstable.astype(int)),
            "eig_real": (("point", "mode"), lam.real),
            "eig_imag": (("point", "mode"), lam.imag),
            "held_input": ("input", x),
        },
        attrs={"n_starts": int(shape[0]), "q_max": float(q_max), "lbfgs_iterations": int(res.nit)},
    )


def speed(net: LeakyRNN, s: ArrayLike, x: ArrayLike | None = None) -> np.ndarray:
    """``q(s) = ½‖F(s) − s‖²`` at states ``s`` ``(point, unit)``."""
    s = np.asarray(s, dtype=float)
    return 0.5 * np.sum((step_map(net, s, held_input(net, x)) - s) ** 2, axis=1)


def match(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair points ``a`` ``(i, d)`` with points ``b`` ``(j, d)`` in one space to minimise the
    summed distance (:func:`scipy.optimize.linear_sum_assignment`); the extra points of the
    larger set stay unpaired.  Returns the paired indices into ``a`` and ``b`` and their
    distances."""
    from scipy.optimize import linear_sum_assignment

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return np.array([], int), np.array([], int), np.array([])
    cost = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    return rows, cols, cost[rows, cols]
