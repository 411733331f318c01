"""A run in progress: the network, the feedback, the optimizer and rule state, the generators,
the history, and a snapshot of all of it after the last completed update."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..network import LeakyRNN
from ..rules.reward import Baseline
from .records import History

__all__ = ["RunState"]


@dataclass
class RunState:
    """Everything here is written to the checkpoint."""

    net: LeakyRNN
    B: np.ndarray  # the current feedback matrix
    opt_state: Any
    rngs: dict[str, np.random.Generator]
    done: int = 0  # updates completed
    history: History = field(default_factory=History)
    status: str = "running"
    message: str = ""
    # continuing streams: what carries over from one chunk to the next
    stream: Any = None
    h: np.ndarray | None = None
    rule_state: Any = None
    td: dict | None = None  # TD(λ): {"z": eligibility traces per parameter, "prev": ŷ_{t-1}}
    baseline: Baseline | None = None  # a reward rule's running baseline (rules/reward.py)
    committed: dict | None = None  # the state after the last completed update

    def commit(self) -> None:
        """Remember the state after a completed update (one atomic assignment)."""
        rng = self.rngs["rule"]
        self.committed = {
            "done": self.done,
            "net": self.net,
            "B": self.B,
            "opt_state": self.opt_state,
            "rngs": {k: g.bit_generator.state for k, g in self.rngs.items()},
            "stream": None if self.stream is None else self.stream.state(),
            "h": None if self.h is None else self.h.copy(),
            # the rule's generator is shared with the run: keep it out of the copy
            "rule_state": copy.deepcopy(self.rule_state, memo={id(rng): rng}),
            "td": copy.deepcopy(self.td),
            "baseline": copy.deepcopy(self.baseline),
            "lengths": self.history.lengths(),
        }

    def rollback(self) -> None:
        """Return to the last completed update (after an interruption or a divergence)."""
        c = self.committed
        self.done, self.net, self.B, self.opt_state = c["done"], c["net"], c["B"], c["opt_state"]
        for k, st in c["rngs"].items():
            self.rngs[k].bit_generator.state = st
        if c["stream"] is not None:
            self.stream.restore(c["stream"])
        rng = self.rngs["rule"]
        self.h = c["h"]
        self.rule_state = copy.deepcopy(c["rule_state"], memo={id(rng): rng})
        self.td = copy.deepcopy(c["td"])
        self.baseline = copy.deepcopy(c["baseline"])
        self.history.truncate(*c["lengths"])
