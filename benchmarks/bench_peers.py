"""bioplastic against JAX (CPU, float64, jit), the online step, and BLAS threads, as ratios.

    python benchmarks/bench_peers.py            # a few minutes
    python benchmarks/bench_peers.py --quick    # seconds

JAX is an optional peer, never a dependency (``pip install jax``): without it its columns are
left out.  Each JAX timing runs in a fresh process, after its compile, so neither library's
idle threads steal the other's cores.  Printed:

1. BPTT, batch 32: ``bp.gradient(rule="bptt")`` against ``jax.jit(jax.grad(loss))`` with the
   forward pass in ``lax.scan``; the ratio is JAX's time over ours (> 1: we are faster).
2. RTRL, batch 1: ``bp.gradient(rule="rtrl")`` against a hand-written influence recursion
   ``M_t = D_t M_{t-1} + M̄_t`` in ``lax.scan`` (Marschall et al. 2020's form).
3. The online step at n = 32, batch 1 (forward, output error, rule update and an SGD update
   every step), per rule, compiled kernel and numpy path.
4. BPTT with one thread, with bioplastic's two threads over the batch's trials (its choice on
   two cores), and with BLAS's two threads on every product (what it avoids below 256 units).
5. The compiled kernels' first calls in a fresh process: compiling (an empty numba cache) and
   loading them from numba's on-disk cache (every later process).

The gradients of each pair are checked equal before they are timed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
from timing import best_time

import bioplastic as bp
from bioplastic import kernels

N_IN, N_OUT = 2, 2


def problem(n: int, T: int, batch: int, seed: int = 0):
    net = bp.LeakyRNN.random(N_IN, n, N_OUT, tau=10.0, seed=seed)
    rng = np.random.default_rng(seed)
    return net, rng.standard_normal((batch, T, N_IN)), rng.standard_normal((batch, T, N_OUT))


# ------------------------------------------------------------------------------- JAX
def jax_functions(net: bp.LeakyRNN):
    """The loss's gradient by autodiff, and RTRL by hand, both jit-compiled, in float64."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    a = float(net.alpha)

    def loss(p, x, y):
        def step(h, xt):
            h = (1 - a) * h + a * jnp.tanh(h @ p["W_rec"].T + xt @ p["W_in"].T + p["b"])
            return h, h

        _, hs = jax.lax.scan(step, jnp.zeros((x.shape[0], net.n_rec)), x.transpose(1, 0, 2))
        out = hs @ p["W_out"].T + p["b_out"]
        return 0.5 * jnp.sum((out - y.transpose(1, 0, 2)) ** 2) / x.shape[0]

    def rtrl(p, x, y):
        """Batch 1: the influence M (n, n·m) of Θ = [W_rec | W_in | b], forward in time."""
        n = net.n_rec
        m = n + x.shape[2] + 1

        def step(carry, inputs):
            h, M, g = carry
            xt, yt = inputs
            u = p["W_rec"] @ h + p["W_in"] @ xt + p["b"]
            f = jnp.tanh(u)
            hn = (1 - a) * h + a * f
            gain = a * (1 - f * f)
            D = (1 - a) * jnp.eye(n) + gain[:, None] * p["W_rec"]
            abar = jnp.concatenate([h, xt, jnp.ones(1)])
            Mbar = jnp.eye(n)[:, :, None] * (gain[:, None] * abar[None, :])[None, :, :]
            M = D @ M + Mbar.reshape(n, n * m)
            e = p["W_out"] @ hn + p["b_out"] - yt
            g = g + (e @ p["W_out"]) @ M
            return (hn, M, g), None

        init = (jnp.zeros(n), jnp.zeros((n, n * m)), jnp.zeros(n * m))
        (_, _, g), _ = jax.lax.scan(step, init, (x[0], y[0]))
        return g

    return jax.jit(jax.grad(loss)), jax.jit(rtrl)


def jax_time(kind: str, n: int, T: int, batch: int, repeats: int) -> dict:
    """Time one JAX function in this process (called in a fresh subprocess)."""
    import jax

    net, x, y = problem(n, T, batch)
    grad_fn, rtrl_fn = jax_functions(net)
    p = {k: jax.numpy.asarray(v) for k, v in net.params.items()}
    fn = grad_fn if kind == "bptt" else rtrl_fn
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(p, x, y))
    compile_s = time.perf_counter() - t0
    best = best_time(lambda: jax.block_until_ready(fn(p, x, y)), repeats)
    if kind == "bptt":
        ours = bp.gradient(net, x, y, rule="bptt")
        err = max(float(np.max(np.abs(np.asarray(out[k]) - ours[k]))) for k in ours)
    else:
        ours = bp.gradient(net, x, y, rule="rtrl")
        theta = np.concatenate([ours["W_rec"], ours["W_in"], ours["b"][:, None]], axis=1)
        err = float(np.max(np.abs(np.asarray(out).reshape(net.n_rec, -1) - theta)))
    return {"seconds": best, "compile": compile_s, "max_abs_diff": err}


