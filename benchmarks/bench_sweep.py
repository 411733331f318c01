"""Wall time of a sweep on a LocalCluster with 1, 2 and 4 worker processes.

    python benchmarks/bench_sweep.py [--quick]

The sweep: Murray's periodic preset (N = 30, T = 200), 2,000 trials per run, rules
bptt, rflo, eprop and snap1 × 2 seeds = 8 runs.  Each size starts from an empty folder and
includes starting the cluster; the serial time (``scheduler=None``) is the baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from bioplastic.config import load_preset
from bioplastic.sweeps import sweep

PRESET = Path(__file__).resolve().parent.parent / "models" / "murray2019_periodic.toml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 200 if args.quick else 2000
    preset = load_preset(PRESET, [f"training.n_trials={n}", "training.eval_every=500"])
    grid = {"rule": ["bptt", "rflo", "eprop", "snap1"]}
    seeds = [0, 1]
    print(f"{len(grid['rule']) * len(seeds)} runs of {n} trials on {os.cpu_count()} cores")
    print("| workers | wall time (s) | speed-up over serial |")
    print("|---|---|---|")
    base = None
    for workers in (None, 1, 2, 4):
        folder = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
        t0 = time.perf_counter()
        ds = sweep(
            preset,
            grid,
            seeds,
            folder,
            scheduler=None if workers is None else "local",
            n_workers=workers,
            progress=False,
        )
        wall = time.perf_counter() - t0
        assert ds.attrs["n_complete"] == ds.attrs["n_runs"]
        shutil.rmtree(folder)
        base = base or wall
        label = "serial" if workers is None else str(workers)
        print(f"| {label} | {wall:.1f} | {base / wall:.2f} |", flush=True)


if __name__ == "__main__":
    main()
