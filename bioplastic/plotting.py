"""Figures of a training run (matplotlib, no screen needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

__all__ = ["plot_run"]


def plot_run(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Loss during training, output against target at the start and end, and alignment.

    Writes a PNG to ``path`` and returns the path.
    """
    with np.errstate(all="ignore"):  # a diverged run's huge losses overflow the log axis maths
        return _plot_run(ds, Path(path))


def _plot_run(ds: xr.Dataset, path: Path) -> Path:
    has_align = "alignment" in ds
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    rule = ds.attrs.get("rule", "?")

    ax = axes[0]
    ax.semilogy(ds["trial"], ds["loss"], lw=0.6, alpha=0.6, label="training batch")
    ax.semilogy(ds["trials_seen"], ds["eval_loss"], "o-", ms=3, label="held-out")
    ax.set_xlabel("trial")
    ax.set_ylabel("loss")
    ax.set_title(f"{rule}: loss ({ds.attrs.get('status', '?')})")
    ax.legend(frameon=False)

    ax = axes[1]
    t = ds["time"].values
    for o in range(ds.sizes["output"]):
        ax.plot(
            t,
            ds["eval_target"].isel(example=0, output=o),
            "k--",
            lw=1.2,
            label="target" if o == 0 else None,
        )
        ax.plot(
            t,
            ds["eval_output"].sel(stage="initial").isel(example=0, output=o),
            color="0.7",
            lw=1,
            label="before" if o == 0 else None,
        )
        if "final" in ds["stage"].values:
            ax.plot(
                t,
                ds["eval_output"].sel(stage="final").isel(example=0, output=o),
                lw=1.5,
                label="after" if o == 0 else None,
            )
    ax.set_xlabel("time step")
    ax.set_ylabel("output")
    ax.set_title("held-out trial")
    ax.legend(frameon=False)

    ax = axes[2]
    if has_align:
        rec = ds["alignment"].sel(param="recurrent")
        ax.plot(ds["trial"], rec, lw=0.5, alpha=0.4)
        k = max(1, ds.sizes["trial"] // 50)
        if ds.sizes["trial"] >= k:
            smooth = np.convolve(np.nan_to_num(rec.values), np.ones(k) / k, mode="valid")
            exact = json.loads(ds.attrs["config"])["training"]["align_with"]
            ax.plot(
                ds["trial"].values[k - 1 :],
                smooth,
                lw=1.5,
                label=f"update of the recurrent weights vs {exact}",
            )
    ax.plot(ds["trial"], ds["readout_alignment"], lw=1.2, label="W_outᵀ vs feedback B")
    ax.axhline(0, color="0.8", lw=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("trial")
    ax.set_ylabel("cosine")
    ax.set_title("alignment" + (" with the exact gradient" if has_align else ""))
    ax.legend(frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
