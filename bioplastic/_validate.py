"""Argument checks shared by the public API.

Every check raises an error that names the argument, says what was given, and says what is
accepted.  Nothing is broadcast silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Dim = tuple[str, int | None]  # (dimension name, required size or None for "any")


def as_float_array(
    name: str, value: object, dtype: np.dtype, *, allow_bool: bool = False
) -> np.ndarray:
    """Convert real numbers (ints or floats; bools only if ``allow_bool``) to ``dtype``.

    Raises a ``TypeError`` naming ``name`` for anything else: None, ragged nesting, strings,
    complex, dates and durations, or a masked array (whose mask would be silently dropped).
    """
    if value is None:
        raise TypeError(f"{name} is required; got None")
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array; fill it (e.g. value.filled(0.0)) or pass a mask argument"
        )
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged lists and the like
        raise TypeError(
            f"{name} must be a rectangular array of real numbers; got {type(value).__name__} "
            f"({exc})"
        ) from exc
    kinds = "biuf" if allow_bool else "iuf"
    if arr.dtype.kind not in kinds:
        what = "real numbers or booleans" if allow_bool else "real numbers"
        raise TypeError(f"{name} must hold {what}; got an array of dtype {arr.dtype}")
    return np.asarray(arr, dtype=dtype)


def check_shape(name: str, arr: np.ndarray, dims: Sequence[Dim]) -> None:
    """Raise a ``ValueError`` unless ``arr`` has exactly the named dims and sizes."""
    expected = "(" + ", ".join(d for d, _ in dims) + ")"
    sizes = "(" + ", ".join("*" if s is None else str(s) for _, s in dims) + ")"
    if arr.ndim != len(dims):
        raise ValueError(
            f"{name} must be {len(dims)}-D with dims {expected} = {sizes}; got shape {arr.shape}"
        )
    bad = [
        f"{d}={got} (expected {want})"
        for (d, want), got in zip(dims, arr.shape)
        if want is not None and want != got
    ]
    if bad:
        raise ValueError(
            f"{name} must have dims {expected} = {sizes}; got shape {arr.shape}: " + ", ".join(bad)
        )


def check_finite(name: str, arr: np.ndarray) -> None:
    """Raise a ``ValueError`` if ``arr`` holds NaN or inf, naming the first bad index."""
    finite = np.isfinite(arr)
    if not finite.all():
        n_bad = int(arr.size - np.count_nonzero(finite))
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(
            f"{name} must be finite; it holds {n_bad} NaN/inf value(s), "
            f"the first at index {first} ({arr[first]})"
        )


def float_array(name: str, value: object, dims: Sequence[Dim], dtype: np.dtype) -> np.ndarray:
    """``as_float_array`` + ``check_shape`` + ``check_finite`` in one call."""
    arr = as_float_array(name, value, dtype)
    check_shape(name, arr, dims)
    check_finite(name, arr)
    return arr


def one_of(name: str, value: object, accepted: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``accepted`` strings, else raise ``ValueError``."""
    if not isinstance(value, str) or value not in accepted:
        raise ValueError(f"{name} must be one of {list(accepted)}; got {value!r}")
    return value


def check_seed(seed: object, name: str = "seed") -> int:
    """Return ``seed`` if it is a non-negative int (not a bool), else raise ``ValueError``."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"{name} must be a non-negative int; got {seed!r}")
    return int(seed)
