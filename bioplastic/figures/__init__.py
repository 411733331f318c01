"""Paper figures, one module each, made by ``bioplastic figure NAME`` or ``figures/NAME.py``.

Each module has ``NAME``, a docstring (the caption: what is shown and with which parameters),
``EXPECT`` (what the paper reports), ``make(fig) -> numbers`` and ``check(numbers, quick)``
(the directions of the paper's effects that do not hold).  Runs are cached as ``.nc`` files
under ``figures/cache/NAME/`` (by the sweep machinery), so a figure is replotted without
retraining; ``--quick`` uses small settings that check the pipeline and the effects' directions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import (
    alignment_fig,
    javed2023_trace_patterning,
    marschall2020_add,
    marschall2020_mimic,
    miconi2017,
    murray2019_fig2,
    murray2019_fig3,
    murray2019_fig4,
    solutions,
    williams_zipser1989,
)
from .common import FigureRun

FIGURES = {
    m.NAME: m
    for m in (
        murray2019_fig2,
        murray2019_fig3,
        murray2019_fig4,
        alignment_fig,
        marschall2020_add,
        marschall2020_mimic,
        javed2023_trace_patterning,
        miconi2017,
        williams_zipser1989,
        solutions,
    )
}
ROOT = Path(__file__).resolve().parent.parent.parent

__all__ = ["FIGURES", "make", "main"]


def make(
    name: str,
    *,
    quick: bool = False,
    out_dir: str | Path | None = None,
    cache: str | Path | None = None,
    scheduler: str | None = "local",
    n_workers: int | None = None,
    progress: bool = False,
) -> tuple[Path, dict, list[str], float]:
    """Make figure ``name``; return the PNG, its numbers, the failed checks and the seconds."""
    if name not in FIGURES:
        raise ValueError(f"figure must be one of {sorted(FIGURES)}; got {name!r}")
    mod = FIGURES[name]
    out = Path(out_dir) if out_dir is not None else ROOT / "figures"
    cache_dir = (
        Path(cache) if cache is not None else out / "cache" / (name + ("_quick" if quick else ""))
    )
    fig = FigureRun(name, out, cache_dir, quick, scheduler, n_workers, progress)
    t0 = time.perf_counter()
    numbers = mod.make(fig)
    seconds = time.perf_counter() - t0
    (out / f"{name}{'_quick' if quick else ''}.json").write_text(
        json.dumps(
            {"numbers": numbers, "seconds": seconds, "failed_checks": mod.check(numbers, quick)},
            indent=1,
            default=str,
        )
    )
    return fig.png(), numbers, mod.check(numbers, quick), seconds


def main(argv: Sequence[str] | None = None, name: str | None = None) -> int:
    listing = "\n".join(
        f"  {n}: {FIGURES[n].__doc__.splitlines()[0].replace('``', '')}" for n in sorted(FIGURES)
    )
    ap = argparse.ArgumentParser(
        prog="bioplastic figure",
        description="make a paper figure (the paper against ours: figures/README.md)",
        epilog=f"figures:\n{listing}\n\nexit code 1: a paper effect does not hold here",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if name is None:
        ap.add_argument("name", choices=sorted(FIGURES))
    ap.add_argument(
        "--quick",
        action="store_true",
        help="small settings: the pipeline and the effects' directions",
    )
    ap.add_argument("--out", help="folder for the PNG (default: the repository's figures/)")
    ap.add_argument("--cache", help="folder for the cached runs (default: <out>/cache/NAME)")
    ap.add_argument(
        "--scheduler", default="local", help="local, threads, serial or tcp://host:port"
    )
    ap.add_argument("--workers", type=int)
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    figure = name or args.name
    scheduler = None if args.scheduler == "serial" else args.scheduler
    png, numbers, bad, seconds = make(
        figure,
        quick=args.quick,
        out_dir=args.out,
        cache=args.cache,
        scheduler=scheduler,
        n_workers=args.workers,
        progress=args.progress,
    )
    print(f"wrote {png} in {seconds:.0f} s")
    for k, v in numbers.items():
        print(f"  {k}: {v}")
    if bad:  # the PNG and numbers are written all the same
        print("effects that do not hold: " + "; ".join(bad), file=sys.stderr)
        return 1
    return 0
