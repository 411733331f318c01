"""The benchmark scripts still run (they are measured by hand, never timed here)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize(
    "script, expect",
    [
        ("bench_exact.py", "## RTRL"),
        ("bench_rules.py", "| n | run (ms) | bptt |"),
        ("bench_train.py", "| rflo |"),
        ("bench_brian2.py", "| dt/τ | discrete model"),
    ],
)
def test_benchmark_runs_quick(script, expect):
    r = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert expect in r.stdout
