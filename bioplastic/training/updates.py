"""One weight update: a rule's estimate on a batch, turned into a change of the weights.

Two ways (Williams & Zipser 1989 call the second "real-time" learning):

* per trial (:func:`trial_update`): the weights are fixed during the batch, the rule's per-trial
  face gives its estimate, and the weights change once;
* online (:func:`online_update`): the batch is stepped in time with the rule's online face, and
  the weights change every ``update_every`` steps (BPTT then backpropagates within each chunk:
  Marschall et al. 2020's E-BPTT with that window, the rule ``ebptt``).

:func:`apply` is the same for both: mean over time if asked, the optimizer, Kolen–Pollack
feedback, the network's constraints (masks, Dale's law).
"""

from __future__ import annotations

import numpy as np

from ..alignment import PARAM_GROUPS
from ..errors import NonFiniteError
from ..gradient import evaluate
from ..network import PARAM_NAMES
from ..objective import error_and_loss, prepare
from ..optim import clip_by_global_norm
from ..rules import reward
from ..rules.base import Step, finalize, is_reward, theta_blocks
from ..rules.online import Sums
from ..tasks.base import Trials
from . import fused
from .run import Run
from .state import RunState
from .td import td_update

__all__ = ["update", "trial_update", "online_update", "apply", "compare"]


def update(run: Run, state: RunState) -> float:
    """Draw the next batch (or stream chunk), update the weights; return the batch's loss."""
    s = run.settings
    if run.continuing:
        trials = state.stream.next()
    else:
        trials = run.task.sample(s.seen(state.done + 1) - s.seen(state.done), state.rngs["task"])
    if s.update == "trial" and not s.teacher_forcing:
        return trial_update(run, state, trials)
    if s.td is not None:
        return td_update(run, state, trials)
    if fused.supported(run, state.net):
        return fused.online_update(run, state, trials)
    return online_update(run, state, trials)


def trial_update(run: Run, state: RunState, trials: Trials) -> float:
    """The rule's per-trial estimate at fixed weights, then one update."""
    net = state.net
    batch = prepare(net, trials.x, trials.target, trials.mask, run.h0, run.loss)
    if is_reward(run.rule):  # noise, each trial's reward, the running baseline
        value, grads, signal = reward.evaluate(
            net, batch, run.rule, state.rngs["rule"], state.baseline, trials.conditions
        )
        state.history.append("reward", signal["reward"])
        state.history.append("reward_baseline", signal["baseline"])
    else:
        # symmetric feedback: B is W_outᵀ from the start and after every update (apply)
        value, grads = evaluate(net, batch, run.rule, state.B, state.rngs["rule"])
    if run.exact is not None:
        W_outT = np.ascontiguousarray(net.params["W_out"].T)
        _, exact = evaluate(net, batch, run.exact, W_outT, state.rngs["rule"])
        pairs = [compare(grads, exact, group) for group in PARAM_GROUPS.values()]
        state.history.append("alignment", [c for c, _ in pairs])
        state.history.append("norm_ratio", [r for _, r in pairs])
    scale = 1.0 / trials.n_steps if run.settings.mean_over_time else 1.0
    norm = clip_by_global_norm({k: grads[k] * scale for k in PARAM_NAMES if k in net.plastic})[1]
    apply(run, state, grads, trials.n_steps)
    state.history.append("grad_norm", norm)
    return value


