r"""OK: optimal Kronecker-sum approximation of RTRL (Benzing et al. 2019, ICML).

Benzing, Gauy, Mujika, Martinsson & Steger, "Optimal Kronecker-sum approximation of real
time recurrent learning", ICML 2019 (PMLR 97), arXiv:1902.03993 (abstract: "We prove that OK is
optimal for a class of approximations of RTRL, which includes all approaches published so
far").  The influence is kept as a sum of ``r`` Kronecker products.  KF-RTRL (:mod:`.kf_rtrl`)
keeps one (``r = 1``) with Mujika's sign trick; OK with ``r = 1`` is the least-variance
reduction of that same form (``tests/test_ok.py`` measures it below KF-RTRL's):

    M_t[i, (k, j)] ≈ Σ_{l=1..r} A_t^l[i, k] u_t^l[j],    A^l ∈ R^{n×n},  u^l ∈ R^m .

One step of ``M_t = D_t M_{t-1} + Ī_t`` gives ``r + 1`` Kronecker terms,

    C_t = Σ_l (D_t A^l) ⊗ u^l + diag(gain_t) ⊗ â_t  =  𝒜 𝒰ᵀ   (as an ``n² × m`` matrix),

with ``𝒜 = [vec D_t A^1 … vec D_t A^r, vec diag(gain_t)]`` ``(n², r+1)`` and
``𝒰 = [u^1 … u^r, â_t]`` ``(m, r+1)``.  OK replaces ``C_t`` by the unbiased random matrix of
Kronecker rank ``≤ r`` with the least variance ``E‖X - C_t‖²_F``:

1. orthogonalise the factors, ``𝒜 = Q_a R_a``, ``𝒰 = Q_u R_u`` (QR), so
   ``C_t = Q_a (R_a R_uᵀ) Q_uᵀ`` and the work is on the small ``(r+1) × (r+1)`` matrix
   ``R_a R_uᵀ = P diag(σ) Vᵀ`` (SVD, ``σ_1 ≥ … ≥ σ_{r+1}``);
2. keep the large singular values exactly, mix the small ones: the mixed set is the ``k``
   smallest, ``k`` the largest with ``(k-1) σ_{r+2-k} ≤ Σ_{i > r+1-k} σ_i`` (always ``k ≥ 2``);
   with ``q = k - 1``, ``s = Σ_mixed σ_i``, ``d_i = q σ_i / s ∈ [0, 1]`` (``Σ_mixed d_i = q``)
   and independent signs ``ε ∈ {±1}^{r+1}``, the unit vector ``w = ε ⊙ √(1 - d)`` on the mixed
   set (0 elsewhere) gives

       Z = diag(σ_kept) ⊕ (s/q) (I_mixed - w wᵀ),     E[Z] = diag(σ)   (E[w wᵀ] = diag(1 - d)),

   a matrix of rank ``(r+1-k) + q = r`` whose mixed part has all its ``q`` nonzero singular
   values equal to ``s/q``.  Its variance ``(Σ_mixed σ)²/q - Σ_mixed σ²`` meets the bound
   ``E‖X‖²_F ≥ E‖X‖²_* / q ≥ ‖C‖²_* / q`` for the mixed part (nuclear norm, Jensen): least
   variance among the estimators that keep the large values exactly (our derivation; the
   paper's optimality theorem, which we could not read, is the general statement);
3. write ``Z = G diag(c) Gᵀ`` with ``G`` the Householder reflection taking ``e_{r+1}`` to
   ``±w`` without its last column (orthonormal columns spanning ``w^⊥``), ``c`` = the kept
   ``σ`` and ``s/q`` for the mixed ones, and store the ``r`` new terms

       vec A^l = √c_l Q_a P G_l,     u^l = √c_l Q_u V G_l        (‖A^l‖ = ‖u^l‖ = √c_l).

``E[M̃_t | past] = D_t M̃_{t-1} + Ī_t`` each step, so the estimate ``Σ_t Σ_l (q_tᵀ A_t^l) ⊗
u_t^l`` is unbiased for RTRL.  When ``r ≥ m`` or ``r ≥ n²`` the ``r+1`` terms have rank
``≤ r`` and are reduced exactly (the SVD has at most ``r`` values): OK is then RTRL, with no
randomness.

What was read: the abstract and the authors' code (github.com/marcelomatheusgauy/
optimal_kronecker_approximation, ``OK/OK_rank_r_unbiased.py``: Gram–Schmidt of the stacked
``u``'s and ``A``'s, SVD of the small matrix, the test ``s·τ_s ≤ Σ_{i≤s} τ_i`` on the
ascending singular values for the mixed set, rescaling by ``count/sum``, an orthonormal basis
whose first vector is ``√(1 - d)``, random signs on its coordinates, which matter on the
mixed set only; the new factors rescaled to equal norms); and Barnes,
Cameron & Howard 2025 (arXiv:2505.09647, abstract and introduction), who state that Benzing
et al. match a duality lower bound in this co-rank-one case ``rank = r + 1``.  The paper's
own text (its theorem and algorithm numbers) was not available here; steps 2–3 follow that
code, and their unbiasedness and variance are derived above and tested exactly.  The
Householder basis (step 3) is ours and equivalent to the code's Gram–Schmidt basis up to an
orthogonal change inside ``w^⊥``, which leaves ``Z`` unchanged.

Option ``rank`` (r ≥ 1, default 2; the authors' released code and run logs use r = 16 on
the copy task and r = 8 on Penn TreeBank).  Cost per step and trial: ``r`` products
``n × n × n`` (``D_t A^l``) plus QR and products of ``(n² + m) × (r+1)`` matrices,
``O(r n³ + r² (n² + m))``; memory ``O(r (n² + m))``.  The state starts at zero (the true
``M_0``); each trial has its own factors and ``r + 1`` signs per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..network import LeakyRNN
from .base import Step, register
from .online import Stepwise, Sums, apply_jacobian, random_signs, theta_width

__all__ = ["OK", "OKState", "reduce_terms"]


@dataclass
class OKState:
    A: np.ndarray  # (trial, unit i, term l, unit k): the A^l
    u: np.ndarray  # (trial, term l, m): the u^l
    rng: np.random.Generator
    sums: Sums


def reduce_terms(
    Fa: np.ndarray, Fu: np.ndarray, r: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The optimal unbiased reduction of ``Σ_l Fa[:, :, l] ⊗ Fu[:, :, l]`` to ``r`` terms.

    ``Fa`` ``(trial, p, r+1)`` and ``Fu`` ``(trial, m, r+1)`` hold the factors of the ``r + 1``
    terms as columns, so the sum is ``Fa Fuᵀ`` ``(trial, p, m)``.  Returns ``(Ga, Gu)`` of
    shapes ``(trial, p, r)`` and ``(trial, m, r)`` with ``E[Ga Guᵀ] = Fa Fuᵀ`` (exactly equal,
    and no signs drawn, when ``min(p, m) ≤ r``).  Draws ``(trial, r+1)`` signs otherwise.
    """
    B, p, _ = Fa.shape
    m = Fu.shape[1]
    Qa, Ra = np.linalg.qr(Fa)  # (B, p, pa), (B, pa, r+1)
    Qu, Ru = np.linalg.qr(Fu)
    P, sig, Vh = np.linalg.svd(Ra @ np.swapaxes(Ru, 1, 2), full_matrices=False)
    La, Lu = Qa @ P, Qu @ np.swapaxes(Vh, 1, 2)  # orthonormal singular vectors (B, ·, K)
    K = sig.shape[1]
    if K <= r:  # rank ≤ r: exact, deterministic
        root = np.sqrt(sig)[:, None, :]
        Ga = np.zeros((B, p, r), dtype=Fa.dtype)
        Gu = np.zeros((B, m, r), dtype=Fu.dtype)
        Ga[:, :, :K] = La * root
        Gu[:, :, :K] = Lu * root
        return Ga, Gu
    G, c = _mix(sig, random_signs(rng, (B, r + 1), Fa.dtype))
    root = np.sqrt(c)[:, None, :]
    return (La @ G) * root, (Lu @ G) * root


