"""Sweeps on dask.distributed: one dataset, resumable, fault-tolerant (LocalCluster on loopback)."""

import dataclasses
import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import bioplastic as bp
from bioplastic import sweeps as sweep_mod
from bioplastic.cli import main
from bioplastic.config import load_preset
from bioplastic.sweeps import plan, status, sweep

PRESET_FILE = Path(__file__).resolve().parent.parent / "models" / "murray2019_periodic.toml"
SMALL = [
    "training.n_trials=30",
    "network.n_rec=6",
    "training.eval_every=10",
    "training.align_with='rtrl'",
]
GRID = {"rule": ["bptt", "rflo"], "task.period": [2.0, 3.0]}


def preset(*extra):
    return load_preset(PRESET_FILE, [*SMALL, *extra])


def same_data(a: xr.Dataset, b: xr.Dataset) -> None:
    assert set(a.data_vars) == set(b.data_vars)
    for v in a.data_vars:
        if v == "error":
            continue
        xr.testing.assert_identical(a[v], b[v])


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    grid = {**GRID, "task.period": [2.0, 3.0, 0.01]}  # 0.01τ is too short a trial: it fails
    return out, sweep(preset(), grid, seeds=[0, 1], out_dir=out, scheduler=None)


def test_one_labelled_dataset(serial):
    out, ds = serial
    assert ds.status.dims == ("rule_name", "task_period", "seed")
    assert list(ds.rule_name.values) == ["bptt", "rflo"] and list(ds.seed.values) == [0, 1]
    assert list(ds.task_period.values) == [2.0, 3.0, 0.01]  # the grid's order, not sorted
    assert ds.loss.dims[:3] == ("rule_name", "task_period", "seed")
    st = ds.status.sel(task_period=[2.0, 3.0])
    assert (st == "complete").all()
    assert (ds.status.sel(task_period=0.01) == "failed").all()
    assert ds.loss.sel(task_period=0.01).isnull().all()
    assert "too short" in str(ds.error.sel(rule_name="bptt", task_period=0.01, seed=0).item())
    # each run file is the run itself
    spec = plan(preset(), {"rule": ["rflo"], "task.period": [3.0]}, [1])[0]
    run = bp.load(out / f"{spec.run_id}.nc")
    np.testing.assert_array_equal(
        run.loss.values, ds.loss.sel(rule_name="rflo", task_period=3.0, seed=1).values
    )
    failures = json.loads((out / "failures.json").read_text())
    assert len(failures) == 4 and all(f["point"]["task.period"] == 0.01 for f in failures.values())
    lazy = xr.open_mfdataset(out / "combined.nc")
    assert type(lazy.loss.data).__module__.startswith("dask")
    same_data(lazy.load(), ds)
    assert status(out)["counts"] == {"complete": 8, "failed": 4}


def test_run_ids_are_stable_hashes_of_config_and_seed():
    a = plan(preset(), GRID, [0, 1])
    b = plan(preset(), dict(reversed(list(GRID.items()))), [1, 0])
    assert {s.run_id for s in a} == {s.run_id for s in b}
    assert len({s.run_id for s in a}) == 8
    c = plan(preset("training.n_trials=31"), GRID, [0, 1])
    assert not {s.run_id for s in a} & {s.run_id for s in c}


def test_a_new_option_left_at_its_default_keeps_every_cached_run_id(monkeypatch):
    """Adding a field with a default to a config section must not orphan finished runs."""
    before = [s.run_id for s in plan(preset(), GRID, [0])]
    real = sweep_mod._toml_layout

    def with_new_option(p):
        layout = real(p)
        layout["training"]["brand_new_option"] = "its default"
        return layout

    monkeypatch.setattr(sweep_mod, "_toml_layout", with_new_option)
    defaults = sweep_mod._defaults()
    monkeypatch.setattr(
        sweep_mod,
        "_defaults",
        lambda: {
            **defaults,
            "training": {**defaults["training"], "brand_new_option": "its default"},
        },
    )
    assert [s.run_id for s in plan(preset(), GRID, [0])] == before
    # the same option set away from its default is a different run
    monkeypatch.setattr(
        sweep_mod,
        "_defaults",
        lambda: {**defaults, "training": {**defaults["training"], "brand_new_option": "other"}},
    )
    assert not set(before) & {s.run_id for s in plan(preset(), GRID, [0])}


