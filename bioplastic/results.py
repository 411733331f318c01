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
from pathlib import Path
from typing import Any

import xarray as xr

__all__ = ["save", "load", "STATUSES"]

STATUSES = ("running", "complete", "diverged", "interrupted")


def save(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to ``path`` (netCDF-4 via h5netcdf) atomically.

    The data go to a temporary file in the same folder, which is flushed to disk and then
    renamed over ``path``: a reader (or a crash) never sees a half-written file.
    """
    path = Path(path)
    if path.suffix != ".nc":
        raise ValueError(f"path must end in .nc; got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
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


def load(path: str | os.PathLike) -> xr.Dataset:
    """Read a results file fully into memory (no pickle is involved at any point)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {str(path)!r}")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


def config_of(ds: xr.Dataset) -> dict[str, Any]:
    """The run configuration stored in a results Dataset."""
    if "config" not in ds.attrs:
        raise ValueError("this Dataset has no 'config' attribute: it is not a bioplastic run")
    return json.loads(ds.attrs["config"])
