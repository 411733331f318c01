"""What a new user hits, held by tests: no lost runs, one clear line for a bad file, the CLI's
own argument forms, a rule's own feedback, stale temporaries, empty presets, a script without
a main guard, and a crafted NeuroGym name."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import bioplastic as bp
from bioplastic.cli import main
from bioplastic.config import load_preset
from bioplastic.results import ResultsFileError, output_lock, save
from bioplastic.sweeps import plan

ROOT = Path(__file__).resolve().parent.parent
PRESET = str(ROOT / "models" / "murray2019_periodic.toml")
SMALL = [
    "--set",
    "network.n_rec=6",
    "--set",
    "task.period=2",
    "--set",
    "training.n_trials=4",
    "--set",
    "training.eval_every=2",
    "--no-progress",
]


def _train(out, *extra):
    return main(["train", PRESET, "--out", str(out), *SMALL, *extra])


def test_train_refuses_to_replace_a_run_unless_asked(tmp_path, capsys):
    out = tmp_path / "run.nc"
    assert _train(out, "--seed", "1") == 0
    before = out.read_bytes()
    assert _train(out, "--seed", "2") == 2
    assert "exists: pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert _train(out, "--seed", "2", "--overwrite") == 0
    assert bp.load(out).attrs["seed"] == 2
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        bp.train(
            bp.LeakyRNN.random(1, 4, 1, tau=5.0),
            bp.tasks.PeriodicOutput(2.0, 5.0),
            n_trials=1,
            out=out,
        )


def test_a_second_writer_gets_a_clear_error_and_a_dead_writer_s_lock_is_taken_over(tmp_path):
    out = tmp_path / "run.nc"
    lock = tmp_path / "run.nc.lock"
    lock.write_text(str(os.getppid()))  # a live process holds it
    task, net = bp.tasks.PeriodicOutput(2.0, 5.0), bp.LeakyRNN.random(1, 4, 1, tau=5.0)
    with pytest.raises(ResultsFileError, match=rf"another process \(pid {os.getppid()}\)"):
        bp.train(net, task, n_trials=1, out=out)
    assert not out.exists()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    lock.write_text(dead)  # its writer was killed
    assert bp.train(net, task, n_trials=1, out=out).attrs["status"] == "complete"
    assert not lock.exists()  # released when the run is saved
    with output_lock(out) as held:
        assert held.read_text() == str(os.getpid())
    assert not held.exists()


def _files(tmp_path):
    """Damaged and foreign files, each with what its one-line error names."""
    good = tmp_path / "good.nc"
    bp.train(
        bp.LeakyRNN.random(1, 4, 1, tau=5.0),
        bp.tasks.PeriodicOutput(2.0, 5.0),
        n_trials=2,
        out=good,
    )
    files = {}
    files["empty"] = tmp_path / "empty.nc"
    files["empty"].write_bytes(b"")
    files["random"] = tmp_path / "random.nc"
    files["random"].write_bytes(np.random.default_rng(0).bytes(5000))
    files["truncated"] = tmp_path / "truncated.nc"
    files["truncated"].write_bytes(good.read_bytes()[:3000])
    files["netcdf3"] = tmp_path / "netcdf3.nc"
    xr.Dataset({"a": ("x", [1.0, 2.0])}).to_netcdf(
        files["netcdf3"], format="NETCDF3_CLASSIC", engine="scipy"
    )
    files["plain xarray"] = tmp_path / "plain.nc"
    xr.Dataset({"a": ("x", [1.0, 2.0])}).to_netcdf(files["plain xarray"], engine="h5netcdf")
    files["config not JSON"] = tmp_path / "badconfig.nc"
    ds = bp.load(good)
    ds.attrs["config"] = "{not json"
    save(ds, files["config not JSON"])
    return files


def test_damaged_and_foreign_files_get_one_clear_line_and_exit_3(tmp_path, capsys):
    for kind, path in _files(tmp_path).items():
        for command in (["info", str(path)], ["plot", str(path)], ["train", "--resume", str(path)]):
            code = main(command)
            err = capsys.readouterr().err.strip()
            assert code == 3, (kind, command, err)
            assert len(err.splitlines()) == 1 and str(path) in err, (kind, command, err)
            assert "Traceback" not in err


def test_the_figure_command_takes_help_and_options_before_the_name(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["figure", "--help"])
    assert exc.value.code == 0 and "murray2019_fig2" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["figure", "--quick", "no_such_figure"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_changing_the_rule_gives_it_its_own_feedback(tmp_path):
    """The periodic preset says feedback = "random" for RFLO; --rule bptt (or a grid over rule)
    must not turn BPTT into Murray's random-feedback ablation."""
    out = tmp_path / "run.nc"
    assert _train(out, "--rule", "bptt") == 0
    ds = bp.load(out)
    np.testing.assert_array_equal(ds.feedback.values, ds.W_out.values.T)
    assert _train(tmp_path / "r.nc", "--rule", "bptt", "--feedback", "random") == 0
    assert not np.array_equal(
        bp.load(tmp_path / "r.nc").feedback, bp.load(tmp_path / "r.nc").W_out.T
    )
    specs = plan(load_preset(PRESET), {"rule": ["bptt", "rflo"]}, [0])
    assert [s.config["rule"]["feedback"] for s in specs] == [None, None]
    specs = plan(load_preset(PRESET), {"rule": ["bptt"], "feedback": ["random"]}, [0])
    assert specs[0].config["rule"]["feedback"] == "random"


