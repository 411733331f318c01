"""Results files: atomic netCDF writes, exact round trips, readable by plain xarray."""

import json
import os

import numpy as np
import pytest
import xarray as xr

import bioplastic as bp
from bioplastic.optim import Adam
from bioplastic.tasks import PeriodicOutput


@pytest.fixture(scope="module")
def run():
    net = bp.LeakyRNN.random(1, 6, 1, tau=5.0, seed=0, exc_fraction=0.5)
    return bp.train(
        net,
        PeriodicOutput(period=2.0, tau=5.0),
        "rflo",
        optimizer=Adam(lr=1e-3),
        n_trials=12,
        eval_every=4,
        align_with="bptt",
        feedback="adaptive",
        seed=1,
    )


def test_round_trip_keeps_every_variable_and_attribute(run, tmp_path):
    path = bp.save(run, tmp_path / "run.nc")
    back = bp.load(path)
    xr.testing.assert_identical(run, back)
    for k in run.data_vars:
        assert back[k].dtype == run[k].dtype, k
    assert json.loads(back.attrs["config"])["training"]["rule"] == "rflo"
    plain = xr.open_dataset(path)  # no engine given, no pickle involved
    np.testing.assert_array_equal(plain.loss.values, run.loss.values)
    plain.close()


def test_save_is_atomic(run, tmp_path):
    path = tmp_path / "run.nc"
    bp.save(run, path)
    before = path.read_bytes()
    bad = run.copy()
    bad.attrs["unstorable"] = {"a": 1}  # netCDF cannot hold a dict: the write fails
    with pytest.raises(Exception):
        bp.save(bad, path)
    assert path.read_bytes() == before  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["run.nc"]  # and no temp file is left


def test_a_save_that_fails_in_the_middle_of_the_write_loses_nothing(run, tmp_path):
    """The write fails after part of the file is written (a variable that raises when it is
    computed, as a full disk or a killed process would): the old file is intact."""
    import dask
    import dask.array as da

    path = tmp_path / "run.nc"
    bp.save(run, path)
    before = path.read_bytes()

    def boom():
        raise OSError("disk full, half-way through the write")

    bad = run.copy()
    bad["zz_last"] = ("zz", da.from_delayed(dask.delayed(boom)(), shape=(3,), dtype=float))
    with pytest.raises(OSError, match="half-way"):
        bp.save(bad, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.nc"]


def test_a_loaded_run_is_in_memory_and_does_not_follow_the_file(run, tmp_path):
    """load() reads everything: a checkpoint that later replaces the file (or deletes it)
    does not change a Dataset already loaded."""
    path = tmp_path / "run.nc"
    bp.save(run, path)
    ds = bp.load(path)
    other = run.copy(deep=True)
    other["loss"] = other["loss"] * 0 + 123.0
    bp.save(other, path)
    np.testing.assert_array_equal(ds["loss"].values, run["loss"].values)
    path.unlink()
    np.testing.assert_array_equal(ds["W_rec"].values, run["W_rec"].values)


def test_save_and_load_errors(run, tmp_path):
    with pytest.raises(ValueError, match=r"path must end in .nc; got '.*run.csv'"):
        bp.save(run, tmp_path / "run.csv")
    with pytest.raises(FileNotFoundError, match="no results file at"):
        bp.load(tmp_path / "missing.nc")
    bp.save(run, tmp_path / "sub" / "dir" / "run.nc")  # folders are created
    assert os.path.exists(tmp_path / "sub" / "dir" / "run.nc")


def test_saved_files_get_ordinary_permissions(run, tmp_path):
    path = bp.save(run, tmp_path / "run.nc")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
