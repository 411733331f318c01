"""The held-out trials, every ``eval_every`` updates: their loss, the weights' statistics, and
how the rules compare with the exact gradient there (probes; the training rule's own)."""

from __future__ import annotations

import numpy as np

from ..alignment import PARAM_GROUPS, alignment
from ..gradient import evaluate as estimate
from ..network import PARAM_NAMES
from ..objective import loss_value, prepare
from .run import Run
from .state import RunState
from .updates import compare

__all__ = ["evaluate", "own_alignment"]


def evaluate(run: Run, state: RunState, record: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Run the held-out trials; with ``record``, append their loss and the weight statistics
    (and the probes, and the rule's own alignment) to the history.  Returns the outputs and
    rates of the recorded window ``(example, time, ·)``."""
    net, ev = state.net, run.eval_trials
    batch = prepare(net, ev.x, ev.target, ev.mask, run.h0, run.loss)
    trace = net.forward(batch.x, batch.h0)
    if record:
        hist = state.history
        p = net.params
        if run.probe:  # on a stream, on the recorded window (and its warm-up) only
            upto = slice(None, run.window.stop)
            a = alignment(
                net,
                ev.x[:, upto],
                ev.target[:, upto],
                run.probe,
                reference="bptt",
                mask=None if ev.mask is None else ev.mask[:, upto],
                seed=run.settings.seed + hist.n_evaluations,
                h0=run.h0,
                pairwise=True,
                loss=run.loss,
            )
            hist.append("probe_cosine", a["cosine"].values)
            hist.append("probe_pairwise", a["pairwise_cosine"].values)
        if run.exact is not None:
            hist.append("eval_alignment", own_alignment(run, state))
        hist.append("eval_at", run.settings.seen(state.done))
        hist.append("eval_loss", loss_value(trace, batch))
        hist.append("spectral_radius", float(np.max(np.abs(np.linalg.eigvals(p["W_rec"])))))
        hist.append("weight_norm", [float(np.linalg.norm(p[k])) for k in PARAM_NAMES])
    w = run.window
    return (
        trace.outputs[w].transpose(1, 0, 2).copy(),
        trace.rates[1:][w].transpose(1, 0, 2).copy(),
    )


def own_alignment(run: Run, state: RunState) -> list[float]:
    """The training rule's estimate, with the run's feedback of the moment, against the exact
    gradient on the held-out trials (a stream's: its recorded window and warm-up).  Stochastic
    rules draw from a generator of their own, not the run's."""
    net, ev, upto = state.net, run.eval_trials, slice(None, run.window.stop)
    mask = None if ev.mask is None else ev.mask[:, upto]
    batch = prepare(net, ev.x[:, upto], ev.target[:, upto], mask, run.h0, run.loss)
    rng = np.random.default_rng(run.settings.seed + state.history.n_evaluations)
    B = np.ascontiguousarray(net.params["W_out"].T) if run.symmetric else state.B
    _, grads = estimate(net, batch, run.rule, B, rng)
    W_outT = np.ascontiguousarray(net.params["W_out"].T)
    _, exact = estimate(net, batch, run.exact, W_outT, rng)
    return [compare(grads, exact, group)[0] for group in PARAM_GROUPS.values()]
