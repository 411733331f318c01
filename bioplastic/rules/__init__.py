"""Learning rules = temporal credit × spatial feedback, found by name in :data:`RULES`.

One file per temporal-credit method; :mod:`.feedback` holds the spatial feedback.  A new rule
is one file: a frozen dataclass (its fields are its options) with ``name``,
``default_feedback``, a per-trial ``gradient`` and an online ``init`` / ``step`` / ``read``,
decorated with :func:`register` and imported here.
"""

from . import bptt, eprop, kf_rtrl, rflo, rkf_rtrl, rtrl, snap, snap1, tbptt, uoro  # noqa: F401
from .base import RULES, Step, make_rule, register
from .bptt import BPTT
from .eprop import EProp
from .feedback import FEEDBACKS, feedback_matrix, random_feedback
from .kf_rtrl import KFRTRL
from .online import run_online
from .rflo import RFLO
from .rkf_rtrl import RKFRTRL
from .rtrl import RTRL, RTRLState
from .snap import SnAp
from .snap1 import SnAp1
from .tbptt import TBPTT
from .uoro import UORO

__all__ = [
    "RULES",
    "FEEDBACKS",
    "Step",
    "make_rule",
    "register",
    "feedback_matrix",
    "random_feedback",
    "run_online",
    "BPTT",
    "RTRL",
    "RTRLState",
    "TBPTT",
    "RFLO",
    "EProp",
    "SnAp",
    "SnAp1",
    "UORO",
    "KFRTRL",
    "RKFRTRL",
]
