r"""Where an exact influence can be nonzero, so that RTRL carries only that (Javed et al. 2023).

Javed, Shah, Sutton & White 2023 (seed 003, section 5, Fig. 1): restrict the network's
*structure* rather than the gradient.  In a columnar network (independent columns: a
block-diagonal ``W_rec``) a parameter of column g moves only column g's states, so exact RTRL
needs ``∂s_i/∂Θ_k·`` only for units i and k of one column and costs O(parameters) per step
instead of O(n⁴); a constructive network's newest features are moved by nothing else.

In general (:func:`bioplastic.structure.reach`): the row-k parameters ``Θ_k·`` (``W_rec[k]``,
``W_in[k]``, ``b[k]``) reach the units ``R(k)`` downstream of k along ``W_rec``'s mask.  Units
with one reach set form a *group* ``g``: its rows ``U_g``, its reach ``R_g ⊇ U_g`` and the
columns ``J_g`` of ``Θ`` its rows have (the unmasked ones).  A state outside ``R_g`` does not
depend on ``Θ_g``, so RTRL's recursion restricted to the group,

    M_g,t = D_t[R_g, R_g] M_g,t-1 + Ī_t[R_g, (U_g, J_g)],

is exact (Marschall et al. 2020, eqs. 3-5, with the zero rows left out).  Groups of one shape
``(|R_g|, |U_g|, |J_g|)`` are stacked, so a step is one batched matmul per shape.

Cut ``R_g`` down to the units within ``k`` steps and the same recursion is SnAp-(k+1) (Menick
et al. 2021, eq. 3: the influence masked to the entries a parameter reaches within n steps):
one implementation serves both (:mod:`bioplastic.rules.snap`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network import LeakyRNN
from ..structure import reach
from .base import theta_blocks

__all__ = ["Blocks", "influence_blocks"]


@dataclass(frozen=True)
class Blocks:
    """``G`` groups of one shape; every array is ``(group, ·)`` of unit or column indices."""

    reach: np.ndarray  # (G, r): R_g, the units the group's parameters move
    units: np.ndarray  # (G, u): U_g, the group's units (rows of Θ)
    local: np.ndarray  # (G, u): where each unit of U_g sits in R_g
    cols: np.ndarray  # (G, J): J_g, the columns of Θ (of â) in the group's rows

    @property
    def size(self) -> int:
        """Influence entries per trial: ``G · r · u · J``."""
        G, r = self.reach.shape
        return G * r * self.units.shape[1] * self.cols.shape[1]


def _row_columns(net: LeakyRNN) -> np.ndarray:
    """``(unit, m)`` bool: the columns of each row of the plastic ``Θ`` that exist and learn."""
    conn, learning, parts = net.connectivity, net.plastic_masks, []
    for name, _ in theta_blocks(net):
        width = {"W_rec": net.n_rec, "W_in": net.n_in, "b": 1}[name]
        cols = conn.get(name, np.ones((net.n_rec, width), dtype=bool))
        if name in learning:  # only these entries learn: the others need no influence
            cols = cols & learning[name].reshape(net.n_rec, width)
        parts.append(cols)
    if not parts:
        return np.zeros((net.n_rec, 0), dtype=bool)
    return np.concatenate(parts, axis=1)


def influence_blocks(net: LeakyRNN, hops: int | None = None) -> tuple[Blocks, ...] | None:
    """The groups of ``net``'s influence, stacked by shape.

    With ``hops=None`` the exact pattern, and None where it is dense (every plastic parameter
    reaches every unit and no column is masked: plain RTRL's layout).  With ``hops = k`` the
    units within k steps only (:func:`bioplastic.structure.reach`): SnAp-(k+1)'s pattern.
    """
    cols = _row_columns(net)
    mask = net.connectivity.get("W_rec")
    if hops is None and mask is None and cols.all():
        return None  # fully connected, every entry learning: no search needed
    R = reach(np.ones((net.n_rec, net.n_rec)) if mask is None else mask, hops)
    rows = np.flatnonzero(cols.any(axis=1))
    if hops is None and cols.all() and R.all():
        return None
    groups: dict[bytes, list[int]] = {}
    for k in rows:
        groups.setdefault(R[k].tobytes(), []).append(int(k))
    shapes: dict[tuple[int, int, int], list] = {}
    for units in groups.values():
        r_g = np.flatnonzero(R[units[0]])
        j_g = np.flatnonzero(cols[units].any(axis=0))
        local = np.searchsorted(r_g, units)
        shapes.setdefault((r_g.size, len(units), j_g.size), []).append((r_g, units, local, j_g))
    return tuple(
        Blocks(*(np.array([grp[i] for grp in members], dtype=np.intp) for i in range(4)))
        for members in shapes.values()
    )
