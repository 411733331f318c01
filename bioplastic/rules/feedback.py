r"""Spatial feedback: how the output error ``e_t`` becomes a learning signal on each unit.

Every rule sends the error back through a matrix ``B`` of shape ``(unit, output)``: the
direct credit on unit i is ``q_t[i] = slope_t[i] · (B e_t)[i]``.

* ``"symmetric"``: ``B = W_outᵀ``, the true gradient's choice (backpropagation).
* ``"random"``: a fixed ``B`` with entries ``N(0, 1)/√n_out``, drawn from the seed (feedback
  alignment: Lillicrap et al. 2016, Nat. Commun. 7:13276; for RNNs Murray 2019, eLife
  8:e43299, where ``B`` replaces ``W_outᵀ`` in eqs. 10-11).  With one output this is
  ``N(0, 1)``, Murray's Methods ("B_ij ∼ N(0, 1)").  ``B``'s entries are far larger than
  ``W_out``'s (``U(-1, 1)/√N`` in Murray's Methods, ten times smaller in his notebook): with
  random feedback the recurrent updates are that much larger than with symmetric feedback,
  which acts as a larger recurrent learning rate.
* ``"random_unit"``: a fixed ``B`` with entries ``N(0, 1)`` whatever the number of outputs,
  Murray's Methods for every output dimension (his Fig. 4 has two).
* Pass an explicit array for another scale.
* ``"adaptive"``: Kolen–Pollack (Kolen & Pollack 1994; Akrout et al. 2019, NeurIPS): ``B``
  starts as the random matrix above and, in the training loop, receives the transpose of every
  update to ``W_out`` (with the same weight decay), so it aligns with ``W_outᵀ`` over learning.
  Within one trial it is a fixed ``B``, so :func:`bioplastic.gradient` treats it as
  ``"random"``.
* an array of shape ``(n_rec, n_out)``: that ``B``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._validate import float_array
from ..network import LeakyRNN

__all__ = ["FEEDBACKS", "random_feedback", "feedback_matrix"]

FEEDBACKS: tuple[str, ...] = ("symmetric", "random", "random_unit", "adaptive")


def random_feedback(
    n_rec: int, n_out: int, rng: np.random.Generator, dtype: np.dtype = np.float64
) -> np.ndarray:
    """Murray 2019's random feedback ``B ~ N(0, 1)/√n_out``, shape ``(n_rec, n_out)``."""
    return (rng.standard_normal((n_rec, n_out)) / np.sqrt(n_out)).astype(dtype)


def feedback_matrix(
    net: LeakyRNN, feedback: str | ArrayLike, rng: np.random.Generator
) -> np.ndarray:
    """Resolve a feedback choice to the matrix ``B`` ``(n_rec, n_out)`` in the net's dtype."""
    if isinstance(feedback, str):
        if feedback == "symmetric":
            return np.ascontiguousarray(net.params["W_out"].T)
        if feedback in ("random", "adaptive"):
            return random_feedback(net.n_rec, net.n_out, rng, net.dtype)
        if feedback == "random_unit":
            return rng.standard_normal((net.n_rec, net.n_out)).astype(net.dtype)
        raise ValueError(
            f"feedback must be one of {list(FEEDBACKS)} or an array (n_rec, n_out) = "
            f"({net.n_rec}, {net.n_out}); got {feedback!r}"
        )
    if feedback is None:
        raise TypeError(
            f"feedback must be one of {list(FEEDBACKS)} or an array (n_rec, n_out); got None"
        )
    return float_array(
        "feedback", feedback, [("unit", net.n_rec), ("output", net.n_out)], net.dtype
    )
