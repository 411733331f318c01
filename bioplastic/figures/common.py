"""What every paper figure shares: its cache folder, its sweeps, and median ± quartile bands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from ..config import Preset, load_preset  # noqa: E402
from ..sweeps import sweep  # noqa: E402

__all__ = [
    "FigureRun",
    "MODELS",
    "band",
    "mark_diverged",
    "plain_log",
    "quartiles",
    "run_sweep",
    "plt",
]

MODELS = Path(__file__).resolve().parent.parent.parent / "models"


@dataclass(frozen=True)
class FigureRun:
    """How a figure is being made: its folders, mode and where runs go."""

    name: str
    out_dir: Path  # the PNG goes here
    cache: Path  # run files, combined datasets and other results go here
    quick: bool
    scheduler: str | None
    n_workers: int | None
    progress: bool

    def png(self) -> Path:
        return self.out_dir / f"{self.name}{'_quick' if self.quick else ''}.png"

    def save(self, f) -> None:
        """Lay out, write ``png()`` and close the matplotlib figure ``f``."""
        f.tight_layout()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        f.savefig(self.png(), dpi=100)
        plt.close(f)


def run_sweep(
    fig: FigureRun,
    part: str,
    preset: str | Path | Preset,
    overrides: Sequence[str],
    grid: dict[str, Sequence[Any]],
    seeds: Sequence[int],
) -> xr.Dataset:
    """One sweep of a figure, cached under ``cache/<part>``; finished runs are reused."""
    p = preset if isinstance(preset, Preset) else load_preset(MODELS / preset, list(overrides))
    return sweep(
        p,
        grid,
        seeds,
        fig.cache / part,
        fig.scheduler,
        n_workers=fig.n_workers,
        progress=fig.progress,
    )


def quartiles(a: xr.DataArray, dim: str = "seed") -> tuple[xr.DataArray, ...]:
    """Median and 25th/75th percentiles over ``dim`` (NaN runs ignored)."""
    return (
        a.median(dim),
        a.quantile(0.25, dim).drop_vars("quantile"),
        a.quantile(0.75, dim).drop_vars("quantile"),
    )


def band(ax, x, a: xr.DataArray, label: str, color=None, dim: str = "seed", **kw) -> None:
    """Plot the median over ``dim`` with a shaded 25–75% band."""
    med, lo, hi = quartiles(a, dim)
    (line,) = ax.plot(x, med, label=label, color=color, **kw)
    ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.25, lw=0)


def mark_diverged(ax, x: float, n: int, color=None, fontsize: int = 6) -> None:
    """Write "n diverged" at the top of the axes above ``x`` (nothing when n is 0): a diverged
    run has no finite loss to draw."""
    if n:
        ax.annotate(
            f"{n} diverged",
            (x, 1),
            xycoords=("data", "axes fraction"),
            va="top",
            ha="center",
            fontsize=fontsize,
            color=color,
        )


def plain_log(ax, axis: str = "y", subs: tuple[float, ...] = (1.0,)) -> None:
    """Label a log axis with plain numbers ("20", "0.001"), not powers ("2×10¹"), at
    ``subs`` × each power of ten (``(1, 2, 5)`` for an axis under a decade or two)."""
    a = ax.yaxis if axis == "y" else ax.xaxis
    a.set_major_locator(LogLocator(base=10, subs=subs))
    a.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    a.set_minor_formatter(NullFormatter())
