"""Sweeps: a preset × a grid of settings × seeds, run on dask.distributed, one labelled dataset.

    ds = bioplastic.sweep("models/murray2019_periodic.toml",
                          grid={"rule": ["bptt", "rflo"], "task.period": [20, 80, 160]},
                          seeds=range(9), out_dir="runs/")

* Each run is a pure function of its configuration and seed: the worker receives the
  configuration as JSON, trains, and writes ``out_dir/<run-id>.nc`` atomically, where the run
  id is a hash of the configuration (which includes the seed).  Only configurations go over the
  wire and only a few numbers come back; the data stay on the shared file system.
* ``scheduler="local"`` (the default) starts a ``LocalCluster`` with one worker process per
  core; ``"threads"`` uses worker threads in this process; ``"tcp://host:port"`` uses an
  existing scheduler (for example one started by dask-jobqueue on a SLURM cluster); ``None``
  runs serially in this process, for debugging.
* Re-running a sweep skips finished runs (complete or diverged) and resumes interrupted ones
  from their checkpoints.  A run that raises is recorded with its error in
  ``out_dir/failures.json``; a diverged run too; the other runs go on.
* When every run has ended, the runs are combined into one Dataset with a dimension per grid
  key and ``seed`` (a ``status`` variable says how each run ended), written atomically as
  ``out_dir/combined.nc``; ``xr.open_mfdataset(out_dir / "combined.nc")`` opens it lazily.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import sys
import time
import traceback
import typing
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .config import SECTIONS, Preset, load_preset, parse, run
from .results import load, save
from .rules import RULES
from .tasks import TASKS

__all__ = ["sweep", "combine", "status", "plan", "RunSpec"]

ALIASES = {"rule": "rule.name", "feedback": "rule.feedback"}
ENDED = ("complete", "diverged")


# --------------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: its grid point, seed, full configuration and id."""

    run_id: str
    point: dict[str, Any]
    seed: int
    config: dict[str, Any]  # a preset in TOML layout, training.seed set

    def to_json(self) -> str:
        return json.dumps(
            {"run_id": self.run_id, "point": self.point, "seed": self.seed, "config": self.config},
            sort_keys=True,
        )


def _toml_layout(preset: Preset) -> dict[str, Any]:
    """A preset as parsed TOML tables (task parameters and rule options inlined)."""
    d = preset.to_dict()
    task = {"name": d["task"]["name"], **d["task"]["params"]}
    rule = {
        "name": d["rule"]["name"],
        "feedback": d["rule"]["feedback"],
        "options": d["rule"]["options"],
    }
    return {
        "network": d["network"],
        "task": task,
        "rule": rule,
        "optimizer": d["optimizer"],
        "training": d["training"],
    }


