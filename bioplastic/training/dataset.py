"""A run as one labelled Dataset: its history (:mod:`.records`), the held-out trials before and
after, the weights, and what a checkpoint needs to continue (:mod:`.checkpoint`)."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

import numpy as np
import xarray as xr

from .._version import __version__
from ..alignment import PARAM_GROUPS
from ..network import PARAM_NAMES
from ..optim import AdamState
from ..rules.base import is_reward
from .checkpoint import pack_rule_state
from .run import Run
from .state import RunState

__all__ = ["to_dataset", "PARAM_DIMS"]

#: the dims of each parameter's variable
PARAM_DIMS = {
    "W_in": ("unit", "input"),
    "W_rec": ("unit", "presynaptic"),
    "b": ("unit",),
    "W_out": ("output", "unit"),
    "b_out": ("output",),
}


def to_dataset(run: Run, state: RunState, initial_eval, final_eval) -> xr.Dataset:
    """The Dataset of ``state``; ``final_eval`` is None for a checkpoint mid-run."""
    s, net = run.settings, state.net
    hist = state.history
    n = hist.lengths()[0]
    groups = list(PARAM_GROUPS)
    present = set()
    if run.probe:
        present |= {"probe_cosine", "probe_pairwise"}
    if is_reward(run.rule):
        present |= {"reward", "reward_baseline"}
    if run.exact is not None:
        present.add("eval_alignment")
        if s.update == "trial" and not s.teacher_forcing:
            present |= {"alignment", "norm_ratio"}
    sizes = {
        "param": len(groups),
        "weight": len(PARAM_NAMES),
        "probe": len(run.probe),
        "probe_b": len(run.probe),
    }
    exact = f" ({s.align_with})" if s.align_with else ""
    labels = {k: exact for k in ("alignment", "norm_ratio", "eval_alignment")}
    data: dict[str, Any] = hist.variables(sizes, present, labels)
    data.update(_held_out(run, initial_eval, final_eval))
    data["feedback"] = (("unit", "output"), state.B, {"long_name": "feedback matrix B"})
    data["alpha"] = (
        ("unit",),
        np.broadcast_to(np.asarray(net.alpha, float), (net.n_rec,)).copy(),
        {"long_name": "dt / tau"},
    )
    data.update(_weights(run, state))
    attrs = _attrs(run, state)
    if state.baseline is not None:  # a reward rule's running baseline
        attrs["reward_baseline"] = json.dumps(state.baseline.to_dict())
    if state.stream is not None:  # a continuing stream: what carries over to the next chunk
        attrs["stream_state"] = json.dumps(state.stream.state())
        if state.h is not None:
            data["stream_h"] = (("stream", "unit"), state.h.copy(), {"long_name": "network state"})
            arrays, kinds = pack_rule_state(state.rule_state)
            attrs["rule_state"] = json.dumps(kinds)
            for name, arr in arrays.items():
                data[name] = (tuple(f"{name}_d{i}" for i in range(arr.ndim)), arr)
        if state.td is not None:  # TD(λ): the eligibility traces and the last prediction
            attrs["td_prev"] = json.dumps(state.td["prev"])
            for k, z in state.td["z"].items():
                data[f"td_z_{k}"] = (tuple(f"td_z_{k}_d{i}" for i in range(z.ndim)), z.copy())
    ev, w = run.eval_trials, run.window
    coords = {
        "trial": (
            "trial",
            np.array([s.seen(i) for i in range(1, n + 1)], dtype=np.int64),
            {"long_name": "trials seen after each update"},
        ),
        "trials_seen": (
            "evaluation",
            np.asarray(hist["eval_at"][: hist.n_evaluations], np.int64),
            {"long_name": "trials seen at each evaluation"},
        ),
        "param": groups,
        "weight": list(PARAM_NAMES),
        **({"probe": run.probe_labels, "probe_b": run.probe_labels} if run.probe else {}),
        "stage": ["initial", "final"] if final_eval is not None else ["initial"],
        "time": ("time", ev.dt * np.arange(1, ev.n_steps + 1)[w], {"units": "dt"}),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _held_out(run: Run, initial_eval, final_eval) -> dict[str, Any]:
    ev, w = run.eval_trials, run.window
    evals = [initial_eval] + ([final_eval] if final_eval is not None else [])
    return {
        "eval_output": (
            ("stage", "example", "time", "output"),
            np.stack([e[0] for e in evals]),
            {"long_name": "network output on the evaluation trials"},
        ),
        "eval_rates": (
            ("stage", "example", "time", "unit"),
            np.stack([e[1] for e in evals]),
            {"long_name": "presynaptic rates on the evaluation trials"},
        ),
        "eval_target": (
            ("example", "time", "output"),
            ev.target[:, w],
            {"long_name": "target output on the evaluation trials"},
        ),
        "eval_input": (("example", "time", "input"), ev.x[:, w], {"long_name": "evaluation input"}),
    }


def _weights(run: Run, state: RunState) -> dict[str, Any]:
    """Final and initial weights, masks, Dale signs and the optimizer's moments."""
    net, p = state.net, state.net.params
    data: dict[str, Any] = {}
    for k, d in PARAM_DIMS.items():
        data[k] = (d, p[k].copy(), {"long_name": f"{k} at the end of the recorded trials"})
        data[f"{k}_initial"] = (
            d,
            np.asarray(run.initial[k]).copy(),
            {"long_name": f"{k} before training"},
        )
    for k, m in net.plastic_masks.items():
        data[f"plastic_{k}"] = (
            PARAM_DIMS[k],
            m.astype(np.int8),
            {"long_name": f"which entries of {k} learn"},
        )
    for k, m in net.connectivity.items():
        data[f"connectivity_{k}"] = (
            PARAM_DIMS[k],
            m.astype(np.int8),
            {"long_name": f"{k} connectivity mask"},
        )
    if net.dale is not None:
        data["dale"] = (("unit",), net.dale.astype(float), {"long_name": "Dale sign of each unit"})
    if isinstance(state.opt_state, AdamState):
        for k in PARAM_NAMES:
            if k in state.opt_state.m:
                data[f"adam_m_{k}"] = (PARAM_DIMS[k], state.opt_state.m[k])
                data[f"adam_v_{k}"] = (PARAM_DIMS[k], state.opt_state.v[k])
    return data


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot store {type(o).__name__} in the config")


def _attrs(run: Run, state: RunState) -> dict[str, Any]:
    net = state.net
    attrs = {
        "bioplastic_version": __version__,
        "numpy_version": np.__version__,
        "config": json.dumps(run.config, default=_json_default),
        "seed": int(run.settings.seed),
        "rule": run.settings.rule,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "status": state.status,
        "message": state.message,
        "rng_state": json.dumps({k: g.bit_generator.state for k, g in state.rngs.items()}),
        "activation": net.activation.name,
        "form": net.form,
        "dt": net.dt,
        "plastic": json.dumps(sorted(net.plastic)),
        "dtype": np.dtype(net.dtype).name,
    }
    if isinstance(state.opt_state, AdamState):
        attrs["adam_step"] = int(state.opt_state.step)
    return attrs
