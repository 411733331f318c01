"""Learning rules = temporal credit × spatial feedback, found by name in :data:`RULES`.

One file per temporal-credit method; :mod:`.feedback` holds the spatial feedback.  A new rule
is one file: a frozen dataclass (its fields are its options) with ``name``,
``default_feedback``, a per-trial ``gradient`` and an online ``init`` / ``step`` / ``read``,
decorated with :func:`register` and imported here.  Rules that learn from a scalar reward
(``signal = "reward"``: node perturbation, Miconi's) have the same two faces over the noise and
the reward instead of the output error (:mod:`.reward`).
"""

from . import (  # noqa: F401  (registration)
    bptt,
    dni,
    ebptt,
    eprop,
    fbptt,
    kernl,
    kf_rtrl,
    miconi,
    node_perturbation,
    ok,
    rflo,
    rkf_rtrl,
    rtrl,
    snap,
    snap1,
    tbptt,
    uoro,
)
from .base import RULES, Step, make_rule, register
from .bptt import BPTT
from .dni import DNI
from .ebptt import EBPTT
from .eprop import EProp
from .fbptt import FBPTT
from .feedback import FEEDBACKS, feedback_matrix, random_feedback
from .kernl import KeRNL
from .kf_rtrl import KFRTRL
from .miconi import Miconi
from .node_perturbation import NodePerturbation
from .ok import OK
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
    "DNI",
    "RTRL",
    "RTRLState",
    "TBPTT",
    "NodePerturbation",
    "Miconi",
    "FBPTT",
    "EBPTT",
    "RFLO",
    "EProp",
    "SnAp",
    "SnAp1",
    "UORO",
    "KFRTRL",
    "OK",
    "RKFRTRL",
    "KeRNL",
]