def _mix(sig: np.ndarray, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``G`` ``(B, r+1, r)`` with orthonormal columns and weights ``c`` ``(B, r)`` such that
    ``G diag(c) Gᵀ`` is the optimal unbiased rank-``r`` estimate of ``diag(sig)`` (descending
    ``sig`` ``(B, r+1)``, signs ``eps`` ``(B, r+1)``)."""
    B, r1 = sig.shape
    r = r1 - 1
    sig = np.maximum(sig, 0.0)
    tau = sig[:, ::-1]  # ascending
    before = np.cumsum(tau, axis=1) - tau  # Σ_{i<j} τ_i
    j = np.arange(r1, dtype=sig.dtype)
    ok = (j - 1) * tau <= before * (1 + 1e-12)  # τ_j fits among the mixed (monotone in j)
    k = np.logical_and.accumulate(ok, axis=1).sum(axis=1)  # number mixed, ≥ 2
    mixed = np.arange(r1)[None, :] >= (r1 - k)[:, None]  # in descending order
    q = (k - 1).astype(sig.dtype)[:, None]
    s = np.where(mixed, sig, 0.0).sum(axis=1, keepdims=True)
    pos = s > 0
    d = np.where(pos, q * sig / np.where(pos, s, 1.0), q / k[:, None])
    d = np.clip(np.where(mixed, d, 1.0), 0.0, 1.0)
    w = eps * np.sqrt(1.0 - d) * -eps[:, -1:]  # ±w with w_last = -√(1-d_last) ≤ 0
    w /= np.linalg.norm(w, axis=1, keepdims=True)  # 1 up to rounding
    v = w.copy()
    v[:, -1] -= 1.0  # Householder H = I - 2 v vᵀ/‖v‖² maps e_last to w;  ‖v‖² ≥ 2
    H = -2.0 / np.einsum("bi,bi->b", v, v)[:, None, None] * v[:, :, None] * v[:, None, :]
    H[:, np.arange(r1), np.arange(r1)] += 1.0
    c = np.where(mixed[:, :r], s / q, sig[:, :r])
    return H[:, :, :r].astype(sig.dtype, copy=False), c.astype(sig.dtype, copy=False)


@register
@dataclass(frozen=True)
class OK(Stepwise):
    """Sum of ``rank`` Kronecker products, reduced each step by the optimal unbiased rule."""

    name: ClassVar[str] = "ok"
    default_feedback: ClassVar[str] = "symmetric"

    rank: int = 2

    def __post_init__(self) -> None:
        r = self.rank
        if not isinstance(r, (int, np.integer)) or isinstance(r, bool) or r < 1:
            raise ValueError(f"rank must be an int >= 1 (Kronecker terms kept); got {r!r}")

    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> OKState:
        d, n, r = net.dtype, net.n_rec, int(self.rank)
        return OKState(
            np.zeros((n_trials, n, r, n), dtype=d),
            np.zeros((n_trials, r, theta_width(net)), dtype=d),
            rng,
            Sums.zeros(net),
        )

    def step(self, state: OKState, net: LeakyRNN, st: Step) -> OKState:
        B, n = st.gain.shape
        r = int(self.rank)
        m = state.u.shape[2]
        state.sums.add_readout(st)
        if m == 0:  # no plastic W_rec, W_in, b
            return state
        DA = apply_jacobian(net, st, state.A.reshape(B, n, r * n)).reshape(B, n, r, n)
        Fa = np.zeros((B, n * n, r + 1), dtype=DA.dtype)  # columns vec(D A^l), vec diag(gain)
        Fa[:, :, :r] = DA.transpose(0, 1, 3, 2).reshape(B, n * n, r)
        Fa[:, np.arange(n) * (n + 1), r] = st.gain
        Fu = np.empty((B, m, r + 1), dtype=DA.dtype)  # columns u^l, â_t
        Fu[:, :, :r] = state.u.transpose(0, 2, 1)
        Fu[:, :, r] = st.pre
        Ga, Gu = reduce_terms(Fa, Fu, r, state.rng)
        state.A = np.ascontiguousarray(Ga.reshape(B, n, n, r).transpose(0, 1, 3, 2))
        state.u = np.ascontiguousarray(Gu.transpose(0, 2, 1))
        v = np.einsum("bi,bilk->blk", st.credit, state.A)  # q_tᵀ A^l
        state.sums.theta += v.reshape(B * r, n).T @ state.u.reshape(B * r, m)
        return state

    def clamp(self, state: OKState, forced: np.ndarray) -> None:
        """Teacher forcing: zero the forced units' rows of every A^l."""
        state.A[forced] = 0.0
