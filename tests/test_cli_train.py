"""`bioplastic train / info / plot`, and what a signal does to a running training."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import bioplastic as bp
from bioplastic.cli import main

PRESET = str(Path(__file__).resolve().parent.parent / "models" / "murray2019_periodic.toml")
SMALL = ["--set", "network.n_rec=8", "--set", "task.period=3", "--set", "training.eval_every=20"]


def test_train_info_plot(tmp_path, capsys):
    out = tmp_path / "run.nc"
    code = main(
        [
            "train",
            PRESET,
            "--rule",
            "bptt",
            "--seed",
            "3",
            "--out",
            str(out),
            "--no-progress",
            "--set",
            "training.n_trials=40",
            *SMALL,
        ]
    )
    assert code == 0
    assert out.exists() and out.with_suffix(".png").exists()
    ds = bp.load(out)
    assert ds.attrs["status"] == "complete" and ds.attrs["rule"] == "bptt" and ds.attrs["seed"] == 3
    assert "complete: 40 trials" in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "status:   complete" in text and "cosine with bptt" in text and "rule:     bptt" in text
    png = tmp_path / "again.png"
    assert main(["plot", str(out), "--out", str(png)]) == 0 and png.stat().st_size > 10_000


def test_train_reports_bad_input(tmp_path, capsys):
    assert (
        main(["train", PRESET, "--set", "network.n_recc=3", "--out", str(tmp_path / "r.nc")]) == 2
    )
    assert "[network] has unknown key(s) ['n_recc']" in capsys.readouterr().err
    assert main(["train"]) == 2
    assert main(["info", str(tmp_path / "missing.nc")]) == 2
    assert main(["train", "--resume", str(tmp_path / "r.nc"), "--rule", "bptt"]) == 2


def test_a_diverging_run_exits_1_and_is_saved(tmp_path, capsys):
    """The CLI reports the divergence itself, once (not as a warning too)."""
    out = tmp_path / "run.nc"
    args = ["--set", "optimizer.lr=1e6", "--set", "training.n_trials=50"]
    code = main(["train", PRESET, "--out", str(out), "--no-progress", *SMALL, *args])
    assert code == 1 and bp.load(out).attrs["status"] == "diverged"
    assert capsys.readouterr().err.count("training diverged") == 1


def cli(*args):
    return [sys.executable, "-m", "bioplastic.cli", *args]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_the_run_and_resume_finishes_it_identically(tmp_path, sig):
    args = [
        "train",
        PRESET,
        "--no-progress",
        *SMALL,
        "--set",
        "training.n_trials=3000",
        "--set",
        "training.checkpoint_every=300",
        "--set",
        "training.align_with='bptt'",
    ]
    out = tmp_path / "run.nc"
    proc = subprocess.Popen(
        cli(*args, "--out", str(out)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    while not out.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    part = bp.load(out)
    assert part.attrs["status"] == "interrupted", stdout
    assert 0 < part.sizes["trial"] < 3000
    assert "interrupted" in stdout

    resumed = subprocess.run(
        cli("train", "--resume", str(out), "--no-progress"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    whole = tmp_path / "whole.nc"
    ref = subprocess.run(
        cli(*args, "--out", str(whole)), capture_output=True, text=True, timeout=300
    )
    assert ref.returncode == 0, ref.stderr
    a, b = bp.load(out), bp.load(whole)
    assert a.attrs["status"] == "complete" and a.sizes["trial"] == 3000
    for k in b.data_vars:
        np.testing.assert_array_equal(a[k].values, b[k].values, err_msg=k)


def test_a_run_interrupted_before_its_first_update_still_plots(tmp_path):
    import dataclasses

    from bioplastic.plotting import plot_run
    from bioplastic.tasks import PeriodicOutput

    @dataclasses.dataclass
    class StopAtFirstUpdate:
        calls: int = 0
        name = "periodic"
        n_in = 1
        n_out = 1

        def sample(self, n, rng=None):
            self.calls += 1
            if self.calls == 2:  # call 1 made the held-out trials
                raise KeyboardInterrupt
            return PeriodicOutput(period=3.0, tau=5.0).sample(n, rng)

    ds = bp.train(
        bp.LeakyRNN.random(1, 4, 1, tau=5.0),
        StopAtFirstUpdate(),
        "rflo",
        n_trials=5,
        align_with="bptt",
    )
    assert ds.attrs["status"] == "interrupted" and ds.sizes["trial"] == 0
    assert plot_run(ds, tmp_path / "r.png").stat().st_size > 1000
