"""Speed of the exact gradients, as ratios against the floor and against torch autograd.

    python benchmarks/bench_exact.py            # full table (a few minutes)
    python benchmarks/bench_exact.py --quick    # smaller sizes, seconds

Prints, in float64 with 32 trials per batch:

1. BPTT: the time of ``gradient(rule="bptt")`` over one ``net.run`` (the floor), and torch
   autograd's time over ours on the same network (when torch is installed; it is never a
   dependency: ``pip install torch==2.13.0``).
2. RTRL: the time per step and the achieved GFLOP/s against this machine's numpy float64 GEMM
   rate.  Flops counted: ``2·B·n²·(n·m)`` for ``D_t M_{t-1}`` plus ``2·B·n·(n·m)`` for the
   readout ``q_t M_t``, with ``m = n + n_in + 1``.

Times are the best of several repeats (the least disturbed run).
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys

import numpy as np
from timing import best_time, best_times

import bioplastic as bp

try:
    import torch
except ImportError:  # optional peer
    torch = None

B = 32
N_IN, N_OUT = 2, 2


def gemm_rate(size: int = 2048) -> float:
    """Measured numpy float64 GEMM rate, GFLOP/s."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, size, size))
    return 2 * size**3 / best_time(lambda: a @ b, 5) / 1e9


def problem(n: int, T: int, seed: int = 0):
    net = bp.LeakyRNN.random(N_IN, n, N_OUT, tau=10.0, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, N_IN))
    target = rng.standard_normal((B, T, N_OUT))
    return net, x, target


def torch_bptt(net: bp.LeakyRNN, x: np.ndarray, target: np.ndarray):
    """The same loss in torch, differentiated by autograd: returns a closure to time."""
    p = {k: torch.tensor(np.array(v), requires_grad=True) for k, v in net.params.items()}
    xt = torch.tensor(x.transpose(1, 0, 2).copy())
    yt = torch.tensor(target.transpose(1, 0, 2).copy())
    alpha = net.alpha

    def run():
        for v in p.values():
            v.grad = None
        h = torch.zeros(x.shape[0], net.n_rec, dtype=torch.float64)
        drive = (xt @ p["W_in"].T + p["b"]).unbind(0)  # unbind: indexing drive[t] would make
        hs = []  # backward O(T²) (one zero tensor per step)
        for t in range(xt.shape[0]):
            h = (1 - alpha) * h + alpha * torch.tanh(h @ p["W_rec"].T + drive[t])
            hs.append(h)
        y = torch.stack(hs) @ p["W_out"].T + p["b_out"]
        loss = 0.5 * ((y - yt) ** 2).sum() / x.shape[0]
        loss.backward()
        return {k: v.grad for k, v in p.items()}

    return run


def torch_time_in_subprocess(n: int, T: int, repeats: int) -> float:
    """Time torch in a fresh process, so neither library's idle BLAS/OpenMP threads (which spin
    for a while after each call) steal the two cores from the other."""
    out = subprocess.run(
        [sys.executable, __file__, "--torch-time", str(n), str(T), str(repeats)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def check_torch_agrees(net, x, target) -> float:
    g_ours = bp.gradient(net, x, target, rule="bptt")
    g_torch = torch_bptt(net, x, target)()
    return max(
        np.linalg.norm(g_ours[k] - g_torch[k].numpy()) / np.linalg.norm(g_ours[k]) for k in g_ours
    )


def bench_bptt(sizes, lengths, repeats: int) -> None:
    print(f"\n## BPTT, float64, batch {B}, n_in {N_IN}, n_out {N_OUT}, tanh, rate form")
    head = "| n | T | run (ms) | bptt (ms) | bptt / run |"
    if torch is not None:
        head += " torch autograd (ms) | torch / bptt |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for n in sizes:
        for T in lengths:
            net, x, target = problem(n, T)
            t_run, t_bptt = best_times(
                [lambda: net.run(x), lambda: bp.gradient(net, x, target, rule="bptt")], repeats
            )
            row = f"| {n} | {T} | {t_run * 1e3:.2f} | {t_bptt * 1e3:.2f} | {t_bptt / t_run:.2f} |"
            if torch is not None:
                t_torch = torch_time_in_subprocess(n, T, repeats)
                row += f" {t_torch * 1e3:.2f} | {t_torch / t_bptt:.2f} |"
            print(row, flush=True)
    if torch is not None:
        net, x, target = problem(16, 30)
        print(
            "\ntorch and bioplastic BPTT gradients differ by "
            f"{check_torch_agrees(net, x, target):.1e} (relative)"
        )


def bench_rtrl(sizes, gemm: float) -> None:
    print(f"\n## RTRL, float64, batch {B}, n_in {N_IN}: per-step time and GEMM efficiency")
    print(f"machine numpy float64 GEMM rate (2048²): {gemm:.1f} GFLOP/s")
    print(
        "| n | influence (MB) | ms / step | GFLOP/s | % of GEMM rate "
        "| bare D@M matmul, % of GEMM rate |"
    )
    print("|---|---|---|---|---|---|")
    for n in sizes:
        # per step = the difference between a long and a short run, so allocating the
        # influence and the forward pass cancel out
        T_long = 2 + max(4, int(3e9 / (B * n**4)))  # a few seconds per size
        net, x, target = problem(n, T_long)
        short, long_ = best_times(
            [
                lambda: bp.gradient(net, x[:, :2], target[:, :2], rule="rtrl"),
                lambda: bp.gradient(net, x, target, rule="rtrl"),
            ],
            2,
        )
        per_step = (long_ - short) / (T_long - 2)
        m = n + N_IN + 1
        flops = 2 * B * n * n * (n * m) + 2 * B * n * (n * m)
        rate = flops / per_step / 1e9
        mb = B * n * n * m * 8 / 2**20
        # the bound: numpy's batched matmul alone, at RTRL's shapes
        rng = np.random.default_rng(0)
        D, M = rng.standard_normal((B, n, n)), rng.standard_normal((B, n, n * m))
        out = np.empty_like(M)
        t_mm = best_time(lambda: np.matmul(D, M, out=out), 3)
        bare = 2 * B * n * n * (n * m) / t_mm / 1e9
        print(
            f"| {n} | {mb:.0f} | {per_step * 1e3:.3f} | {rate:.1f} | {100 * rate / gemm:.0f}% "
            f"| {100 * bare / gemm:.0f}% |",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes only (seconds)")
    ap.add_argument(
        "--torch-time", nargs=3, type=int, metavar=("N", "T", "REPEATS"), help=argparse.SUPPRESS
    )  # internal: time torch autograd alone, print seconds
    args = ap.parse_args()
    if args.torch_time:
        n, T, repeats = args.torch_time
        print(best_time(torch_bptt(*problem(n, T)), repeats))
        return
    print(
        f"bioplastic {bp.__version__}, numpy {np.__version__}, python {platform.python_version()}, "
        f"{platform.machine()}"
        + (f", torch {torch.__version__}" if torch else ", torch not installed")
    )
    gemm = gemm_rate()
    if args.quick:
        bench_bptt([32], [200], repeats=3)
        bench_rtrl([16, 32], gemm)
    else:
        bench_bptt([32, 128, 512], [200, 500], repeats=7)
        bench_rtrl([16, 32, 64, 128], gemm)


if __name__ == "__main__":
    main()
