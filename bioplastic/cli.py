"""The bioplastic command line: train, sweep, info, plot, figure, check.

Exit codes: 0 done; 1 a run diverged, a sweep has failed runs, a figure's paper effect does
not hold, or `check` found a disagreement; 2 a usage or configuration error; 3 a results file
that cannot be read (damaged, empty, foreign, or locked by another writer); 130 interrupted
(Ctrl-C or SIGTERM; the run is saved and `--resume` continues it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ._version import __version__
from .network import FORMS, LeakyRNN
from .results import ResultsFileError, config_of
from .verify import compare_exact

EXIT = {"ok": 0, "failed": 1, "usage": 2, "unreadable": 3, "interrupted": 130}

#: the agreement `bioplastic check` demands (float64)
TOLERANCE = {"bptt_vs_rtrl": 1e-10, "bptt_vs_fd": 1e-7, "rtrl_vs_fd": 1e-7}


def check(n_rec: int, n_steps: int, n_trials: int, seed: int) -> int:
    """Print how closely BPTT, RTRL and finite differences agree; return an exit code."""
    rng = np.random.default_rng(seed)
    cases = [(form, alpha) for form in FORMS for alpha in ("0.1", "per-unit")]
    print(
        f"bioplastic {__version__}: exact gradients on random tanh networks, float64, "
        f"n_rec={n_rec}, T={n_steps}, {n_trials} trials, masked targets, seed={seed}\n"
    )
    print(
        f"{'form':8s} {'alpha':9s} {'|BPTT-RTRL|':>12s} {'|BPTT-FD|':>12s} "
        f"{'|RTRL-FD|':>12s}  (relative)"
    )
    worst_ok = True
    t0 = time.perf_counter()
    for form, alpha_kind in cases:
        alpha = 0.1 if alpha_kind == "0.1" else rng.uniform(0.05, 1.0, n_rec)
        net = LeakyRNN.random(
            2, n_rec, 2, tau=1.0 / alpha, form=form, seed=int(rng.integers(2**31))
        )
        net = net.with_params(
            {
                "b": 0.3 * rng.standard_normal(n_rec),
                "W_out": rng.standard_normal((2, n_rec)) / np.sqrt(n_rec),
            }
        )
        x = rng.standard_normal((n_trials, n_steps, 2))
        target = rng.standard_normal((n_trials, n_steps, 2))
        mask = (rng.random(target.shape) < 0.7).astype(float)
        err = compare_exact(net, x, target, mask)
        ok = all(err[k] <= TOLERANCE[k] for k in err)
        worst_ok &= ok
        print(
            f"{form:8s} {alpha_kind:9s} {err['bptt_vs_rtrl']:12.1e} {err['bptt_vs_fd']:12.1e} "
            f"{err['rtrl_vs_fd']:12.1e}  {'ok' if ok else 'FAIL'}"
        )
    limits = ", ".join(f"{k} <= {v:g}" for k, v in TOLERANCE.items())
    print(
        f"\n{'all agree' if worst_ok else 'DISAGREEMENT'} ({limits}) "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    return 0 if worst_ok else 1


def _train(args: argparse.Namespace) -> int:
    from .config import load_preset, run
    from .plotting import plot_run
    from .training import resume

    if args.resume is not None:
        if args.preset or args.set or args.rule or args.feedback or args.seed is not None:
            print(
                "bioplastic train --resume continues a run as it was configured; "
                "give no preset, --rule, --feedback, --seed or --set",
                file=sys.stderr,
            )
            return 2
        out = Path(args.resume)
        with warnings.catch_warnings():  # a divergence is reported below, once
            warnings.simplefilter("ignore", RuntimeWarning)
            ds = resume(out, progress=None if not args.no_progress else False)
    else:
        if args.preset is None:
            print(
                "bioplastic train needs a PRESET (e.g. models/murray2019_periodic.toml) "
                "or --resume run.nc",
                file=sys.stderr,
            )
            return 2
        overrides = list(args.set)
        if args.rule:
            overrides.append(f"rule.name={args.rule}")
            if not args.feedback:  # the preset's feedback belongs to its own rule
                overrides.append("rule.feedback=none")
        if args.feedback:
            overrides.append(f"rule.feedback={args.feedback}")
        if args.seed is not None:
            overrides.append(f"training.seed={args.seed}")
        try:
            preset = load_preset(args.preset, overrides)
        except (ValueError, FileNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        out = Path(args.out)
        if out.exists() and not args.overwrite:
            print(
                f"error: {out} exists: pass --overwrite to replace it, --resume {out} to "
                "continue it, or choose another --out",
                file=sys.stderr,
            )
            return EXIT["usage"]
        with warnings.catch_warnings():  # a divergence is reported below, once
            warnings.simplefilter("ignore", RuntimeWarning)
            ds = run(
                preset,
                out=out,
                progress=None if not args.no_progress else False,
                overwrite=args.overwrite,
            )
    png = plot_run(ds, out.with_suffix(".png"))
    status = ds.attrs["status"]
    seen = int(ds["trial"][-1]) if ds.sizes["trial"] else 0
    last = f"held-out loss {float(ds['eval_loss'][-1]):.4g} at trial {int(ds['trials_seen'][-1])}"
    print(f"{status}: {seen} trials, {last}; wrote {out} and {png}")
    if ds.attrs.get("message"):
        print(ds.attrs["message"], file=sys.stderr)
    return {"complete": 0, "diverged": 1, "interrupted": 130}.get(status, 1)


def _info(args: argparse.Namespace) -> int:
    from .results import load

    ds = load(args.run)
    cfg = config_of(ds, args.run)
    tr = cfg["training"]
    print(f"{args.run}: bioplastic {ds.attrs['bioplastic_version']}, created {ds.attrs['created']}")
    print(
        f"status:   {ds.attrs['status']}"
        + (f" ({ds.attrs['message']})" if ds.attrs.get("message") else "")
    )
    print(f"task:     {cfg['task']}")
    net = cfg["network"]
    print(
        f"network:  n_rec={net['n_rec']} {net['form']} form, {net['activation']}, "
        f"alpha={net['alpha']}, plastic={net['plastic']}"
    )
    print(
        f"rule:     {tr['rule']} {tr['rule_options'] or ''} feedback={tr['feedback']}, "
        f"update={tr['update']}, optimizer={tr['optimizer']}"
    )
    n = ds.sizes["trial"]
    print(
        f"trials:   {int(ds['trial'][-1]) if n else 0} of {tr['n_trials']} "
        f"(batch {tr['batch_size']}), seed {ds.attrs['seed']}"
    )
    if n:
        tail = max(1, n // 10)
        print(
            f"loss:     first {float(ds['loss'][0]):.4g}, mean of the last {tail} updates "
            f"{float(ds['loss'][-tail:].mean()):.4g}; held-out {float(ds['eval_loss'][0]):.4g} → "
            f"{float(ds['eval_loss'][-1]):.4g}"
        )
        print(f"W_out·B:  readout alignment {float(ds['readout_alignment'][-1]):.3f}")
        if "alignment" in ds:
            a = ds["alignment"][-tail:].mean("trial")
            parts = ", ".join(
                f"{p}={float(a.sel(param=p)):.3f}" for p in ("W_rec", "recurrent", "all")
            )
            print(f"cosine with {tr['align_with']} (last {tail} updates): {parts}")
    if args.brian2_check:
        from .brian.check import brian2_check

        result = brian2_check(ds, codegen=args.codegen)
        print(f"brian2:   {result}")
        if not result.ok():
            print("error: Brian2 and bioplastic disagree beyond 1e-9", file=sys.stderr)
            return 1
    return 0


def _analyse(args: argparse.Namespace) -> int:
    from .analysis import analyse, plot_analysis
    from .results import load, save

    ds = load(args.run)
    config_of(ds, args.run)
    x = None
    if args.input is not None:
        try:
            x = [float(v) for v in args.input.split(",")]
        except ValueError:
            print(
                f"error: --input must be numbers separated by commas; got {args.input!r}",
                file=sys.stderr,
            )
            return EXIT["usage"]
    try:
        an = analyse(ds, x=x, n_starts=args.starts, q_max=args.q_max, seed=args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT["usage"]
    stem = (
        Path(args.out) if args.out else Path(args.run).with_name(Path(args.run).stem + "_analysis")
    )
    nc = save(an, stem.with_suffix(".nc"))
    png = plot_analysis(an, stem.with_suffix(".png"), title=str(args.run))
    kinds = dict(zip(*np.unique(an["fp_kind"].values, return_counts=True)))
    found = ", ".join(f"{int(n)} {k}" for k, n in kinds.items()) or "none"
    print(f"fixed points: {found}; PCs 1–3 explain {100 * float(an.explained.sum()):.0f}%")
    print(f"wrote {nc} and {png}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from .plotting import plot_run
    from .results import load

    out = Path(args.out) if args.out else Path(args.run).with_suffix(".png")
    ds = load(args.run)
    config_of(ds, args.run)
    print(f"wrote {plot_run(ds, out)}")
    return 0


def _values(text: str) -> list:
    """``"20,80,160"`` → [20, 80, 160]; each value read as TOML, else kept as text."""
    from .config import parse_override

    return [parse_override(f"x.v={v.strip()}")[1] for v in text.split(",") if v.strip()]


def _seeds(text: str) -> list[int]:
    """``"0:9"`` → 0..8 (a Python range), or ``"1,4,7"``."""
    try:
        if ":" in text:
            a, b = text.split(":")
            return list(range(int(a), int(b)))
        return [int(v) for v in text.split(",")]
    except ValueError as exc:
        raise ValueError(f"--seeds takes start:stop or a,b,c of ints; got {text!r}") from exc


def _sweep(args: argparse.Namespace) -> int:
    from .sweeps import status, sweep

    if args.status:
        st = status(args.status)
        print(
            f"{args.status}: {sum(st['counts'].values())} runs over {st['keys']} × seeds "
            f"{st['seeds']}"
        )
        print("  " + ", ".join(f"{n} {k}" for k, n in sorted(st["counts"].items())))
        for rid, r in st["runs"].items():
            if r["status"] != "complete":
                print(f"  {rid}  {r['status']:11s} {r['point']} seed={r['seed']}")
        return 0
    if args.preset is None:
        print("bioplastic sweep needs a PRESET, or --status DIR", file=sys.stderr)
        return 2
    try:
        grid = {}
        for g in args.grid:
            if "=" not in g:
                raise ValueError(f"--grid takes key=v1,v2,...; got {g!r}")
            key, vals = g.split("=", 1)
            grid[key.strip()] = _values(vals)
        seeds = _seeds(args.seeds)
        scheduler = None if args.scheduler == "serial" else args.scheduler
        from .config import load_preset

        ds = sweep(
            load_preset(args.preset, args.set),
            grid,
            seeds,
            args.out,
            scheduler,
            n_workers=args.workers,
            progress=False if args.no_progress else None,  # on a terminal only
        )
    except KeyboardInterrupt:
        print(
            f"interrupted: finished runs are in {args.out}; run the same command again to go on",
            file=sys.stderr,
        )
        return EXIT["interrupted"]
    except (ValueError, TypeError, ConnectionError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n_ok = ds.attrs["n_complete"]
    print(f"{n_ok} of {ds.attrs['n_runs']} runs complete; wrote {Path(args.out) / 'combined.nc'}")
    return 0 if n_ok == ds.attrs["n_runs"] else 1


def main(argv: list[str] | None = None) -> int:
    """Run a command; return its exit code (module docstring)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["figure"]:  # the figure command parses its own arguments
            from .figures import main as figure_main

            return figure_main(argv[1:])
        return _main(argv)
    except ResultsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT["unreadable"]
    except BrokenPipeError:  # `bioplastic info run.nc | head`: the reader went away
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="bioplastic",
        description="Leaky RNNs trained with local learning rules, against the exact gradient.",
        epilog="Exit codes: 0 done; 1 diverged, failed runs or effects that do not hold; "
        "2 usage or configuration error; 3 unreadable results file; 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"bioplastic {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a preset; write run.nc and run.png")
    p.add_argument("preset", nargs="?", help="a TOML preset, e.g. models/murray2019_periodic.toml")
    p.add_argument(
        "--rule",
        help="override [rule] name; the feedback becomes that rule's default unless --feedback",
    )
    p.add_argument("--feedback", help="override [rule] feedback")
    p.add_argument("--seed", type=int, help="override [training] seed")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="TABLE.KEY=VALUE",
        help="override any preset value, e.g. --set training.n_trials=500",
    )
    p.add_argument("--out", default="run.nc", help="the results file (default run.nc)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--resume", metavar="RUN.nc", help="continue an interrupted run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("sweep", help="run a preset over a grid × seeds on dask")
    p.add_argument("preset", nargs="?")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="a grid axis, e.g. rule=bptt,rflo or task.period=20,80,160",
    )
    p.add_argument("--seeds", default="0:1", help="start:stop (a range) or a,b,c (default 0:1)")
    p.add_argument("--out", default="runs", help="the sweep folder (default runs/)")
    p.add_argument(
        "--scheduler",
        default="local",
        help="local (default), threads, serial, or a scheduler address tcp://host:port",
    )
    p.add_argument("--workers", type=int, help="workers of a local cluster (default: cores)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="TABLE.KEY=VALUE",
        help="override a preset value for every run, e.g. --set training.n_trials=500",
    )
    p.add_argument("--status", metavar="DIR", help="summarise the sweep in DIR and exit")
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("info", help="summarise a results file")
    p.add_argument("run")
    p.add_argument(
        "--brian2-check",
        action="store_true",
        help="re-simulate the trained network in Brian2 and report the largest deviation",
    )
    p.add_argument(
        "--codegen",
        default="numpy",
        help="Brian2 code generation for --brian2-check: numpy (default), cython, cpp_standalone",
    )
    p = sub.add_parser("plot", help="plot a results file")
    p.add_argument("run")
    p.add_argument("--out", help="the PNG (default: next to the run)")

    p = sub.add_parser(
        "analyse", help="fixed points, PCA and spectrum of a run; write run_analysis.nc/.png"
    )
    p.add_argument("run")
    p.add_argument("--input", help="the held input for the fixed points, e.g. 0,1 (default 0)")
    p.add_argument("--starts", type=int, default=1000, help="starting states (default 1000)")
    p.add_argument("--q-max", type=float, default=1e-10, help="speed below which a point is kept")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="the output stem (default: <run>_analysis)")

    p = sub.add_parser("check", help="check BPTT = RTRL = finite differences on random networks")
    p.add_argument("--units", type=int, default=8, help="recurrent units (default 8)")
    p.add_argument("--steps", type=int, default=30, help="time steps per trial (default 30)")
    p.add_argument("--trials", type=int, default=3, help="trials per batch (default 3)")
    p.add_argument("--seed", type=int, default=0)
    sub.add_parser("figure", help="make a paper figure: bioplastic figure --help")
    args = parser.parse_args(argv)
    if args.command == "check":
        return check(args.units, args.steps, args.trials, args.seed)
    try:
        commands = {"train": _train, "info": _info, "plot": _plot, "sweep": _sweep}
        return {**commands, "analyse": _analyse}[args.command](args)
    except (FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT["usage"]


if __name__ == "__main__":
    sys.exit(main())