def _defaults() -> dict[str, dict[str, Any]]:
    """Each section's field defaults, as JSON-ready values."""
    out: dict[str, dict[str, Any]] = {}
    for name in ("network", "rule", "optimizer", "training"):  # task is stored flattened
        cls = SECTIONS[name]
        out[name] = {}
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                out[name][f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[name][f.name] = f.default_factory()
    return json.loads(json.dumps(out))


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a run's configuration its id hashes: fields left at their defaults are
    dropped, so adding a new option with a default to bioplastic does not invalidate the
    runs that every finished sweep has cached."""
    defaults = _defaults()
    return {
        section: {
            k: v
            for k, v in table.items()
            if section not in defaults or k not in defaults[section] or defaults[section][k] != v
        }
        for section, table in config.items()
    }


def _set(config: dict[str, Any], key: str, value: Any) -> None:
    table, name = key.split(".", 1)
    if table == "rule" and name not in ("name", "feedback"):
        config["rule"]["options"][name] = value
    else:
        config[table][name] = value


def _hint(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls).get(name)


def _check_grid(base: dict[str, Any], grid: Mapping[str, Sequence[Any]]) -> dict[str, list]:
    """Resolve aliases and check every key exists and every value has the right type."""
    from .config import _type_name, _type_ok

    if not isinstance(grid, Mapping):
        raise TypeError(f"grid must be a dict {{key: [values]}}; got {type(grid).__name__}")
    out: dict[str, list] = {}
    for key, values in grid.items():
        if isinstance(key, str) and "," in key:  # keys that move together: "task.t1,task.t2"
            parts = [k.strip() for k in key.split(",")]
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise TypeError(f"grid[{key!r}] must be a non-empty list of tuples")
            for v in values:
                if not isinstance(v, (list, tuple)) or len(v) != len(parts):
                    raise ValueError(
                        f"grid[{key!r}] values must be tuples of {len(parts)} values; got {v!r}"
                    )
            checked = {}
            for i, part in enumerate(parts):
                checked.update(_check_grid(base, {part: [v[i] for v in values]}))
            names = list(checked)
            out[",".join(names)] = [tuple(checked[n][j] for n in names) for j in range(len(values))]
            continue
        full = ALIASES.get(key, key)
        if (
            not isinstance(full, str)
            or full.count(".") < 1
            or full.split(".", 1)[0] not in SECTIONS
        ):
            raise ValueError(
                f"grid key {key!r} must be table.key with a table in {list(SECTIONS)} "
                f"(or one of {list(ALIASES)})"
            )
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise TypeError(f"grid[{key!r}] must be a non-empty list of values; got {values!r}")
        table, name = full.split(".", 1)
        if table == "task":
            names = [v for v in grid.get("task.name", [base["task"]["name"]])]
            classes = [TASKS[n] for n in names if n in TASKS]
            if name == "name":
                hint = str
            else:
                hints = [
                    _hint(c, name) for c in classes if name in {f.name for f in fields(c) if f.init}
                ]
                if not hints:
                    accepted = sorted({f.name for c in classes for f in fields(c) if f.init})
                    raise ValueError(
                        f"grid key {key!r}: the task(s) {names} have no parameter {name!r}; "
                        f"accepted: {accepted}"
                    )
                hint = hints[0]
        elif table == "rule":
            rule_names = [
                v for v in grid.get("rule", grid.get("rule.name", [base["rule"]["name"]]))
            ]
            if name in ("name", "feedback"):
                hint = str
            else:
                known = {f.name for r in rule_names if r in RULES for f in fields(RULES[r])}
                if name not in known:
                    raise ValueError(
                        f"grid key {key!r} is not an option of the rule(s) {rule_names}; "
                        f"accepted: {sorted(known) or 'none'}"
                    )
                hint = Any
        else:
            cls = SECTIONS[table]
            accepted = [f.name for f in fields(cls)]
            if name not in accepted:
                raise ValueError(
                    f"grid key {key!r} is not a key of [{table}]; accepted: {accepted}"
                )
            hint = _hint(cls, name)
        for v in values:
            if isinstance(v, np.generic):
                v = v.item()
            if hint is not None and hint is not Any and not _type_ok(v, hint):
                raise ValueError(
                    f"grid[{key!r}] values must be {_type_name(hint)}; "
                    f"got {v!r} ({type(v).__name__})"
                )
            known = _NAMED.get(full)
            if known is not None and v is not None and v not in known():
                raise ValueError(
                    f"grid[{key!r}] has {v!r}, which is not one of {sorted(known())}: every run "
                    "of it would fail"
                )
        out[full] = [v.item() if isinstance(v, np.generic) else v for v in values]
    return out


def _named_feedbacks():
    from .rules.feedback import FEEDBACKS

    return FEEDBACKS


def _named_optimizers():
    from .optim import OPTIMIZERS

    return OPTIMIZERS


#: grid keys whose values are names, and where the known names are
_NAMED = {
    "rule.name": lambda: RULES,
    "rule.feedback": _named_feedbacks,
    "task.name": lambda: TASKS,
    "optimizer.name": _named_optimizers,
}


def _check_seeds(seeds: Any) -> list[int]:
    seeds = list(seeds)
    if not seeds or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in seeds
    ):
        raise ValueError(f"seeds must be a non-empty list of non-negative ints; got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct; got {seeds!r}")
    return [int(s) for s in seeds]


def plan(
    preset: str | os.PathLike | Preset, grid: Mapping[str, Sequence[Any]], seeds: Sequence[int]
) -> list[RunSpec]:
    """Every run of the sweep, in grid order then seed order."""
    base_preset = preset if isinstance(preset, Preset) else load_preset(preset)
    base = _toml_layout(base_preset)
    checked = _check_grid(base, grid)
    if any("rule.name" in k.split(",") for k in checked) and not any(
        "rule.feedback" in k.split(",") for k in checked
    ):
        base["rule"]["feedback"] = None  # the preset's feedback belongs to its own rule
    seeds = _check_seeds(seeds)
    keys = list(checked)
    specs = []
    for combo in itertools.product(*(checked[k] for k in keys)):
        for seed in seeds:
            config = json.loads(json.dumps(base))
            for k, v in zip(keys, combo):
                for part, value in zip(k.split(","), v if "," in k else (v,)):
                    _set(config, part, value)
            config["training"]["seed"] = seed
            blob = json.dumps(_identity(config), sort_keys=True)
            run_id = hashlib.sha1(blob.encode()).hexdigest()[:16]
            specs.append(RunSpec(run_id, dict(zip(keys, combo)), seed, config))
    return specs


# --------------------------------------------------------------------------------- one run
def run_one(spec_json: str, out_dir: str) -> dict[str, Any]:
    """Train one run (on a worker): configuration in, ``out_dir/<run-id>.nc`` out.

    Finished runs are left alone, interrupted ones resumed.  Returns a small summary; errors
    are caught and returned, so one bad run never stops the others.
    """
    spec = json.loads(spec_json)
    path = Path(out_dir) / f"{spec['run_id']}.nc"
    t0 = time.perf_counter()
    try:
        # a diverged run warns; its status and message are in the file, which is what counts
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            if path.exists():
                from .training import resume

                ds = load(path)
                if ds.attrs.get("status") not in ENDED:
                    ds = resume(path, progress=False)
            else:
                ds = run(parse(spec["config"]), out=path, progress=False)
        return {
            "run_id": spec["run_id"],
            "status": ds.attrs["status"],
            "error": ds.attrs.get("message", ""),
            "seconds": time.perf_counter() - t0,
        }
    except Exception as exc:  # recorded, not raised: the sweep goes on
        # The file is what counts: training saves before it warns, and warning filters are
        # process-wide (a worker thread's catch_warnings can be undone by another's), so an
        # error raised after a saved ending reports that ending.
        saved = _saved_ending(path)
        if saved is not None:
            return {
                "run_id": spec["run_id"],
                "status": saved[0],
                "error": saved[1],
                "seconds": time.perf_counter() - t0,
            }
        return {
            "run_id": spec["run_id"],
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}",
            "seconds": time.perf_counter() - t0,
        }


def _saved_ending(path: Path) -> tuple[str, str] | None:
    """(status, message) of a run file that ended (complete or diverged), else None."""
    try:
        attrs = load(path).attrs if path.exists() else {}
    except Exception:  # an unreadable file is no ending
        return None
    if attrs.get("status") in ENDED:
        return attrs["status"], attrs.get("message", "")
    return None


# --------------------------------------------------------------------------------- the sweep
def _client(scheduler: str, n_workers: int | None, timeout: float):
    from distributed import Client, LocalCluster

    if scheduler in ("local", "threads"):
        workers = n_workers or os.cpu_count() or 1
        processes = scheduler == "local"
        try:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=processes,
                dashboard_address=None,
                **({"host": "127.0.0.1"} if processes else {}),  # threads talk in-process
            )
        except RuntimeError as exc:
            raise RuntimeError(
                f"the local dask cluster did not start ({str(exc).splitlines()[0]}). In a "
                "script, put the sweep call under  if __name__ == '__main__':  (the workers "
                "re-import the script); or use scheduler='threads' or None"
            ) from exc
        return Client(cluster), cluster
    if isinstance(scheduler, str) and scheduler.startswith(("tcp://", "tls://", "inproc://")):
        try:
            return Client(scheduler, timeout=timeout), None
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(
                f"cannot reach the dask scheduler at {scheduler} within {timeout:g} s ({exc}); "
                "check the address, or use scheduler='local' for this machine"
            ) from exc
    raise ValueError(
        f"scheduler must be None, 'local', 'threads' or a scheduler address 'tcp://host:port'; "
        f"got {scheduler!r}"
    )


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def sweep(
    preset: str | os.PathLike | Preset,
    grid: Mapping[str, Sequence[Any]],
    seeds: Sequence[int] = (0,),
    out_dir: str | os.PathLike = "runs",
    scheduler: str | None = "local",
    *,
    n_workers: int | None = None,
    timeout: float = 10.0,
    progress: bool | None = None,
) -> xr.Dataset:
    """Run a preset over a grid × seeds and combine the runs (module docstring).

    Parameters
    ----------
    preset: a TOML preset (path) or a :class:`~bioplastic.config.Preset`.
    grid: ``{key: [values]}`` with keys ``"table.key"`` (``"task.period"``,
        ``"training.n_trials"``, ``"rule.truncation"``…) or ``"rule"``, ``"feedback"``.
    seeds: the seeds of each grid point (``training.seed``, which also seeds the network).
    out_dir: the folder of the run files, ``failures.json``, ``sweep.json`` and ``combined.nc``.
    scheduler: ``"local"``, ``"threads"``, ``"tcp://host:port"`` or None (serial).
    n_workers: workers of a local cluster (default: one per core).
    timeout: seconds to wait for a remote scheduler before giving up with an error.
    progress: print done / failed / pending as runs end (default: on a terminal).

    Changing the rule in the grid (``"rule"``) resets the feedback to each rule's default
    (random for RFLO, ``W_outᵀ`` for the others) unless the grid sets ``"feedback"`` too: the
    preset's feedback belongs to the preset's rule.

    A script that calls ``sweep`` with a local cluster must do so under
    ``if __name__ == "__main__":``; the workers start by re-importing it.
    """
    if scheduler == "local":
        _check_main_guard()
    specs = plan(preset, grid, seeds)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keys = list(specs[0].point)
    _write_json(
        out / "sweep.json",
        {
            # each key's values in the grid's order (the combined dataset keeps it)
            "grid": {k: list(dict.fromkeys(json.dumps(s.point[k]) for s in specs)) for k in keys},
            "keys": keys,
            "seeds": sorted({s.seed for s in specs}),
            "runs": {s.run_id: {"point": s.point, "seed": s.seed} for s in specs},
        },
    )
    done = {s.run_id for s in specs if _ended(out / f"{s.run_id}.nc")}
    todo = [s for s in specs if s.run_id not in done]
    failures = _read_failures(out)
    for rid in done:  # a run that now ended well is no longer a failure
        if rid in failures and failures[rid]["status"] == "failed":
            del failures[rid]
    show = progress if progress is not None else sys.stderr.isatty()
    counts = {"done": len(done), "failed": 0, "pending": len(todo)}

    def record(result: dict[str, Any]) -> None:
        counts["pending"] -= 1
        spec = by_id[result["run_id"]]
        if result["status"] == "complete":
            counts["done"] += 1
            failures.pop(result["run_id"], None)
        else:
            counts["failed"] += 1
            failures[result["run_id"]] = {
                "point": spec.point,
                "seed": spec.seed,
                "status": result["status"],
                "error": result["error"],
            }
        _write_json(out / "failures.json", failures)
        if show:
            line = f"{counts['done']} done, {counts['failed']} failed, {counts['pending']} pending"
            tty = sys.stderr.isatty()  # a pipe or a log file gets whole lines, not \r updates
            print(
                ("\r" if tty else "") + line, end="" if tty else "\n", file=sys.stderr, flush=True
            )

    by_id = {s.run_id: s for s in specs}
    if scheduler is None:
        for s in todo:
            result = run_one(s.to_json(), str(out))
            record(result)
            if result["status"] == "interrupted":
                # Ctrl-C or SIGTERM: training saved the run as it was; stop the sweep here
                _write_json(out / "failures.json", failures)
                raise KeyboardInterrupt(
                    f"sweep interrupted during run {s.run_id}; run it again to resume"
                )
    elif todo:
        from distributed import as_completed

        client, cluster = _client(scheduler, n_workers, timeout)
        try:
            futures = [
                client.submit(
                    run_one,
                    s.to_json(),
                    str(out.resolve()),
                    key=f"bioplastic-{s.run_id}",
                    pure=False,
                )
                for s in todo
            ]
            id_of = {f.key: s.run_id for f, s in zip(futures, todo)}
            for fut in _completed(as_completed(futures), client, futures):
                try:
                    record(fut.result())
                except Exception as exc:  # the worker died (KilledWorker) or similar
                    record(
                        {
                            "run_id": id_of[fut.key],
                            "status": "failed",
                            "error": f"{type(exc).__name__}: {exc}",
                        }
                    )
        finally:
            _close_quietly(client, cluster)
    if show and sys.stderr.isatty():
        print(file=sys.stderr)
    _write_json(out / "failures.json", failures)
    ds = combine(out)
    save(ds, out / "combined.nc")
    return ds


def _completed(results, client, futures):
    """The futures as they complete; on Ctrl-C, cancel the rest and stop with one line."""
    try:
        yield from results
    except KeyboardInterrupt:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client.cancel(futures)
        raise KeyboardInterrupt(
            "sweep interrupted: the finished runs are saved; run the sweep again to go on"
        ) from None


def _close_quietly(client, cluster) -> None:
    """Close the client and the local cluster without dask's shutdown warnings and logs."""
    import logging

    loggers = [logging.getLogger(n) for n in ("distributed", "tornado", "asyncio")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client.close()
            if cluster is not None:
                cluster.close()
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _check_main_guard() -> None:
    """A local cluster's workers are new processes that import the ``__main__`` module; a
    script whose ``sweep(...)`` call is not under ``if __name__ == "__main__":`` would start
    another cluster from each of them.  Say so, instead of dask's traceback."""
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        raise RuntimeError(
            "bioplastic.sweep(..., scheduler='local') was called while a worker process was "
            "starting: put the sweep call in your script under  if __name__ == '__main__':  "
            "(dask's workers re-import the script), or use scheduler='threads' or None"
        )


def _ended(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        return load(path).attrs.get("status") in ENDED
    except Exception:  # an unreadable file (a crash mid-write cannot leave one; be safe)
        return False


def _read_failures(out: Path) -> dict[str, Any]:
    f = out / "failures.json"
    return json.loads(f.read_text()) if f.exists() else {}


def combine(out_dir: str | os.PathLike) -> xr.Dataset:
    """The runs of a sweep folder as one Dataset with a dimension per grid key and ``seed``.

    Runs that failed or have not ended are present with ``status`` and NaN data.
    """
    out = Path(out_dir)
    meta = json.loads((out / "sweep.json").read_text())
    keys = meta["keys"]
    failures = _read_failures(out)
    loaded: dict[str, xr.Dataset] = {}
    states: dict[str, str] = {}
    for rid in meta["runs"]:
        path = out / f"{rid}.nc"
        if path.exists():
            ds = load(path).drop_encoding()  # no "coordinates" hints from the run files
            states[rid] = ds.attrs.get("status", "running")
            ds = ds.reset_coords()  # non-index coordinates are per run: make them variables
            ds = ds.assign_coords(
                {d: np.arange(n) for d, n in ds.sizes.items() if d not in ds.coords}
            )
            ds = ds.drop_vars([v for v in ds.data_vars if ds[v].dtype.kind in "OSU"])
            ds.attrs = {}
            for v in ds.data_vars:  # NaN fills need floats
                if ds[v].dtype.kind in "iub":
                    ds[v] = ds[v].astype(float)
            loaded[rid] = ds
        else:
            states[rid] = failures.get(rid, {}).get("status", "missing")
    template = next(iter(loaded.values()), xr.Dataset())
    parts, index_rows = [], []
    for i, (rid, info) in enumerate(meta["runs"].items()):
        ds = loaded.get(rid)
        if ds is None:  # a failed or missing run: NaN in the shape of a finished one
            ds = xr.full_like(template, np.nan, dtype=float)
        ds = ds.expand_dims(run=[i])
        ds["status"] = ("run", [states[rid]])
        ds["error"] = ("run", [failures.get(rid, {}).get("error", "")])
        ds["run_id"] = ("run", [rid])
        parts.append(ds)
        index_rows.append([_label(info["point"][k]) for k in keys] + [info["seed"]])
    combined = xr.concat(
        parts,
        dim="run",
        join="outer",
        data_vars="all",
        coords="minimal",
        combine_attrs="drop",
        fill_value=np.nan,
    )
    for name in ("status", "error", "run_id"):
        combined[name] = combined[name].astype(str)
    names = [_dim(k) for k in keys] + ["seed"]
    index = pd.MultiIndex.from_arrays([list(c) for c in zip(*index_rows)], names=names)
    combined = combined.assign_coords(xr.Coordinates.from_pandas_multiindex(index, "run"))
    combined = combined.unstack("run").transpose(*names, ...)
    # unstack sorts each dimension's labels; put them back in the order of the grid
    order = {_dim(k): [_label(json.loads(v)) for v in meta["grid"][k]] for k in keys}
    combined = combined.reindex(order)
    for name in ("status", "error", "run_id"):
        combined[name] = combined[name].fillna("missing" if name == "status" else "").astype(str)
    combined.attrs = {
        "grid": json.dumps({_dim(k): k for k in keys}),
        "seeds": json.dumps(meta["seeds"]),
        "n_runs": len(meta["runs"]),
        "n_complete": int((combined["status"] == "complete").sum()),
    }
    return combined


def _dim(key: str) -> str:
    """The dimension name of a grid key: ``task.period`` → ``task_period``; keys that move
    together, ``task.t1,task.t2`` → ``task_t1__task_t2``."""
    return key.replace(".", "_").replace(",", "__")


def _label(v: Any) -> Any:
    """A grid value as a coordinate label (lists and tables become their JSON text)."""
    return v if isinstance(v, (str, int, float, bool)) else json.dumps(v)


def status(out_dir: str | os.PathLike) -> dict[str, Any]:
    """How the runs of a sweep folder stand: counts and each run's status."""
    out = Path(out_dir)
    meta_file = out / "sweep.json"
    if not meta_file.exists():
        raise FileNotFoundError(f"{str(out)!r} holds no sweep (no sweep.json)")
    meta = json.loads(meta_file.read_text())
    failures = _read_failures(out)
    runs = {}
    for rid, info in meta["runs"].items():
        path = out / f"{rid}.nc"
        if path.exists():
            st = load(path).attrs.get("status", "running")
        else:
            st = failures.get(rid, {}).get("status", "pending")
        runs[rid] = {**info, "status": st}
    counts: dict[str, int] = {}
    for r in runs.values():
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return {"keys": meta["keys"], "seeds": meta["seeds"], "counts": counts, "runs": runs}
