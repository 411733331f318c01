r"""DNI: decoupled neural interfaces, a synthetic gradient of the state learned by bootstrapping.

Jaderberg et al. 2017, "Decoupled neural interfaces using synthetic gradients" (ICML, PMLR 70),
in the linear, online form of Marschall, Cho & Savin 2020 (JMLR 21, "A unified framework of
online learning algorithms for training recurrent neural networks", the DNI part of their
future-facing algorithms) and of their published code (``learning_algorithms/DNI.py`` of
vanilla-rtrl, whose docstring numbers the equations (1)-(4) used below).  Per step t, with the
synthetic-gradient features ``ã_t = [ρ(s_t), ē_t, 1]`` (length ``n + n_out + 1``):

    sg_t = A ã_t                                      the synthetic credit on s_t   (code eq. 1)
    ∂L/∂Θ ≈ Σ_t (gain_t ⊙ sg_t / N)ᵀ â_t              the estimate             (code eq. 2)
    c*_{t-1} = N q_{t-1} + (A' ã_t) D_t                the bootstrapped target  (code eq. 3)
    A ← A − η [ mean_trials (A ã_{t-1} − c*_{t-1}) ã_{t-1}ᵀ + λ A ]               (code eq. 4)
    A' ← A  after every ``fix_interval``-th update of A

The synthetic credit ``sg_t`` approximates the whole credit ``c_t = q_t + c_{t+1} D_{t+1}``
of BPTT (:mod:`.bptt`): the present error's ``q_t`` and the future's ``∂L_{>t}/∂s_t``.  It is
made future-facing and online by the target ``c*``: the credit that one step of BPTT would
give ``s_{t-1}`` if the synthetic credit of ``s_t`` were right, formed one step late, when
``D_t`` and ``ã_t`` are known (temporal-difference style bootstrapping).  With a perfect
synthetic credit, ``sg_t = c_t``, the estimate is BPTT exactly (tested, with the exact credit
injected through :func:`credit_estimate` and :func:`step_estimate`, which the rule itself uses).

Mapping to Marschall et al.'s notation: their state ``a`` is ``ρ(s)`` here (the same in the
rate form); their ``q`` is ``q_t = slope_t ⊙ (B e_t)``; their Jacobian ``J = ∂a_t/∂a_{t-1}`` is
``D_t`` (:mod:`.base`); their ``α φ'(h) â`` is ``gain_t â_t``; their feedback matrix ``W_FB``
is the spatial feedback ``B``.  Differences, all deliberate:

* **the label.**  Their ``ã = [a, y*, 1]`` takes the target ``y*``; a :class:`~.base.Step`
  carries the output error, not the target, so ``ã`` takes ``ē_t = N e_t`` instead.  For the
  squared error without a mask, ``ē_t = W_out ρ(s_t) + b_out − y*_t``, so a linear function of
  ``[ρ(s_t), ē_t, 1]`` is a linear function of ``[ρ(s_t), y*_t, 1]`` and vice versa (for fixed
  readout weights): the same family of synthetic gradients, in other coordinates.  With a
  mask, ``loss="softmax_xent"`` or ``"absolute"`` it is a different family.  Passing ``y*``
  itself would need a ``target`` field ``(trial, output)`` on ``Step``.
* **units.**  The loss averages the ``N`` trials of a batch, so ``e_t`` and ``q_t`` carry a
  factor ``1/N``.  ``A`` learns the credit of one trial's loss (``N q``, ``N e``; Marschall et
  al. train on one trial, ``N = 1``), and the estimate divides by ``N``: the learning rate means
  the same whatever the batch size.  ``A`` is shared by the trials and its update is averaged
  over them.
* **the first step** of a fresh state has no ``ã_{t-1}``, so ``A`` is not updated there
  (their simulation uses the initial state, the first label and ``q = 0``).  A continuing state
  carries ``ã_{t-1}`` and ``N q_{t-1}`` on, so no step is lost between online updates.
* not implemented: their DNI(b) options (a learned approximate Jacobian in the target,
  ``use_approx_J``/``J_lr``, and a squashing ``SG_label_activation``), a nonlinear synthetic
  gradient (their ``activation``, identity by default) and optimizers other than plain SGD.

Options (defaults from the code): ``learning_rate`` η = 0.01 (the SGD rate of the
``SG_optimizer`` in vanilla-rtrl's ``main_test.py``; the class itself takes any optimizer),
``fix_interval`` = 5 (``fix_A_interval``), ``l2`` λ = 0 (``SG_L2_reg``), and ``init_std``:
``A`` starts as ``N(0, init_std²)`` with ``init_std = 1/√(n + n_out + 1)`` by default (their
``np.random.normal(0, sqrt(1/m_out))``), drawn from the rule's generator, so a seed fixes it.

The online state holds ``A``, ``A'``, the count of updates since ``A'`` was refreshed, the
previous step's ``ã`` and ``N q``, and the running :class:`~.online.Sums`; a training loop
resets only the sums, so ``A`` keeps learning across online updates.  Cost per step and trial:
O(n²) for ``(A' ã) D_t`` and O(n (n + n_out)) for ``A``; memory O(n (n + n_out)).

Default feedback: ``"symmetric"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..network import LeakyRNN, Trace
from .base import (
    Step,
    direct_credit,
    leak,
    output_readout,
    recurrent_readout,
    register,
)
from .online import Stepwise, Sums

__all__ = [
    "DNI",
    "DNIState",
    "credit_estimate",
    "step_estimate",
    "credit_through_jacobian",
    "features",
]


def credit_estimate(net: LeakyRNN, trace: Trace, credit: np.ndarray) -> dict[str, np.ndarray]:
    """``Σ_t (gain_t ⊙ c_t)ᵀ â_t`` for ``W_rec, W_in, b`` from a credit sequence.

    ``credit`` ``(time, trial, unit)``: the credit ``c_t`` assigned to ``s_t``, t = 1..T, in
    loss units.  The exact credit of BPTT gives the gradient; DNI passes ``sg_t / N``.
    """
    return recurrent_readout(net, trace, trace.gain * credit)


def step_estimate(st: Step, credit: np.ndarray) -> np.ndarray:
    """One step of :func:`credit_estimate`: ``(gain_t ⊙ c_t)ᵀ â_t`` ``(unit, m)``.

    ``credit`` ``(trial, unit)`` is ``c_t`` in loss units.
    """
    return (st.gain * credit).T @ st.pre


def credit_through_jacobian(
    net: LeakyRNN, c: np.ndarray, gain: np.ndarray, slope_prev: np.ndarray | None
) -> np.ndarray:
    """``c D_t`` for row vectors ``c`` ``(trial, unit)``: the credit ``c`` on ``s_t`` carried
    back to ``s_{t-1}``, ``(1-α) ⊙ c + slope_{t-1} ⊙ W_recᵀ (gain_t ⊙ c)``."""
    back = (gain * c) @ net.params["W_rec"]
    if slope_prev is not None:
        back *= slope_prev
    back += leak(net) * c
    return back


def features(rate: np.ndarray, error: np.ndarray) -> np.ndarray:
    """``ã = [ρ(s_t), N e_t, 1]`` ``(trial, n + n_out + 1)`` from ``ρ(s_t)`` ``(trial, unit)``
    and ``e_t`` ``(trial, output)``, N = the number of trials."""
    B = rate.shape[0]
    return np.concatenate(
        [rate, B * error, np.ones((B, 1), dtype=rate.dtype)], axis=1, dtype=rate.dtype
    )


@dataclass
class DNIState:
    A: np.ndarray  # (unit, n + n_out + 1): the synthetic gradient's weights
    A_target: np.ndarray  # A', the lagged copy that forms the bootstrapped target
    since_refresh: int  # updates of A since A' was last set to A
    prev_features: np.ndarray | None  # ã_{t-1} (trial, n + n_out + 1)
    prev_credit: np.ndarray | None  # N q_{t-1} (trial, unit)
    sums: Sums


def _check_number(name: str, value, *, positive: bool = False) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value < 0 or (positive and value == 0):
        need = "a finite number > 0" if positive else "a finite number >= 0"
        raise ValueError(f"{name} must be {need}; got {value!r}")


@register
@dataclass(frozen=True)
class DNI(Stepwise):
    """Linear synthetic gradient of the state, learned online by bootstrapping.

    Options: ``learning_rate`` (η ≥ 0, default 0.01), ``fix_interval`` (updates of ``A``
    between refreshes of the target copy ``A'``, an int ≥ 1, default 5), ``l2`` (λ ≥ 0,
    default 0) and ``init_std`` (std of the initial ``A``, ≥ 0; ``None`` for
    ``1/√(n + n_out + 1)``).
    """

    learning_rate: float = 0.01
    fix_interval: int = 5
    l2: float = 0.0
    init_std: float | None = None
    name: ClassVar[str] = "dni"
    no_teacher_forcing: ClassVar[str] = (
        "its synthetic gradient A is fitted to the free-running network's own bootstrapped "
        "future credit, and no forced version of that fit is defined (Jaderberg et al. 2017 "
        "define none)"
    )
    default_feedback: ClassVar[str] = "symmetric"

    def __post_init__(self) -> None:
        _check_number("learning_rate", self.learning_rate)
        _check_number("l2", self.l2)
        if self.init_std is not None:
            _check_number("init_std", self.init_std)
        k = self.fix_interval
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError(f"fix_interval must be an int >= 1; got {k!r}")

    def init(self, net: LeakyRNN, n_trials: int, rng: np.random.Generator) -> DNIState:
        m_out = net.n_rec + net.n_out + 1
        std = 1.0 / np.sqrt(m_out) if self.init_std is None else float(self.init_std)
        A = (std * rng.standard_normal((net.n_rec, m_out))).astype(net.dtype)
        return DNIState(A, A.copy(), 0, None, None, Sums.zeros(net))

    def learn(
        self,
        state: DNIState,
        net: LeakyRNN,
        feats: np.ndarray,
        gain: np.ndarray,
        slope_prev: np.ndarray | None,
    ) -> None:
        """One update of ``A`` (code eqs. 3-4), in place, once step t's ``ã_t`` and ``D_t``
        (``gain``, ``slope_prev``) are known; nothing on a state's first step."""
        prev = state.prev_features
        if prev is None:
            return
        nxt = feats @ state.A_target.T  # A' ã_t
        target = state.prev_credit + credit_through_jacobian(net, nxt, gain, slope_prev)
        residual = prev @ state.A.T - target  # A ã_{t-1} − c*_{t-1}
        grad = residual.T @ prev
        grad /= prev.shape[0]
        if self.l2:
            grad += self.l2 * state.A
        state.A -= self.learning_rate * grad
        state.since_refresh += 1
        if state.since_refresh == self.fix_interval:
            state.A_target = state.A.copy()
            state.since_refresh = 0

    def step(self, state: DNIState, net: LeakyRNN, st: Step) -> DNIState:
        B = st.gain.shape[0]
        feats = features(st.rate, st.error)
        self.learn(state, net, feats, st.gain, st.slope_prev)
        sg = feats @ state.A.T  # sg_t = A ã_t, with A just updated (as the code does)
        sg /= B
        state.sums.theta += step_estimate(st, sg)
        state.sums.add_readout(st)
        state.prev_features = feats
        state.prev_credit = B * st.credit
        return state

    def gradient(
        self,
        net: LeakyRNN,
        trace: Trace,
        error: np.ndarray,
        feedback: np.ndarray,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        """The online recursion for ``A`` step by step (it is sequential), the synthetic credit
        kept for every step, and the estimate as one matrix product per parameter
        (:func:`credit_estimate`).  Equal to stepping the online face (tested)."""
        q = direct_credit(net, trace, error, feedback)
        T, B, n = q.shape
        state = self.init(net, B, rng)
        slope = trace.slope
        sg = np.empty_like(q)
        for t in range(T):
            feats = features(trace.rates[t + 1], error[t])
            self.learn(state, net, feats, trace.gain[t], None if slope is None else slope[t])
            np.matmul(feats, state.A.T, out=sg[t])
            state.prev_features = feats
            state.prev_credit = B * q[t]
        sg /= B
        return {**credit_estimate(net, trace, sg), **output_readout(net, trace, error)}
