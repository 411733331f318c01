import subprocess
import sys

from bioplastic.cli import main


def test_check_reports_agreement(capsys):
    assert main(["check", "--units", "5", "--steps", "12"]) == 0
    out = capsys.readouterr().out
    assert "all agree" in out
    assert out.count(" ok") == 4  # rate/current x scalar/per-unit alpha


def test_cli_runs_as_a_module():
    r = subprocess.run(
        [sys.executable, "-m", "bioplastic.cli", "check", "--units", "4", "--steps", "6"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert "|BPTT-RTRL|" in r.stdout


def test_cli_needs_a_command(capsys):
    import pytest

    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "COMMAND" in capsys.readouterr().err
