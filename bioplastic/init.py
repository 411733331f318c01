"""Random initial weights, after the papers whose set-ups they follow (:data:`INITS`).

:meth:`bioplastic.LeakyRNN.random` builds a network from them; see its docstring for each.
"""

from __future__ import annotations

import numpy as np

from ._validate import check_seed
from .structure import is_real_scalar

__all__ = ["INITS", "random_weights"]

#: Random initialisations of :meth:`LeakyRNN.random`, after the paper whose code they follow.
INITS: tuple[str, ...] = ("murray", "murray_methods", "marschall", "miconi", "williams_zipser")


def random_weights(
    n_in: int,
    n_rec: int,
    n_out: int,
    *,
    g: float = 1.5,
    seed: int = 0,
    exc_fraction: float | None = None,
    init: str = "murray",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """``(W_in, W_rec, W_out, dale, b)`` drawn from ``np.random.default_rng(seed)`` only
    (:meth:`bioplastic.LeakyRNN.random` documents each ``init``)."""
    for name, v in (("n_in", n_in), ("n_rec", n_rec), ("n_out", n_out)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{name} must be a non-negative int; got {v!r}")
    if n_rec < 1 or n_out < 1:
        raise ValueError(f"n_rec and n_out must be >= 1; got n_rec={n_rec}, n_out={n_out}")
    if not is_real_scalar(g) or not np.isfinite(g) or g < 0:
        raise ValueError(f"g must be a finite number >= 0; got {g!r}")
    check_seed(seed)
    if init not in INITS:
        raise ValueError(f"init must be one of {list(INITS)}; got {init!r}")
    rng = np.random.default_rng(seed)
    b = np.zeros(n_rec)
    if init == "marschall":
        q, r = np.linalg.qr(rng.standard_normal((n_rec, n_rec)))
        W_rec = g * q * np.sign(np.diag(r))  # Haar-distributed orthogonal
        W_in = rng.standard_normal((n_rec, n_in)) / np.sqrt(max(n_in, 1))
        W_out = rng.standard_normal((n_out, n_rec)) / np.sqrt(n_rec)
    elif init == "miconi":
        W_rec = g * rng.standard_normal((n_rec, n_rec)) / np.sqrt(n_rec)
        W_in = rng.uniform(-1.0, 1.0, (n_rec, n_in))
        W_in[:n_out] = 0.0  # the output units get no direct input
        W_out = np.eye(n_out, n_rec)  # output k is unit k's rate
        # the three clamped units (x = 1, 1, -1) as a bias: Σ_k J_ik tanh(x_k)
        b = g * np.tanh(1.0) * np.sqrt(3.0) * rng.standard_normal(n_rec) / np.sqrt(n_rec)
    elif init == "williams_zipser":  # every weight, the bias line's too, U(-g, g)
        W_rec = rng.uniform(-g, g, (n_rec, n_rec))
        W_in = rng.uniform(-g, g, (n_rec, n_in))
        b = rng.uniform(-g, g, n_rec)
        W_out = np.eye(n_out, n_rec)  # output k is unit k
    else:
        W_rec = g * rng.standard_normal((n_rec, n_rec)) / np.sqrt(n_rec)
        W_in = rng.uniform(-1.0, 1.0, (n_rec, n_in))
        W_out = rng.uniform(-1.0, 1.0, (n_out, n_rec)) / np.sqrt(n_rec)
        if init == "murray":
            W_in /= np.sqrt(max(n_in, 1))
            W_out *= 0.1
    dale = None
    if exc_fraction is not None:
        if not 0.0 < exc_fraction < 1.0:
            raise ValueError(f"exc_fraction must lie in (0, 1); got {exc_fraction!r}")
        n_exc = int(round(exc_fraction * n_rec))
        if not 0 < n_exc < n_rec:
            raise ValueError(
                f"exc_fraction={exc_fraction} leaves no excitatory or no inhibitory unit "
                f"among n_rec={n_rec}"
            )
        dale = np.where(np.arange(n_rec) < n_exc, 1.0, -1.0)
        W_rec = np.abs(W_rec) * dale
        if init == "murray":
            W_rec[:, n_exc:] *= n_exc / (n_rec - n_exc)
            radius = np.max(np.abs(np.linalg.eigvals(W_rec)))
            if radius > 0:
                W_rec *= g / radius
    return W_in, W_rec, W_out, dale, b
