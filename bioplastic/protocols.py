"""What every protocol script in ``protocols/`` does: train a preset with one or more rules,
write one ``.nc`` per rule, and draw one figure comparing the rules on held-out conditions.

    python protocols/reaching.py --rule bptt rflo eprop [--quick] [--out runs/] [--seed 0]

``--quick`` shortens training to check the pipeline in well under 30 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from .config import Preset, build, load_preset, run  # noqa: E402

__all__ = ["main", "plot_rules", "with_rule"]

MODELS = Path(__file__).resolve().parent.parent / "models"


def _quick(preset: Preset, n_trials: int) -> Preset:
    tr = dataclasses.replace(
        preset.training,
        n_trials=min(preset.training.n_trials, n_trials),
        eval_every=max(1, min(preset.training.eval_every, n_trials // 4)),
        align_with=None,
    )
    return dataclasses.replace(preset, training=tr)


def plot_rules(runs: dict[str, xr.Dataset], path: Path, kind: str, title: str) -> Path:
    """One row per rule: held-out outputs against targets (``kind="time"``), or 2-D paths
    (``kind="path"``), plus the loss curves of all rules."""
    rules = list(runs)
    fig, axes = plt.subplots(
        1, len(rules) + 1, figsize=(4.2 * (len(rules) + 1), 3.8), squeeze=False
    )
    axes = axes[0]
    for ax, rule in zip(axes, rules):
        ds = runs[rule]
        out = ds["eval_output"].sel(stage="final").values
        tgt = ds["eval_target"].values
        colors = plt.cm.viridis(np.linspace(0, 0.9, out.shape[0]))
        for i in range(out.shape[0]):
            if kind == "path":
                ax.plot(tgt[i, :, 0], tgt[i, :, 1], "--", color=colors[i], lw=1)
                ax.plot(out[i, :, 0], out[i, :, 1], color=colors[i], lw=1.6)
            else:
                offset = 1.5 * i
                ax.plot(tgt[i, :, 0] + offset, "--", color=colors[i], lw=1)
                ax.plot(out[i, :, 0] + offset, color=colors[i], lw=1.6)
        if kind == "path":
            ax.set_aspect("equal")
            ax.set_xlabel("x")
            ax.set_ylabel("y")
        else:
            ax.set_xlabel("time step")
            ax.set_ylabel("output (offset per condition)")
        ax.set_title(f"{rule}: held-out loss {float(ds['eval_loss'][-1]):.3g}")
    ax = axes[-1]
    for rule in rules:
        ds = runs[rule]
        ax.semilogy(ds["trials_seen"], ds["eval_loss"], "o-", ms=3, label=rule)
    ax.set_xlabel("trial")
    ax.set_ylabel("held-out loss")
    ax.legend(frameon=False)
    ax.set_title("learning")
    fig.suptitle(f"{title}  (dashed: target, solid: network)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def with_rule(preset: Preset, rule: str) -> Preset:
    """The preset trained by ``rule``: its own rule keeps the preset's options; another rule
    takes its own defaults (the preset's options belong to the preset's rule)."""
    if rule == preset.rule.name:
        return preset
    return dataclasses.replace(preset, rule=dataclasses.replace(preset.rule, name=rule, options={}))


def main(
    preset_name: str,
    kind: str,
    title: str,
    argv: Sequence[str] | None = None,
    quick_trials: int = 200,
    rules: Sequence[str] = ("bptt", "rflo", "eprop"),
) -> int:
    """Run a protocol from its preset ``models/<preset_name>.toml``; returns an exit code."""
    ap = argparse.ArgumentParser(description=title)
    ap.add_argument(
        "--rule",
        nargs="+",
        default=list(rules),
        help=f"one or more rules to compare (default: {' '.join(rules)})",
    )
    ap.add_argument("--quick", action="store_true", help="a short run that checks the pipeline")
    ap.add_argument("--out", default="runs", help="folder for the .nc files and the .png")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.out)
    runs = {}
    t0 = time.perf_counter()
    for rule in args.rule:
        try:
            preset = load_preset(
                MODELS / f"{preset_name}.toml", [*args.set, f"training.seed={args.seed}"]
            )
            preset = with_rule(preset, rule)
            if args.quick:
                preset = _quick(preset, quick_trials)
            build(preset, dry_run=True)
        except (TypeError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        path = out / f"{preset_name}_{rule}.nc"
        ds = run(preset, out=path, progress=False if args.no_progress else None)
        runs[rule] = ds
        print(
            f"{rule}: {ds.attrs['status']}, held-out loss {float(ds['eval_loss'][0]):.4g} → "
            f"{float(ds['eval_loss'][-1]):.4g}; wrote {path}"
        )
    png = plot_rules(runs, out / f"{preset_name}.png", kind, title)
    print(f"wrote {png} ({time.perf_counter() - t0:.1f} s)")
    return 0 if all(ds.attrs["status"] == "complete" for ds in runs.values()) else 1
