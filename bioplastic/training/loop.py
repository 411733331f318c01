"""The loop: updates, evaluations and checkpoints until the run ends, and its two entry points,
:func:`train` and :func:`resume`.

Every run is seeded: the task, the rule's own randomness, the random feedback and the evaluation
trials each draw from an independent stream of one ``np.random.SeedSequence(seed)``, so the
same seed gives bitwise-identical results, and a run resumed from its checkpoint equals one that
was never interrupted.

Nothing is lost: a run writes its Dataset atomically to ``out`` every ``checkpoint_every``
updates and at the end; a NaN or inf stops it with status ``"diverged"``; Ctrl-C or SIGTERM
stops it after the update in progress with status ``"interrupted"`` (:mod:`.signals`).
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike
from tqdm.auto import tqdm

from .._threads import blas_threads_for
from ..errors import NonFiniteError
from ..network import LeakyRNN
from ..optim import SGD, Adam
from ..results import config_of, load, output_lock, save
from ..rules.base import is_reward
from ..rules.feedback import feedback_matrix
from ..rules.reward import Baseline
from . import updates
from .checkpoint import restore
from .dataset import to_dataset
from .evaluation import evaluate
from .run import Run
from .settings import Settings, optimizer_config, streams
from .signals import stop_on_signal
from .state import RunState

__all__ = ["train", "resume", "run_loop", "CHECKPOINT_SECONDS"]

CHECKPOINT_SECONDS = 30.0  # the default checkpoint interval, in wall-clock time


def train(
    net: LeakyRNN,
    task: Any,
    rule: str = "bptt",
    *,
    rule_options: Mapping[str, Any] | None = None,
    feedback: str | ArrayLike | None = None,
    optimizer: SGD | Adam | None = None,
    n_trials: int = 1000,
    batch_size: int = 1,
    update: str = "trial",
    update_every: int | None = None,
    align_with: str | None = None,
    probe: Sequence[str | Mapping[str, Any]] = (),
    eval_every: int = 100,
    n_eval: int = 4,
    h0: str | float = "zeros",
    kp_decay: float = 1e-3,
    teacher_forcing: bool = False,
    loss: str | None = None,
    mean_over_time: bool = False,
    td: Mapping[str, float] | None = None,
    seed: int = 0,
    progress: bool | None = None,
    out: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    overwrite: bool = False,
    config: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Train ``net`` on ``task`` with a learning rule; return the run as a Dataset.

    Parameters
    ----------
    net, task:
        The network and a task (e.g. :class:`bioplastic.tasks.PeriodicOutput`) with matching
        ``n_in`` and ``n_out``.
    rule, rule_options, feedback:
        As for :func:`bioplastic.gradient`.  ``feedback="adaptive"`` is Kolen–Pollack: the
        feedback matrix receives the transpose of every ``W_out`` update, and both decay by
        ``kp_decay`` per update (Akrout et al. 2019).
    optimizer:
        :class:`~bioplastic.optim.SGD` (default, lr 0.01) or :class:`~bioplastic.optim.Adam`;
        both clip the gradient norm when given ``clip_norm``.
    n_trials, batch_size:
        Trials in all, and trials per weight update.
    update, update_every:
        ``"trial"`` (once per batch) or ``"online"`` (every ``update_every`` steps within the
        trial; needs a rule with an online face, which all have).
    align_with:
        None, ``"bptt"`` or ``"rtrl"``: at every evaluation, record ``eval_alignment
        (evaluation, param)``, the cosine between the training rule's estimate (with the run's
        feedback ``B`` of the moment) and the exact gradient on the held-out trials: how the
        rule follows the gradient along its own run.  With ``update="trial"``, also each
        update's cosine with, and norm relative to, the exact gradient on the same trials
        (``alignment``, ``norm_ratio``).  Not with teacher forcing.
    probe:
        Rules to compare with the exact gradient at every evaluation, on the held-out trials
        and the weights of the moment, whatever rule trains: names (``"rflo"``) or tables
        with a ``name`` and options (``{"name": "tbptt", "truncation": 10}``).  Records
        ``probe_cosine (evaluation, probe, param)`` with BPTT and ``probe_pairwise
        (evaluation, probe, probe_b, param)`` between the rules (:func:`bioplastic.alignment`).
    eval_every, n_eval:
        Every ``eval_every`` updates (and at the start and end), run fixed held-out trials and
        record their loss, the spectral radius of ``W_rec`` and the weight norms.  The
        held-out trials are the task's ``every_condition()`` (one trial per condition) when it
        has one, else ``n_eval`` trials it samples.
    h0:
        ``"zeros"``; ``"random"``: one fixed initial state ``N(0, 0.5²)`` per unit, drawn from
        the seed and used for every trial; or a number: every unit starts there (Murray's
        code starts at 0.1).  A task without input needs a nonzero one.
    teacher_forcing:
        For a Williams–Zipser network (rate form, α = 1, each output reading one unit with
        weight 1): after each step, the units the outputs read are replaced by their targets,
        and their influence on the parameters is reset to 0 (Williams & Zipser 1989, sec. 4).
        Past-facing rules only.
    loss:
        ``"mse"``, ``"softmax_xent"`` or ``"absolute"``; None takes the task's (``task.loss``,
        else ``"mse"``).
    mean_over_time:
        Divide each estimate by the trial's number of steps before the optimiser sees it: the
        gradient of the loss averaged over time, as in Murray 2019's code (whose learning
        rates then carry over unchanged across trial lengths).  The recorded losses are
        unaffected.
    td:
        ``{"gamma": γ, "lambda": λ}``: learn online by TD(λ) to predict the discounted return
        of the task's cumulant (a stream with ``cumulant_index``, e.g. trace patterning), the
        rule supplying the gradient of the prediction (:mod:`bioplastic.training.td`).  One
        stream, one output, ``update="online"``, ``update_every=1``.  The recorded losses are
        ``½ Σ (ŷ − G)²`` against the true return ``G``.
    seed:
        Seeds everything random in the run.
    progress:
        Show a tqdm bar; by default only on a terminal and not under CI.
    out, checkpoint_every:
        Save the Dataset atomically to ``out`` (``.nc``) every ``checkpoint_every`` updates
        (default: every 30 s of wall-clock time) and when the run ends, whatever the reason.
        Where checkpoints fall never changes the results.  An existing ``out`` is not
        replaced unless ``overwrite`` (continue it with :func:`resume`); while the run
        writes, ``out.lock`` keeps a second writer out.
    config:
        Extra provenance stored in the ``config`` attribute (a preset, for example).

    Returns
    -------
    xarray.Dataset
        See the module docstring of :mod:`bioplastic.training` and the README for the variables.
        ``attrs["status"]`` is ``"complete"``, ``"diverged"`` or ``"interrupted"``.
    """

    if not isinstance(net, LeakyRNN):
        hint = (
            "; an LSTM learns online with bp.learn_td, and bp.gradient gives its exact gradients"
            if type(net).__name__ == "LSTM"
            else ""
        )
        raise TypeError(f"net must be a bioplastic.LeakyRNN; got {type(net).__name__}{hint}")
    if out is not None and Path(out).exists() and not overwrite:
        raise FileExistsError(
            f"{out} exists: pass overwrite=True (--overwrite) to replace it, continue it with "
            "bioplastic.resume (--resume), or write to another file"
        )
    optimizer = SGD() if optimizer is None else optimizer
    if not isinstance(optimizer, (SGD, Adam)):
        raise TypeError(
            f"optimizer must be bioplastic.optim.SGD or Adam; got {type(optimizer).__name__}"
        )
    settings = Settings(
        rule=rule,
        rule_options=dict(rule_options or {}),
        feedback=feedback if isinstance(feedback, str) or feedback is None else "array",
        optimizer=optimizer_config(optimizer),
        n_trials=n_trials,
        batch_size=batch_size,
        update=update,
        update_every=update_every,
        align_with=align_with,
        probe=[p if isinstance(p, str) else dict(p) for p in probe],
        eval_every=eval_every,
        n_eval=n_eval,
        h0=h0,
        kp_decay=kp_decay,
        teacher_forcing=teacher_forcing,
        checkpoint_every=checkpoint_every,
        loss=loss,
        mean_over_time=mean_over_time,
        td=None if td is None else dict(td),
        seed=seed,
    )
    run = Run(net, task, settings, optimizer, config or {})
    rngs = streams(seed)
    fb_name = run.rule.default_feedback if feedback is None else feedback
    B = feedback_matrix(net, fb_name, rngs["feedback"])
    state = RunState(net, B, optimizer.init(net.params), rngs)
    if is_reward(run.rule) and run.rule.baseline == "running":
        state.baseline = Baseline(run.rule.baseline_decay)
    if run.continuing:
        state.stream = task.stream(batch_size, rngs["task"])
    return run_loop(run, state, progress, None if out is None else Path(out))


