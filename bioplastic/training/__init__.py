"""Training: a rule's estimates turned into weight changes, recorded as one labelled Dataset.

The package follows the data of a run:

| module | holds |
|---|---|
| :mod:`.settings` | the settings (``TrainingConfig``, ``Settings``), :func:`validate`, seeds |
| :mod:`.run` | the fixed parts of a run: its rule, held-out trials, initial state, provenance |
| :mod:`.state` | a run in progress, its snapshot after each update, and the rollback |
| :mod:`.updates` | one weight update, per trial or online, and applying it |
| :mod:`.evaluation` | the held-out trials, probes, and the rule's own alignment |
| :mod:`.records` | what is recorded, in one table, and the history that holds it |
| :mod:`.dataset` | the run as one labelled Dataset |
| :mod:`.checkpoint` | a saved run read back: its network, held-out trials, the state to go on |
| :mod:`.signals` | Ctrl-C and SIGTERM, acted on between updates |
| :mod:`.loop` | the loop, and its entry points :func:`train` and :func:`resume` |
| :mod:`.td_stream` | :func:`learn_td`: online TD(λ) on one stream, with a model that may grow |
| :mod:`.td_learner` | its learner: state, credit, eligibility, growth, generate and test |

Where the next capabilities go: a new objective (a TD error) is a file in
:mod:`bioplastic.objectives` and its ``@register`` line; a reward-based rule (node perturbation,
Miconi's) is a file in :mod:`bioplastic.rules` with its ``@register`` line, seeing each step's
output error in the same ``Step`` as every rule (the noise it injects needs process noise in
the network's step, which :class:`~bioplastic.LeakyRNN` does not have yet); a growing network
is a network class with the same ``step`` / ``forward`` / ``evolve`` / ``project`` as
:class:`~bioplastic.LeakyRNN`.  None of them edits the loop.
"""

from .checkpoint import held_out
from .loop import CHECKPOINT_SECONDS, resume, run_loop, train
from .run import Run
from .settings import STREAMS, Settings, TrainingConfig, streams, validate
from .td_stream import Growth, Replacement, learn_td

__all__ = [
    "train",
    "learn_td",
    "Growth",
    "Replacement",
    "resume",
    "held_out",
    "validate",
    "TrainingConfig",
    "Settings",
    "Run",
    "run_loop",
    "streams",
    "STREAMS",
    "CHECKPOINT_SECONDS",
]
