"""The benchmark scripts still run and print whole tables (they are measured by hand, never
timed here: only the tables' shape and that every number in them is finite is checked; a
difference of two timings may come out negative on a busy machine)."""

import math
import re
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
        ("bench_peers.py", "## The online step"),
        ("bench_structure.py", "## columnar RTRL"),
        ("bench_analysis.py", "## Fixed points"),
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
    tables = _tables(r.stdout)
    assert tables, "no table printed"
    for header, rows in tables:
        assert rows, f"a table with no rows: {header}"
        for row in rows:
            assert len(row) == len(header), (header, row)
            numbers = [
                float(v.replace(",", ""))
                for cell in row[:1] + row[1:]
                for v in re.findall(r"[-+]?[\d,]*\.?\d+(?:e[-+]?\d+)?", cell)
            ]
            assert numbers and all(math.isfinite(v) for v in numbers), row


def _tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Markdown tables: (header cells, rows of cells)."""
    lines = [ln.strip() for ln in text.splitlines()]
    out = []
    for i, ln in enumerate(lines):
        if ln.startswith("|---") and i > 0:
            header = [c.strip() for c in lines[i - 1].strip("|").split("|")]
            rows = []
            for row in lines[i + 1 :]:
                if not row.startswith("|"):
                    break
                rows.append([c.strip() for c in row.strip("|").split("|")])
            out.append((header, rows))
    return out