def jax_in_subprocess(kind: str, n: int, T: int, batch: int, repeats: int) -> dict | None:
    try:
        import jax  # noqa: F401
    except ImportError:
        return None
    out = subprocess.run(
        [sys.executable, __file__, "--jax", kind, str(n), str(T), str(batch), str(repeats)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------- tables
def bench_jax(kind: str, sizes: list[tuple[int, int, int]], repeats: int) -> None:
    title = {"bptt": "BPTT", "rtrl": "RTRL"}[kind]
    print(f"\n## {title} against JAX (jit, float64, CPU)")
    print(
        "| n | T | batch | bioplastic (ms) | JAX (ms) | JAX / bioplastic | JAX compile (s) |"
        " max abs diff |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n, T, batch in sizes:
        net, x, y = problem(n, T, batch)
        ours = best_time(lambda: bp.gradient(net, x, y, rule=kind), repeats)
        peer = jax_in_subprocess(kind, n, T, batch, repeats)
        if peer is None:
            print(f"| {n} | {T} | {batch} | {ours * 1e3:.2f} | (jax not installed) | | | |")
            continue
        print(
            f"| {n} | {T} | {batch} | {ours * 1e3:.2f} | {peer['seconds'] * 1e3:.2f} | "
            f"{peer['seconds'] / ours:.2f} | {peer['compile']:.1f} | {peer['max_abs_diff']:.1e} |",
            flush=True,
        )


def _rule_time(rule_cls, spent: list[float]):
    """Wrap a rule class's ``step`` and ``read`` to add their time to ``spent[0]``."""
    step, read = rule_cls.step, rule_cls.read

    def timed(fn):
        def wrapper(self, *args):
            t0 = time.perf_counter()
            out = fn(self, *args)
            spent[0] += time.perf_counter() - t0
            return out

        return wrapper

    rule_cls.step, rule_cls.read = timed(step), timed(read)
    return step, read


def bench_online(rules: list[str], n_trials: int) -> None:
    from bioplastic.optim import SGD
    from bioplastic.rules import RULES
    from bioplastic.tasks import Add
    from bioplastic.training import fused

    print("\n## The online step, n = 32, batch 1: forward, error, rule, SGD update every step")
    print(
        "| rule | compiled (µs / step) | numpy (µs / step) | numpy / compiled |"
        " numpy path: the rule's step and read | numpy path: plumbing |"
    )
    print("|---|---|---|---|---|---|")
    task = Add(t1=4, t2=5, hold=2, chunk=100, test_steps=100, test_warmup=20)
    net = bp.LeakyRNN.random(2, 32, 2, tau=2.0, seed=0, g=1.0, init="marschall")
    kw = dict(
        update="online", update_every=1, optimizer=SGD(lr=1e-4), eval_every=10**6, n_eval=1, seed=0
    )
    for rule in rules:
        opts = {"rule_options": {"truncation": 10}} if rule == "tbptt" else {}
        bp.train(net, task, rule, n_trials=2, **kw, **opts)  # compile (cached on disk), warm up
        t0 = time.perf_counter()
        bp.train(net, task, rule, n_trials=n_trials, **kw, **opts)
        fast = (time.perf_counter() - t0) / (100 * n_trials)
        slow_trials = max(2, n_trials // 5)
        spent = [0.0]
        original = _rule_time(RULES[rule], spent)
        try:
            with kernels.disabled():
                t0 = time.perf_counter()
                bp.train(net, task, rule, n_trials=slow_trials, **kw, **opts)
                slow = (time.perf_counter() - t0) / (100 * slow_trials)
        finally:
            RULES[rule].step, RULES[rule].read = original
        own = spent[0] / (100 * slow_trials)
        compiled = rule in fused.KINDS and kernels.available()
        f = f"{fast * 1e6:.1f}" if compiled else "—"
        ratio = f"{slow / fast:.1f}" if compiled else "—"
        print(
            f"| {rule} | {f} | {slow * 1e6:.1f} | {ratio} | {own * 1e6:.1f} | "
            f"{(slow - own) * 1e6:.1f} |",
            flush=True,
        )
    # the plumbing alone: W_rec, W_in and b frozen, so the rule carries no influence at all
    frozen = bp.LeakyRNN(**net.params, tau=2.0, plastic=["W_out", "b_out"])
    bp.train(frozen, task, "rflo", n_trials=2, **kw)
    t0 = time.perf_counter()
    bp.train(frozen, task, "rflo", n_trials=n_trials, **kw)
    floor = (time.perf_counter() - t0) / (100 * n_trials)
    print(
        f"| the plumbing alone (only W_out, b_out learn) | {floor * 1e6:.1f} | | | | |",
        flush=True,
    )


def bench_threads(sizes: list[tuple[int, int]], repeats: int) -> None:
    from threadpoolctl import threadpool_limits

    from bioplastic import _threads

    print("\n## BPTT, batch 32: one thread, bioplastic's threads over trials, BLAS's threads")
    print(
        "| n | T | one thread (ms) | bioplastic's 2 threads over trials (ms) | speed-up |"
        " BLAS's 2 threads on every product (ms) |"
    )
    print("|---|---|---|---|---|---|")
    _threads._get_controller()
    default = list(_threads._default)
    for n, T in sizes:
        net, x, y = problem(n, T, 32)
        batch = bp.objective.prepare(net, x, y)
        rule = bp.rules.make_rule("bptt", {})
        B = np.ascontiguousarray(net.params["W_out"].T)
        times = []
        try:  # evaluate() leaves the BLAS threads as they are; split_ranges reads _default
            for blas, ours in ((1, 1), (1, 2), (2, 1)):
                _threads._default[:] = [ours]
                with threadpool_limits(blas, user_api="blas"):
                    times.append(best_time(lambda: _evaluate(net, batch, rule, B), repeats))
        finally:
            _threads._default[:] = default
        print(
            f"| {n} | {T} | {times[0] * 1e3:.2f} | {times[1] * 1e3:.2f} | "
            f"{times[0] / times[1]:.2f} | {times[2] * 1e3:.2f} |",
            flush=True,
        )


FIRST_CALLS = """
import json, time, numpy as np, bioplastic as bp
from bioplastic.optim import SGD
from bioplastic.tasks import Add
net = bp.LeakyRNN.random(2, 8, 2, tau=2.0, seed=0)
x = np.zeros((2, 5, 2))
t0 = time.perf_counter()
bp.gradient(net, x, x, rule="bptt")
t1 = time.perf_counter()
bp.train(net, Add(t1=2, t2=3, hold=2, chunk=20, test_steps=40, test_warmup=10), "rflo",
         n_trials=1, update="online", optimizer=SGD(lr=1e-4), n_eval=1)
t2 = time.perf_counter()
print(json.dumps({"bptt": t1 - t0, "online": t2 - t1}))
"""


def bench_compile() -> None:
    """First calls in fresh processes: with an empty numba cache, then with the one it wrote."""
    import os
    import tempfile

    print("\n## The compiled kernels' first call in a fresh process (s)")
    print("| | BPTT (forward and credit loops) | online RFLO chunk |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("compile (empty cache)", "load from numba's cache"):
            out = subprocess.run(
                [sys.executable, "-c", FIRST_CALLS],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            t = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"| {label} | {t['bptt']:.2f} | {t['online']:.2f} |", flush=True)


def _evaluate(net, batch, rule, B):
    from bioplastic.gradient import evaluate

    return evaluate(net, batch, rule, B, np.random.default_rng(0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--jax", nargs=5, help=argparse.SUPPRESS)  # internal: one JAX timing
    args = ap.parse_args()
    if args.jax:
        kind, *rest = args.jax
        n, T, batch, repeats = map(int, rest)
        print(json.dumps(jax_time(kind, n, T, batch, repeats)))
        return
    print(
        f"bioplastic {bp.__version__}, numpy {np.__version__}, compiled kernels "
        f"{'on' if kernels.available() else 'off: ' + str(kernels.NUMBA_ERROR)}"
    )
    if args.quick:
        bench_jax("bptt", [(16, 50, 8)], 3)
        bench_online(["rflo", "rtrl"], 4)
        bench_threads([(32, 50)], 3)
        bench_compile()
    else:
        bench_jax("bptt", [(4, 200, 32), (32, 200, 32), (64, 200, 32), (128, 500, 32)], 15)
        bench_jax("rtrl", [(32, 200, 1)], 5)
        bench_online(
            ["rflo", "eprop", "snap1", "rtrl", "uoro", "kf_rtrl", "rkf_rtrl", "tbptt", "bptt"], 50
        )
        bench_threads([(32, 200), (64, 200), (128, 500), (512, 200)], 5)
        bench_compile()


if __name__ == "__main__":
    main()
