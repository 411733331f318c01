"""Learning rules, one file per temporal-credit method, found by name in :data:`RULES`.

A new rule is one file: a frozen dataclass (its fields are its options) with a ``name`` and a
``gradient(net, batch)`` method, decorated with :func:`register`, and imported here.
"""

from . import bptt, rtrl, tbptt  # noqa: F401  (importing registers the rules)
from .base import RULES, Step, make_rule, register
from .bptt import BPTT
from .rtrl import RTRL, RTRLState
from .tbptt import TBPTT

__all__ = ["RULES", "Step", "make_rule", "register", "BPTT", "RTRL", "RTRLState", "TBPTT"]