def resume(path: str | os.PathLike, *, progress: bool | None = None) -> xr.Dataset:
    """Continue the run saved at ``path`` from its last checkpoint, writing to the same file.

    The result is bitwise identical to a run that was never interrupted.  A complete run is
    returned as it is.
    """
    ds = load(path)
    config_of(ds, path)  # a foreign file is named in the error
    if ds.attrs.get("status") == "complete":
        return ds
    run, state = restore(ds)
    initial_eval = (
        ds["eval_output"].sel(stage="initial").values,
        ds["eval_rates"].sel(stage="initial").values,
    )
    return run_loop(run, state, progress, Path(path), initial_eval)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else np.nan


def run_loop(
    run: Run,
    state: RunState,
    progress: bool | None,
    out: Path | None,
    initial_eval: tuple[np.ndarray, np.ndarray] | None = None,
) -> xr.Dataset:
    """Update until the run ends (complete, diverged or interrupted); save and return it."""
    if out is not None and out.suffix != ".nc":
        raise ValueError(f"out must end in .nc; got {str(out)!r}")
    with output_lock(out) if out is not None else nullcontext(), blas_threads_for(state.net.n_rec):
        return _loop(run, state, progress, out, initial_eval)


def _loop(run, state, progress, out, initial_eval) -> xr.Dataset:
    s = run.settings
    if initial_eval is None:
        initial_eval = evaluate(run, state)
    show = progress if progress is not None else (sys.stderr.isatty() and not os.environ.get("CI"))
    bar = tqdm(
        total=s.n_trials, initial=s.seen(state.done), disable=not show, unit="trial", desc=s.rule
    )
    last_save = time.monotonic()
    state.commit()
    # overflow is checked explicitly (NonFiniteError), so numpy need not warn about it
    with bar, stop_on_signal() as stop, np.errstate(over="ignore", invalid="ignore"):
        try:
            while state.done < s.n_updates:
                stop.check()
                loss = updates.update(run, state)
                if not np.isfinite(loss):
                    raise NonFiniteError(f"the loss is {loss}")
                state.history.append("loss", loss)
                state.history.append(
                    "readout_alignment",
                    _cosine(state.net.params["W_out"].T.ravel(), state.B.ravel()),
                )
                state.done += 1
                if state.done % s.eval_every == 0 and state.done < s.n_updates:
                    evaluate(run, state)
                state.commit()  # the update and its evaluation, together
                bar.update(s.seen(state.done) - s.seen(state.done - 1))
                if state.done % 10 == 0:
                    bar.set_postfix(loss=f"{loss:.3g}", refresh=False)
                every = s.checkpoint_every
                due = (
                    state.done % every == 0
                    if every is not None
                    else time.monotonic() - last_save >= CHECKPOINT_SECONDS
                )
                if out is not None and due and state.done < s.n_updates:
                    save(to_dataset(run, state, initial_eval, None), out)
                    last_save = time.monotonic()
            state.status = "complete"
        except NonFiniteError as exc:
            state.rollback()
            state.status = "diverged"
            state.message = (
                f"training diverged at trial {s.seen(state.done) + 1} (update {state.done + 1}): "
                f"{exc}. Try a smaller learning rate (now {s.optimizer.get('lr')}) or gradient "
                "clipping (clip_norm)."
            )
        except KeyboardInterrupt:
            state.rollback()
            state.status = "interrupted"
            state.message = (
                f"interrupted after {s.seen(state.done)} trials; "
                "continue with bioplastic.resume(path) or `bioplastic train --resume`"
            )
        ds = to_dataset(run, state, initial_eval, _final_evaluation(run, state))
        if out is not None:
            save(ds, out)
    if state.status == "diverged":  # after saving: even warnings-as-errors lose nothing
        warnings.warn(state.message, RuntimeWarning, stacklevel=3)
    return ds


def _final_evaluation(run: Run, state: RunState) -> tuple[np.ndarray, np.ndarray]:
    """The held-out trials at the end.  They join the history only when the run is complete,
    so that a resumed run's history equals an uninterrupted one's."""
    try:
        return evaluate(run, state, record=state.status == "complete")
    except NonFiniteError:  # the last finite weights already overflow held-out trials
        shape = run.eval_trials.target[:, run.window].shape
        if state.status == "complete":
            state.status = "diverged"
            state.message = "the held-out trials overflow with the final weights"
        return np.full(shape, np.nan), np.full(shape[:2] + (state.net.n_rec,), np.nan)
