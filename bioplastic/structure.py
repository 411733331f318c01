"""What a :class:`~bioplastic.LeakyRNN` may be: its parameters' shapes and dtype, α, and the
structure that constrains learning (connectivity masks, Dale's law, the plastic set), each
checked with an error that names the fix, and the projection that keeps learning inside them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ._validate import as_float_array, check_finite, check_shape, float_array

__all__ = [
    "PARAM_NAMES",
    "WEIGHT_NAMES",
    "readonly",
    "check_params",
    "check_connectivity",
    "check_dale",
    "check_plastic",
    "check_plastic_masks",
    "check_dtype",
    "resolve_alpha",
    "is_real_scalar",
    "project",
    "reach",
]

PARAM_NAMES: tuple[str, ...] = ("W_in", "W_rec", "b", "W_out", "b_out")
WEIGHT_NAMES: tuple[str, ...] = ("W_in", "W_rec", "W_out")


def readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def check_params(W_in, W_rec, W_out, b, b_out, dtype: np.dtype) -> dict[str, np.ndarray]:
    """The five parameters as read-only arrays of ``dtype``, their shapes checked together."""
    W_rec = as_float_array("W_rec", W_rec, dtype)
    if W_rec.ndim != 2 or W_rec.shape[0] != W_rec.shape[1] or W_rec.shape[0] == 0:
        raise ValueError(
            f"W_rec must be a square 2-D array (unit, unit) with at least one unit; "
            f"got shape {W_rec.shape}"
        )
    n = W_rec.shape[0]
    W_in = as_float_array("W_in", W_in, dtype)
    if W_in.ndim != 2:
        raise ValueError(f"W_in must be 2-D (unit, input) = ({n}, *); got shape {W_in.shape}")
    W_out = as_float_array("W_out", W_out, dtype)
    if W_out.ndim != 2:
        raise ValueError(f"W_out must be 2-D (output, unit) = (*, {n}); got shape {W_out.shape}")
    n_in, n_out = W_in.shape[1], W_out.shape[0]
    if n_out == 0:
        raise ValueError(f"W_out must have at least one output row; got shape {W_out.shape}")
    params = {
        "W_in": float_array("W_in", W_in, [("unit", n), ("input", n_in)], dtype),
        "W_rec": float_array("W_rec", W_rec, [("unit", n), ("unit", n)], dtype),
        "b": float_array("b", np.zeros(n) if b is None else b, [("unit", n)], dtype),
        "W_out": float_array("W_out", W_out, [("output", n_out), ("unit", n)], dtype),
        "b_out": float_array(
            "b_out", np.zeros(n_out) if b_out is None else b_out, [("output", n_out)], dtype
        ),
    }
    return {k: readonly(v.copy()) for k, v in params.items()}


def project(
    params: dict[str, np.ndarray],
    connectivity: Mapping[str, np.ndarray],
    dale: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Masked weights to 0, and recurrent weights whose sign breaks Dale's law to 0 (the
    projection of Song et al. 2016), in place on the caller's fresh arrays."""
    for k, m in connectivity.items():
        if k in params:
            params[k][~m] = 0.0
    if dale is not None and "W_rec" in params:
        w = params["W_rec"]
        w[w * dale < 0] = 0.0
    return params