def test_rerun_skips_finished_runs_and_resumes_an_interrupted_sweep(tmp_path, serial, monkeypatch):
    _, reference = serial
    grid = {**GRID, "task.period": [2.0, 3.0, 0.01]}
    calls = []
    real = sweep_mod.run_one

    def interrupted(spec_json, out_dir):
        calls.append(json.loads(spec_json)["run_id"])
        if len(calls) == 5:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the sweep
        return real(spec_json, out_dir)

    monkeypatch.setattr(sweep_mod, "run_one", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep(preset(), grid, seeds=[0, 1], out_dir=tmp_path, scheduler=None)
    finished = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.nc")}
    assert len(finished) == 4  # the first four runs (bptt, periods 2 and 3)
    calls.clear()
    monkeypatch.setattr(sweep_mod, "run_one", lambda s, o: (calls.append(s), real(s, o))[1])
    again = sweep(preset(), grid, seeds=[0, 1], out_dir=tmp_path, scheduler=None)
    assert len(calls) == 12 - 4  # the finished runs were not redone
    for name, mtime in finished.items():
        assert (tmp_path / name).stat().st_mtime_ns == mtime
    same_data(again, reference)


def test_ctrl_c_during_a_real_run_stops_a_serial_sweep_and_the_rerun_finishes_it(
    tmp_path, serial, monkeypatch
):
    """A real SIGINT inside training: that run is saved as interrupted, no later run starts."""
    _, reference = serial
    started = []
    real = sweep_mod.run

    def run_and_press_ctrl_c(preset_, out, progress):
        started.append(out)
        if len(started) == 2:
            timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            preset_ = dataclasses.replace(
                preset_, training=dataclasses.replace(preset_.training, n_trials=10**6)
            )
        return real(preset_, out=out, progress=progress)

    monkeypatch.setattr(sweep_mod, "run", run_and_press_ctrl_c)
    grid = {**GRID, "task.period": [2.0, 3.0, 0.01]}
    with pytest.raises(KeyboardInterrupt, match="run it again to resume"):
        sweep(preset(), grid, seeds=[0, 1], out_dir=tmp_path, scheduler=None)
    assert len(started) == 2
    assert bp.load(started[1]).attrs["status"] == "interrupted"
    assert len(list(tmp_path.glob("*.nc"))) == 2
    monkeypatch.setattr(sweep_mod, "run", real)
    # the interrupted run was asked for 10**6 trials; start it again from its preset
    Path(started[1]).unlink()
    mtime = Path(started[0]).stat().st_mtime_ns
    same_data(sweep(preset(), grid, seeds=[0, 1], out_dir=tmp_path, scheduler=None), reference)
    assert Path(started[0]).stat().st_mtime_ns == mtime  # the finished run was not redone


def test_an_error_after_a_saved_ending_reports_the_file_s_status(tmp_path, monkeypatch):
    """Warning filters are process-wide: a diverged run's warning can escape as an error in
    a worker thread after the file is saved.  The saved status is what is reported."""
    real = sweep_mod.run

    def run_then_raise(preset_, out, progress):
        real(preset_, out=out, progress=progress)
        raise RuntimeWarning("training diverged (escaped as an error)")

    monkeypatch.setattr(sweep_mod, "run", run_then_raise)
    spec = plan(preset(), {"optimizer.lr": [1e6]}, [0])[0]
    result = sweep_mod.run_one(spec.to_json(), str(tmp_path))
    assert result["status"] == "diverged" and "smaller learning rate" in result["error"]
    # with no ended file, the error itself is the record
    spec = plan(preset(), {"optimizer.lr": [1e-4]}, [0])[0]
    monkeypatch.setattr(sweep_mod, "run", lambda *a, **k: (_ for _ in ()).throw(ValueError("x")))
    assert sweep_mod.run_one(spec.to_json(), str(tmp_path))["status"] == "failed"


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    p = preset("training.checkpoint_every=5")
    spec = plan(p, {"rule": ["rflo"]}, [0])[0]
    path = tmp_path / f"{spec.run_id}.nc"
    whole = sweep(p, {"rule": ["rflo"]}, [0], tmp_path / "whole", scheduler=None)
    # leave a half-done run file behind, as a killed worker would
    real_save = bp.training.loop.save

    def save_then_die(ds, target):
        real_save(ds, target)
        if ds.attrs["status"] == "running" and ds.sizes["trial"] >= 15:
            raise KeyboardInterrupt

    monkeypatch.setattr(bp.training.loop, "save", save_then_die)
    try:
        sweep_mod.run_one(spec.to_json(), str(tmp_path))
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(bp.training.loop, "save", real_save)
    assert bp.load(path).attrs["status"] in ("running", "interrupted")
    result = sweep(p, {"rule": ["rflo"]}, [0], tmp_path, scheduler=None)
    same_data(result, whole)


def test_local_cluster_gives_the_serial_result_and_records_failures(tmp_path, serial):
    _, reference = serial
    grid = {**GRID, "task.period": [2.0, 3.0, 0.01]}
    ds = sweep(preset(), grid, seeds=[0, 1], out_dir=tmp_path, scheduler="local", n_workers=2)
    same_data(ds, reference)
    failures = json.loads((tmp_path / "failures.json").read_text())
    assert len(failures) == 4


def test_divergence_is_recorded_and_the_others_complete(tmp_path):
    ds = sweep(
        preset(),
        {"optimizer.lr": [1e-4, 1e6]},
        seeds=[0],
        out_dir=tmp_path,
        scheduler="threads",
        n_workers=2,
    )
    assert ds.status.sel(optimizer_lr=1e-4).item() == "complete"
    assert ds.status.sel(optimizer_lr=1e6).item() == "diverged"
    failures = json.loads((tmp_path / "failures.json").read_text())
    (f,) = failures.values()
    assert f["status"] == "diverged" and "smaller learning rate" in f["error"]


def test_a_killed_worker_loses_no_finished_run(tmp_path):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    )
    client = Client(cluster)
    p = preset("training.n_trials=300", "training.align_with='bptt'")
    result = {}

    def go():
        result["ds"] = sweep(
            p,
            {"rule": ["bptt", "rflo", "eprop", "snap1"]},
            [0, 1],
            tmp_path,
            scheduler=cluster.scheduler_address,
        )

    thread = threading.Thread(target=go)
    thread.start()
    deadline = time.time() + 120
    while time.time() < deadline and not any(
        bp.load(f).attrs.get("status") == "complete" for f in tmp_path.glob("*.nc")
    ):
        time.sleep(0.1)
    before = {f.name for f in tmp_path.glob("*.nc") if bp.load(f).attrs.get("status") == "complete"}
    assert before, "no run finished before the deadline"
    pid = next(iter(client.run(os.getpid).values()))
    os.kill(pid, signal.SIGKILL)  # a worker dies mid-sweep
    thread.join(timeout=300)
    client.close()
    cluster.close()
    ds = result["ds"]
    after = {f.name for f in tmp_path.glob("*.nc") if bp.load(f).attrs.get("status") == "complete"}
    assert before <= after
    # every run either completed (rescheduled on the surviving worker) or is recorded as failed
    assert set(np.unique(ds.status.values)) <= {"complete", "failed"}
    assert int((ds.status == "complete").sum()) == len(after)