def online_update(run: Run, state: RunState, trials: Trials) -> float:
    """One batch stepped in time, updating every ``update_every`` steps."""
    s, net = run.settings, state.net
    x, target, mask = trials.x, trials.target, trials.mask
    nB, T, _ = x.shape
    k = s.update_every or T
    if run.continuing and state.h is not None:  # the stream goes on
        h, rule_state = state.h, state.rule_state
    else:
        h = (
            np.zeros((nB, net.n_rec), dtype=net.dtype)
            if run.h0 is None
            else np.tile(run.h0, (nB, 1)).astype(net.dtype)
        )
        rule_state = run.rule.init(net, nB, state.rngs["rule"])
    blocks = [name for name, _ in theta_blocks(net)]
    total = 0.0
    summed: dict[str, np.ndarray] = {}
    for t in range(T):
        p = net.params
        out = net.step(h, x[:, t])
        y = out.rate @ p["W_out"].T + p["b_out"]
        e, value = error_and_loss(
            y, target[:, t], None if mask is None else mask[:, t], nB, run.loss
        )
        total += value
        B = np.ascontiguousarray(p["W_out"].T) if run.symmetric else state.B
        q = e @ B.T
        if out.slope is not None:
            q *= out.slope
        parts = {"W_rec": out.rate_prev, "W_in": x[:, t], "b": np.ones((nB, 1))}
        pre = np.concatenate([parts[b] for b in blocks], axis=1) if blocks else np.empty((nB, 0))
        rule_state = run.rule.step(
            rule_state, net, Step(pre, out.gain, out.slope_prev, q, e, out.rate)
        )
        h = out.state
        if s.teacher_forcing:
            h = _force(run, rule_state, h, target[:, t], None if mask is None else mask[:, t])
        if (t + 1) % k == 0 or t == T - 1:
            grads = finalize(net, run.rule.read(rule_state, net))
            _reset_sums(rule_state, net)
            for name, g in grads.items():
                summed[name] = summed[name] + g if name in summed else g
            apply(run, state, grads, T)
            net = state.net
    if not np.isfinite(total):
        raise NonFiniteError(f"the loss is {total}")
    if run.continuing:
        state.h, state.rule_state = h, rule_state
    plastic = {name: g for name, g in summed.items() if name in net.plastic}
    state.history.append("grad_norm", clip_by_global_norm(plastic, None)[1])
    return total


def _force(run: Run, rule_state, h: np.ndarray, target_t: np.ndarray, mask_t) -> np.ndarray:
    """Teacher forcing (Williams & Zipser 1989, sec. 4): the read-out units take their targets
    (where not masked), and their influence is reset by the rule's ``clamp``."""
    h = h.copy()
    forced = np.zeros(h.shape, dtype=bool)
    for o, unit in enumerate(run.forced_units):
        active = np.ones(h.shape[0], bool) if mask_t is None else mask_t[:, o] > 0
        forced[:, unit] = active
        h[active, unit] = target_t[active, o]
    run.rule.clamp(rule_state, forced)
    return h


def _reset_sums(rule_state, net) -> None:
    """Start a new sum after an online update (and a new BPTT chunk), in place: ``read``
    returned copies."""
    if hasattr(rule_state, "steps"):
        rule_state.clear()
    sums = rule_state.sums
    if sums is None or sums.theta.shape[0] != net.n_rec:
        rule_state.sums = Sums.zeros(net)
        return
    sums.theta.fill(0.0)
    sums.W_out.fill(0.0)
    sums.b_out.fill(0.0)


def apply(run: Run, state: RunState, grads: dict[str, np.ndarray], n_steps: int) -> None:
    """Apply one update from an estimate ``grads`` of a batch of ``n_steps`` steps."""
    net = state.net
    scale = 1.0 / n_steps if run.settings.mean_over_time else 1.0
    plastic = {k: grads[k] * scale for k in PARAM_NAMES if k in net.plastic}
    updates, opt_state = run.optimizer.update(plastic, state.opt_state)
    params = net.params
    decay = run.settings.kp_decay if run.adaptive else 0.0
    learning = net.plastic_masks  # frozen entries stay put, whatever the optimizer's momentum
    updates = {k: np.where(learning[k], u, 0.0) if k in learning else u for k, u in updates.items()}
    # Kolen–Pollack's decay, of W_out's entries that learn and of B's that mirror them
    keep = np.where(learning["W_out"], 1.0 - decay, 1.0) if "W_out" in learning else 1.0 - decay
    new = {}
    for k, u in updates.items():
        p = params[k] * keep if (k == "W_out" and decay) else params[k]
        new[k] = np.asarray(p + u, dtype=net.dtype)
    for k, v in new.items():
        if not np.isfinite(v).all():
            raise NonFiniteError(f"the update of {k} is not finite")
    B = state.B
    if run.adaptive and "W_out" in updates:  # Kolen–Pollack: B follows W_out
        B = B * np.transpose(keep) + updates["W_out"].T
    new_net = net.evolve(net.project(new))
    if run.symmetric:
        B = np.ascontiguousarray(new_net.params["W_out"].T)
    state.net, state.B, state.opt_state = new_net, B, opt_state


def compare(grads, exact, group) -> tuple[float, float]:
    """(cosine, norm ratio) of an estimate with the exact gradient over a parameter group."""
    a = np.concatenate([grads[k].ravel() for k in group])
    b = np.concatenate([exact[k].ravel() for k in group])
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    cos = float(a @ b / (na * nb)) if na > 0 and nb > 0 else np.nan
    return cos, (na / nb if nb > 0 else np.nan)