def check_connectivity(
    connectivity: Mapping[str, ArrayLike] | None, params: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The masks as read-only bool arrays; a masked weight must already be 0."""
    if connectivity is None:
        return {}
    if not isinstance(connectivity, Mapping):
        raise TypeError(
            f"connectivity must be a dict {{name: mask}} with names in {list(WEIGHT_NAMES)}; "
            f"got {type(connectivity).__name__}"
        )
    out = {}
    for k, m in connectivity.items():
        if k not in WEIGHT_NAMES:
            raise ValueError(
                f"connectivity key {k!r} is not a weight; accepted: {list(WEIGHT_NAMES)}"
            )
        m = as_float_array(f"connectivity[{k!r}]", m, np.float64, allow_bool=True)
        w = params[k]
        check_shape(f"connectivity[{k!r}]", m, list(zip(("post", "pre"), w.shape)))
        if not np.isin(m, (0.0, 1.0)).all():
            raise ValueError(f"connectivity[{k!r}] must hold only 0 and 1")
        mask = m.astype(bool)
        leak = int(np.count_nonzero(w[~mask]))
        if leak:
            raise ValueError(
                f"{k} has {leak} nonzero weight(s) where connectivity[{k!r}] is 0; "
                f"multiply {k} by its mask before building the network"
            )
        out[k] = readonly(mask)
    return out


def check_dale(dale: ArrayLike | None, W_rec: np.ndarray) -> np.ndarray | None:
    """Dale's signs per unit (+1, -1) as a read-only array; W_rec must already obey them."""
    if dale is None:
        return None
    d = as_float_array("dale", dale, W_rec.dtype)
    check_shape("dale", d, [("unit", W_rec.shape[0])])
    if not np.isin(d, (-1.0, 1.0)).all():
        raise ValueError("dale must hold +1 (excitatory) or -1 (inhibitory) per unit")
    wrong = int(np.count_nonzero(W_rec * d < 0))
    if wrong:
        raise ValueError(
            f"W_rec has {wrong} weight(s) whose sign breaks Dale's law (column j must have "
            f"sign dale[j]); use net.constrain(params) to project them to 0"
        )
    return readonly(d)


def check_plastic_masks(
    plastic: Mapping[str, ArrayLike | bool], params: Mapping[str, np.ndarray]
) -> tuple[frozenset[str], dict[str, np.ndarray]]:
    """``{name: True or a 0/1 mask of the parameter's shape}``: the names that learn, and the
    read-only bool masks of the entries that learn where only some do."""
    names, masks = set(), {}
    for k, m in plastic.items():
        if k not in PARAM_NAMES:
            raise ValueError(f"plastic key {k!r} is not a parameter; accepted: {list(PARAM_NAMES)}")
        if np.ndim(m) == 0 and isinstance(m, (bool, np.bool_, int, np.integer)) and m in (0, 1):
            if m:  # True, 1: the whole parameter learns
                names.add(k)
            continue
        a = as_float_array(f"plastic[{k!r}]", m, np.float64, allow_bool=True)
        shape = params[k].shape
        axes = ("gate", "post", "pre") if len(shape) == 3 else ("post", "pre")
        check_shape(f"plastic[{k!r}]", a, list(zip(axes, shape)))
        if not np.isin(a, (0.0, 1.0)).all():
            raise ValueError(f"plastic[{k!r}] must hold only 0 and 1 (or True / False)")
        mask = a.astype(bool)
        if mask.all():
            names.add(k)
        elif mask.any():
            names.add(k)
            masks[k] = readonly(mask)
    return frozenset(names), masks


def replaced_params(
    params: Mapping[str, np.ndarray], new: Mapping[str, object], dtype: np.dtype
) -> dict[str, np.ndarray]:
    """``params`` with the entries of ``new`` (names checked, converted to ``dtype``, each
    keeping its shape): what ``with_params`` passes back to a constructor."""
    unknown = set(new) - set(PARAM_NAMES)
    if unknown:
        raise ValueError(
            f"unknown parameter name(s) {sorted(unknown)}; accepted: {list(PARAM_NAMES)}"
        )
    out = {**params, **{k: as_float_array(k, v, dtype) for k, v in new.items()}}
    for k in PARAM_NAMES:
        if out[k].shape != params[k].shape:
            raise ValueError(f"{k} must keep its shape {params[k].shape}; got {out[k].shape}")
    return out


def plastic_spec(plastic: frozenset[str], masks: Mapping[str, np.ndarray]) -> frozenset | dict:
    """``plastic`` as a constructor takes it back: the names, or ``{name: True or mask}``."""
    if not masks:
        return plastic
    return {k: masks.get(k, True) for k in plastic}


def check_plastic(plastic: Iterable[str] | None) -> frozenset[str]:
    """The names of the parameters that learn (all of :data:`PARAM_NAMES` by default)."""
    if plastic is None:
        return frozenset(PARAM_NAMES)
    if isinstance(plastic, str):
        raise TypeError(
            f"plastic must be a collection of names such as ('W_rec', 'W_out'); got the "
            f"string {plastic!r}"
        )
    try:
        names = frozenset(plastic)
    except TypeError as exc:
        raise TypeError(
            f"plastic must be a collection of names such as ('W_rec', 'W_out'); got {plastic!r}"
        ) from exc
    unknown = names - set(PARAM_NAMES)
    if unknown:
        raise ValueError(
            f"plastic holds unknown name(s) {sorted(unknown)}; accepted: {list(PARAM_NAMES)}"
        )
    return names


def is_real_scalar(v: object) -> bool:
    """A Python or numpy real number, or a 0-d real array (not a bool)."""
    a = np.asarray(v) if not isinstance(v, bool) else None
    return a is not None and a.ndim == 0 and a.dtype.kind in "iuf"


def check_dtype(dtype: DTypeLike) -> np.dtype:
    """float32 or float64, else a TypeError."""
    try:
        d = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be float32 or float64; got {dtype!r}") from exc
    if d not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be float32 or float64; got {d}")
    return d


def resolve_alpha(
    tau: object, alpha: object, dt: object, n: int
) -> tuple[float | np.ndarray, float]:
    """Return (α, dt) with α a float or a read-only float64 (n,) array, all in (0, 1]."""
    if not is_real_scalar(dt) or not np.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt must be a finite number > 0; got {dt!r}")
    dt = float(dt)
    if (tau is None) == (alpha is None):
        raise ValueError(
            "give exactly one of alpha (= dt/tau, in (0, 1]) or tau (>= dt, with dt); "
            f"got tau={tau!r}, alpha={alpha!r}"
        )
    name, value = ("alpha", alpha) if alpha is not None else ("tau", tau)
    v = as_float_array(name, value, np.float64)
    if v.ndim == 1:
        check_shape(name, v, [("unit", n)])
    elif v.ndim != 0:
        raise ValueError(
            f"{name} must be a scalar or one value per unit ({n},); got shape {v.shape}"
        )
    check_finite(name, v)
    if name == "tau":
        if (v < dt).any():
            raise ValueError(
                f"tau must be >= dt = {dt:g} so that alpha = dt/tau lies in (0, 1]; "
                f"got tau min {v.min():g}"
            )
        v = dt / v
        if (v <= 0).any():
            raise ValueError(
                f"alpha = dt/tau underflows to 0 (dt = {dt:g}); use a smaller ratio tau/dt"
            )
    elif ((v <= 0) | (v > 1)).any():
        raise ValueError(f"alpha must lie in (0, 1]; got values in [{v.min():g}, {v.max():g}]")
    if v.ndim == 0:
        return float(v), dt
    return readonly(v.copy()), dt


def reach(W_rec_mask: ArrayLike, hops: int | None = None) -> np.ndarray:
    """Which units each unit's incoming parameters can move: ``(unit k, unit i)`` bool.

    ``reach[k, i]`` is True when unit i's state can depend on unit k's parameters (row k of
    ``W_rec``, ``W_in`` and ``b``): i is k, or i is reached from k along the nonzero entries
    of the ``W_rec`` mask (``mask[i, l] ≠ 0`` carries l → i), in at most ``hops`` steps
    (any number if None).  Exact RTRL needs the influence ``∂s_i/∂Θ_k·`` only where this is
    True (Javed et al. 2023, seed 003, section 5: in a columnar network it is the column, and
    exact RTRL costs O(parameters) per step); with ``hops = n`` it is SnAp-n's pattern (Menick
    et al. 2021).  Breadth-first search by :func:`scipy.sparse.csgraph.shortest_path`.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import shortest_path

    mask = np.asarray(W_rec_mask)
    if mask.ndim != 2 or mask.shape[0] != mask.shape[1]:
        raise ValueError(f"W_rec_mask must be square (unit, unit); got shape {mask.shape}")
    bad = not isinstance(hops, (int, np.integer)) or isinstance(hops, bool) or hops < 0
    if hops is not None and bad:
        raise ValueError(f"hops must be an int >= 0 or None; got {hops!r}")
    steps = shortest_path(csr_matrix(mask.T != 0), unweighted=True, directed=True)
    return np.isfinite(steps) if hops is None else steps <= hops
