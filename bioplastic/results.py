"""Results on disk: netCDF through h5netcdf, written atomically, read without unpickling.

A training run is one :class:`xarray.Dataset` (schema in :mod:`bioplastic.training`).  Its attrs
carry provenance: the package and numpy versions, the full configuration as JSON, the seed, the
creation time, and a ``status`` of ``"running"``, ``"complete"``, ``"diverged"`` or
``"interrupted"``.  ``xr.open_dataset(path)`` reads the same file.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import xarray as xr

__all__ = ["save", "load", "config_of", "output_lock", "ResultsFileError", "STATUSES"]

STATUSES = ("running", "complete", "diverged", "interrupted")


class ResultsFileError(ValueError):
    """A file that is not a readable bioplastic run: damaged, empty, foreign, or locked.

    The message names the file and what is wrong with it, in one line; the command line
    prints it and exits with code 3.
    """


def save(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to ``path`` (netCDF-4 via h5netcdf) atomically.

    The data go to a temporary file in the same folder, which is flushed to disk and then
    renamed over ``path``: a reader (or a crash) never sees a half-written file.
    """
    path = Path(path)
    if path.suffix != ".nc":
        raise ValueError(f"path must end in .nc; got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    # a unique name in the same folder (so the rename is atomic), created by the writer with the
    # process's ordinary file permissions
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        ds.to_netcdf(tmp, engine="h5netcdf")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    return path


def _remove_stale_temporaries(path: Path) -> None:
    """Delete the temporary files that a killed save left next to ``path`` (their writer's
    process is gone); a live writer's file is left alone."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        parts = tmp.name[len(path.name) + 2 :].split(".")
        pid = int(parts[0]) if parts and parts[0].isdigit() else None
        if pid is not None and pid != os.getpid() and not _alive(pid):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to someone else
        return True
    return True


def load(path: str | os.PathLike) -> xr.Dataset:
    """Read a results file fully into memory (no pickle is involved at any point).

    Raises :class:`FileNotFoundError` for a missing file and :class:`ResultsFileError` for a
    file that is not a readable netCDF-4 file (truncated, empty, another format).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {str(path)!r}")
    if path.stat().st_size == 0:
        raise ResultsFileError(f"{path}: the file is empty (a run is saved as netCDF-4)")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            return ds.load()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ResultsFileError(
            f"{path}: not a readable netCDF-4 results file ({first}); it may be truncated, "
            "still being written, or of another format"
        ) from exc


def config_of(ds: xr.Dataset, path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The run configuration stored in a results Dataset (its ``config`` attribute)."""
    where = f"{path}: " if path is not None else ""
    if "config" not in ds.attrs:
        raise ResultsFileError(
            f"{where}no 'config' attribute: this is a netCDF file, but not a bioplastic run"
        )
    try:
        cfg = json.loads(ds.attrs["config"])
    except (TypeError, json.JSONDecodeError) as exc:
        raise ResultsFileError(f"{where}the 'config' attribute is not valid JSON ({exc})") from exc
    if not isinstance(cfg, dict) or not {"training", "task", "network"} <= set(cfg):
        raise ResultsFileError(
            f"{where}the 'config' attribute lacks the training, task and network tables of a run"
        )
    return cfg


@contextmanager
def output_lock(path: str | os.PathLike) -> Iterator[Path]:
    """Hold ``path.lock`` while a run writes ``path``: a second writer gets a clear error.

    The lock file holds the writer's process id; a lock whose process is gone (killed) is
    taken over.
    """
    lock = Path(path).with_name(Path(path).name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and pid != os.getpid() and _alive(pid):
                raise ResultsFileError(
                    f"{path}: another process (pid {pid}) is writing this run; wait for it to "
                    "end, or write to another file"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its writer is gone
    else:
        raise ResultsFileError(f"{path}: cannot take the lock {lock}")
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)
