"""Speed of every learning rule, against the floor (one forward run).

    python benchmarks/bench_rules.py            # n ∈ {16, 32, 64, 128}, T = 500, batch 1 and 32
    python benchmarks/bench_rules.py --quick    # n ∈ {16, 32}, T = 100
    python benchmarks/bench_rules.py --rules uoro rflo    # some rules only

For each rule it prints:

* per trial: the time of ``gradient(rule=...)`` divided by one ``net.run`` (float64, tanh,
  rate form, 2 inputs, 2 outputs);
* online: the time of one ``step`` of the rule's online face, in µs (the step's inputs are
  prepared beforehand, as a running simulation would hand them over).

Times are the best of several interleaved repeats.  RTRL is left out above n = 64 per trial
(its n⁴ step makes one T = 500 trial take minutes); its own benchmark is bench_exact.py.
"""

from __future__ import annotations

import argparse

import numpy as np
from timing import best_times

import bioplastic as bp
from bioplastic.gradient import rule_streams
from bioplastic.objective import output_error, prepare
from bioplastic.rules import RULES
from bioplastic.rules.base import direct_credit, is_reward, steps
from bioplastic.rules.feedback import feedback_matrix
from bioplastic.rules.reward import reward_steps

OPTIONS = {
    "tbptt": {"truncation": 10},
    "fbptt": {"truncation": 10},
    "ebptt": {"truncation": 10},
    "snap": {"n": 2},
}
N_IN = N_OUT = 2


def online_step_time(rule_name: str, net, x, y, n_steps: int) -> float:
    """Seconds per online step over the first ``n_steps`` steps."""
    rule = bp.rules.make_rule(rule_name, OPTIONS.get(rule_name, {}))
    batch = prepare(net, x, y)
    fb, rng = rule_streams(0)
    if is_reward(rule):  # the eligibility's steps (the reward comes at the end)
        noise = rule.noise(net, x.shape[0], x.shape[1], rng)
        trace = net.forward(batch.x, batch.h0, noise=noise.units)
        sts = list(reward_steps(net, trace, noise))[:n_steps]
    else:
        B = feedback_matrix(net, rule.default_feedback, fb)
        trace = net.forward(batch.x, batch.h0, derivatives=True)
        e = output_error(trace, batch)
        sts = list(steps(net, trace, e, direct_credit(net, trace, e, B)))[:n_steps]

    def run():
        state = rule.init(net, x.shape[0], rng)
        for st in sts:
            state = rule.step(state, net, st)

    return best_times([run], 2)[0] / len(sts)


def net_for(rule: str, net: bp.LeakyRNN) -> bp.LeakyRNN:
    """The network itself; for Miconi's rule, which learns the recurrent side only, the same
    network with its readout frozen."""
    if rule != "miconi":
        return net
    return bp.LeakyRNN(**net.params, alpha=net.alpha, plastic=("W_rec", "W_in", "b"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--rules", nargs="+", choices=sorted(RULES), default=sorted(RULES), help="(default: all)"
    )
    args = ap.parse_args()
    sizes, T = ([16, 32], 100) if args.quick else ([16, 32, 64, 128], 500)
    names = sorted(args.rules)
    for batch in (1, 32):
        print(
            f"\n## batch {batch}, T = {T}: per-trial time / one forward run  |  online µs per step"
        )
        print("| n | run (ms) | " + " | ".join(names) + " |")
        print("|---|---|" + "---|" * len(names))
        for n in sizes:
            net = bp.LeakyRNN.random(N_IN, n, N_OUT, tau=10.0, seed=0)
            rng = np.random.default_rng(0)
            x = rng.standard_normal((batch, T, N_IN))
            y = rng.standard_normal((batch, T, N_OUT))
            runnable = [r for r in names if not (r == "rtrl" and n > 64)]
            fns = [lambda: net.run(x)] + [
                (lambda r=r: bp.gradient(net_for(r, net), x, y, rule=r, **OPTIONS.get(r, {})))
                for r in runnable
            ]
            t = best_times(fns, 3 if n <= 64 else 2)
            ratio = dict(zip(runnable, (v / t[0] for v in t[1:])))
            n_steps = 20 if n >= 64 else 100
            online = {
                r: online_step_time(r, net_for(r, net), x, y, n_steps) * 1e6 for r in runnable
            }
            cells = [f"{ratio[r]:.2f}× / {online[r]:.0f} µs" if r in ratio else "—" for r in names]
            print(f"| {n} | {t[0] * 1e3:.2f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
