r"""How far each learning rule is from the true gradient: cosine, angle and norm ratio.

For rule estimates ``g`` and the reference gradient ``g*`` (BPTT by default) on the same
trials and weights, per parameter and over all parameters together:

    cosine = ⟨g, g*⟩ / (‖g‖ ‖g*‖),   angle = arccos(cosine) in degrees,   norm_ratio = ‖g‖ / ‖g*‖

Marschall, Cho & Savin 2020 (JMLR 21, sec. 5 and Fig. 4) compare rules this way, including the
pairwise rule × rule cosine matrix.  Where a norm is 0 (a frozen parameter) the numbers are NaN.
``W_out`` and ``b_out`` are exact for every rule, so the ``"recurrent"`` entry (``W_in``,
``W_rec``, ``b`` together) isolates what the rules actually approximate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from ._version import __version__
from .gradient import gradient
from .network import PARAM_NAMES, LeakyRNN

__all__ = ["alignment", "rule_label", "RECURRENT", "PARAM_GROUPS"]

RECURRENT = ("W_in", "W_rec", "b")
#: the ``param`` coordinate: each parameter, the recurrent block, and everything
PARAM_GROUPS: dict[str, tuple[str, ...]] = {
    **{k: (k,) for k in PARAM_NAMES},
    "recurrent": RECURRENT,
    "all": PARAM_NAMES,
}

RuleSpec = str | tuple[str, Mapping[str, Any]]


def _label_value(v: Any) -> str:
    """A short, distinct text for an option value (arrays by a digest of their contents)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (str, int, float, bool)):
        return str(v)
    arr = np.asarray(v)
    digest = hashlib.sha1(np.ascontiguousarray(arr).tobytes()).hexdigest()[:8]
    return f"array{arr.shape}#{digest}"


def _spec(spec: RuleSpec) -> tuple[str, str, dict[str, Any]]:
    """(label, rule name, options) from ``"rflo"`` or ``("tbptt", {"truncation": 10})``."""
    if isinstance(spec, str):
        return spec, spec, {}
    if (
        isinstance(spec, tuple)
        and len(spec) == 2
        and isinstance(spec[0], str)
        and isinstance(spec[1], Mapping)
    ):
        name, options = spec[0], dict(spec[1])
        shared = sorted(set(options) & {"seed", "h0", "mask", "loss"})
        if shared:
            raise TypeError(
                f"the options of rule {name!r} may not set {shared}: pass seed, h0, mask and "
                "loss to alignment() itself, so that every rule sees the same trials"
            )
        if not options:
            return name, name, options
        shown = ",".join(f"{k}={_label_value(v)}" for k, v in sorted(options.items()))
        return f"{name}({shown})", name, options
    raise TypeError(
        "each rule must be a name such as 'rflo' or a (name, options) pair such as "
        f"('tbptt', {{'truncation': 10}}); got {spec!r}"
    )


def rule_label(spec: RuleSpec) -> str:
    """The label a rule spec gets in :func:`alignment`'s ``rule`` coordinate."""
    return _spec(spec)[0]


def _flat(g: Mapping[str, np.ndarray], group: tuple[str, ...]) -> np.ndarray:
    return np.concatenate([np.ravel(g[k]) for k in group]).astype(np.float64)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return np.nan
    return float(np.clip(a @ b / (na * nb), -1.0, 1.0))


def _ratio(a: np.ndarray, b: np.ndarray) -> float:
    nb = np.linalg.norm(b)
    return np.nan if nb == 0 else float(np.linalg.norm(a) / nb)


def alignment(
    net: LeakyRNN,
    x: ArrayLike,
    target: ArrayLike,
    rules: Sequence[RuleSpec],
    reference: RuleSpec = "bptt",
    mask: ArrayLike | None = None,
    seed: int = 0,
    *,
    h0: ArrayLike | None = None,
    pairwise: bool = False,
    loss: str = "mse",
) -> xr.Dataset:
    """Compare rules' gradient estimates with a reference on the same batch.

    Parameters
    ----------
    net, x, target, mask, h0:
        As for :func:`bioplastic.gradient`.
    rules:
        Names (``"rflo"``) or ``(name, options)`` pairs (``("tbptt", {"truncation": 10})``,
        ``("rtrl", {"feedback": "random"})``).  Options go to :func:`bioplastic.gradient`.
    reference:
        The same kind of spec; ``"bptt"`` (the exact gradient) by default.
    seed:
        Passed to every rule (random feedback and stochastic rules).
    pairwise:
        Also compute ``pairwise_cosine(rule, rule_b, param)`` between every two rules.
    loss:
        ``"mse"``, ``"softmax_xent"`` or ``"absolute"``, as for :func:`bioplastic.gradient`.

    Returns
    -------
    xarray.Dataset
        ``cosine``, ``angle`` (degrees) and ``norm_ratio``, each ``(rule, param)``, with
        ``param`` = each parameter, ``"recurrent"`` and ``"all"``.
    """
    if isinstance(rules, (str, tuple)) or not isinstance(rules, Sequence) or not rules:
        raise TypeError(
            f"rules must be a non-empty list of rule specs, e.g. ['rflo', 'eprop']; got {rules!r}"
        )
    specs = [_spec(s) for s in rules]
    labels = [label for label, _, _ in specs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"rules must be distinct; got {labels}")
    ref_label, ref_name, ref_opts = _spec(reference)

    def run(name: str, options: dict[str, Any]) -> dict[str, np.ndarray]:
        return gradient(net, x, target, mask, rule=name, seed=seed, h0=h0, loss=loss, **options)

    g_ref = run(ref_name, ref_opts)
    estimates = [run(name, opts) for _, name, opts in specs]
    params = list(PARAM_GROUPS)
    cos = np.array(
        [
            [_cosine(_flat(g, PARAM_GROUPS[p]), _flat(g_ref, PARAM_GROUPS[p])) for p in params]
            for g in estimates
        ]
    )
    ratio = np.array(
        [
            [_ratio(_flat(g, PARAM_GROUPS[p]), _flat(g_ref, PARAM_GROUPS[p])) for p in params]
            for g in estimates
        ]
    )
    ds = xr.Dataset(
        {
            "cosine": (
                ("rule", "param"),
                cos,
                {"long_name": f"cosine with {ref_label}", "units": "1"},
            ),
            "angle": (
                ("rule", "param"),
                np.degrees(np.arccos(cos)),
                {"long_name": f"angle to {ref_label}", "units": "degree"},
            ),
            "norm_ratio": (
                ("rule", "param"),
                ratio,
                {"long_name": f"norm of the estimate / norm of {ref_label}", "units": "1"},
            ),
        },
        coords={"rule": labels, "param": params},
        attrs={
            "reference": ref_label,
            "seed": int(seed),
            "n_trials": int(np.shape(x)[0]),
            "n_steps": int(np.shape(x)[1]),
            "network": repr(net),
            "rules": json.dumps(labels),
            "bioplastic_version": __version__,
        },
    )
    if pairwise:
        pc = np.array(
            [
                [
                    [_cosine(_flat(a, PARAM_GROUPS[p]), _flat(b, PARAM_GROUPS[p])) for p in params]
                    for b in estimates
                ]
                for a in estimates
            ]
        )
        ds["pairwise_cosine"] = xr.DataArray(
            pc,
            dims=("rule", "rule_b", "param"),
            coords={"rule_b": labels},
            attrs={"long_name": "cosine between two rules' estimates", "units": "1"},
        )
    return ds