def test_a_typo_in_a_grid_is_an_error_before_any_run():
    for key, value in (("rule", "rfol"), ("feedback", "symetric"), ("task.name", "periodical")):
        with pytest.raises(ValueError, match=rf"{value!r}, which is not one of"):
            plan(load_preset(PRESET), {key: [value]}, [0])


def test_stale_temporary_files_are_cleaned_on_the_next_save(tmp_path):
    ds = xr.Dataset({"a": ("x", [1.0])})
    path = tmp_path / "run.nc"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    stale = tmp_path / f".run.nc.{dead}.abc.tmp"
    alive = tmp_path / f".run.nc.{os.getppid()}.def.tmp"
    stale.write_bytes(b"half")
    alive.write_bytes(b"being written")
    save(ds, path)
    assert not stale.exists() and alive.exists() and path.exists()


def test_an_empty_preset_names_what_it_lacks(tmp_path):
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"lacks \[task\] name, \[rule\] name, \[optimizer\] name"):
        load_preset(empty)
    assert main(["train", str(empty), "--out", str(tmp_path / "r.nc")]) == 2


def test_a_diverged_run_reports_its_message_once_and_its_last_held_out_loss(tmp_path, capsys):
    out = tmp_path / "run.nc"
    code = main(
        [
            "train",
            PRESET,
            "--out",
            str(out),
            *SMALL,
            "--set",
            "optimizer.lr=1e6",
            "--set",
            "training.n_trials=50",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("training diverged") == 1
    ds = bp.load(out)
    last = int(ds.trials_seen[-1])
    assert f"at trial {last}" in captured.out and "final held-out" not in captured.out


def test_info_piped_into_head_leaves_no_traceback(tmp_path):
    out = tmp_path / "run.nc"
    assert _train(out) == 0
    r = subprocess.run(
        f"{sys.executable} -m bioplastic.cli info {out} | head -1",
        shell=True,
        capture_output=True,
        text=True,
    )
    assert r.stdout.count("\n") == 1 and "Traceback" not in r.stderr and r.stderr == ""


def test_a_script_without_a_main_guard_is_told_what_to_do(tmp_path):
    script = tmp_path / "my_sweep.py"
    script.write_text(
        textwrap.dedent(f"""
        import bioplastic as bp
        p = bp.config.load_preset({PRESET!r}, ["training.n_trials=2", "network.n_rec=4",
                                   "task.period=2"])
        bp.sweep(p, {{}}, [0], {str(tmp_path / "runs")!r}, "local", n_workers=1)
    """)
    )
    r = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert r.returncode != 0
    assert "if __name__ == '__main__':" in r.stderr


def test_a_crafted_neurogym_name_cannot_import_a_module(monkeypatch):
    from bioplastic.tasks import neurogym

    made = []
    fake = type(
        "ngym",
        (),
        {
            "all_envs": staticmethod(lambda: ["PerceptualDecisionMaking-v0"]),
            "make": staticmethod(lambda name, **kw: made.append(name)),
        },
    )
    monkeypatch.setattr(neurogym, "_neurogym", lambda: fake)
    with pytest.raises(ValueError, match="must be a registered NeuroGym environment"):
        neurogym.NeuroGymTask("os:system")
    assert made == []


def test_help_texts_are_plain(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and ":func:" not in text and "Exit codes" in text