@pytest.mark.parametrize(
    "grid, seeds, exc, pattern",
    [
        (
            {"task.perod": [1.0]},
            [0],
            ValueError,
            r"grid key 'task.perod': the task\(s\) \['periodic'\] have no parameter 'perod'",
        ),
        (
            {"training.n_trials": [2.5]},
            [0],
            ValueError,
            r"grid\['training.n_trials'\] values must be an integer; got 2.5",
        ),
        ({"nonsense": [1]}, [0], ValueError, r"grid key 'nonsense' must be table.key"),
        (
            {"training.n_trial": [1]},
            [0],
            ValueError,
            r"grid key 'training.n_trial' is not a key of \[training\]",
        ),
        ({"rule": "bptt"}, [0], TypeError, r"grid\['rule'\] must be a non-empty list of values"),
        (
            {"rule.truncation": [3]},
            [0],
            ValueError,
            r"grid key 'rule.truncation' is not an option of the rule\(s\) \['rflo'\]",
        ),
        (
            {"rule": ["bptt"]},
            [-1],
            ValueError,
            r"seeds must be a non-empty list of non-negative ints",
        ),
    ],
)
def test_bad_grids_name_the_key(tmp_path, grid, seeds, exc, pattern):
    with pytest.raises(exc, match=pattern):
        sweep(preset(), grid, seeds, tmp_path, scheduler=None)


def test_an_unreachable_scheduler_fails_fast(tmp_path):
    t0 = time.time()
    with pytest.raises(
        ConnectionError, match=r"cannot reach the dask scheduler at tcp://127.0.0.1:9 within 2 s"
    ):
        sweep(preset(), {"rule": ["bptt"]}, [0], tmp_path, scheduler="tcp://127.0.0.1:9", timeout=2)
    assert time.time() - t0 < 30


def test_cli_sweep_and_status(tmp_path, capsys):
    code = main(
        [
            "sweep",
            str(PRESET_FILE),
            "--grid",
            "rule=bptt,rflo",
            "--seeds",
            "0:2",
            "--set",
            "training.n_trials=20",
            "--set",
            "network.n_rec=6",
            "--out",
            str(tmp_path),
            "--scheduler",
            "serial",
            "--no-progress",
        ]
    )
    assert code == 0
    assert "4 of 4 runs complete" in capsys.readouterr().out
    assert main(["sweep", "--status", str(tmp_path)]) == 0
    assert "4 complete" in capsys.readouterr().out
    assert main(["sweep", str(PRESET_FILE), "--grid", "rule", "--out", str(tmp_path)]) == 2
    assert main(["sweep", str(PRESET_FILE), "--seeds", "a:b", "--out", str(tmp_path)]) == 2
