"""bioplastic: leaky recurrent networks, biologically plausible learning rules, exact gradients.

>>> import numpy as np, bioplastic as bp
>>> net = bp.LeakyRNN.random(n_in=2, n_rec=20, n_out=1, tau=10.0, seed=0)
>>> x = np.zeros((4, 50, 2)); target = np.ones((4, 50, 1))
>>> g = bp.gradient(net, x, target, rule="bptt")
>>> sorted(g) == sorted(net.params)
True
"""

from . import optim, rules, tasks, verify
from ._scratch import release as release_scratch
from ._version import __version__
from .activations import ACTIVATIONS, Activation
from .alignment import alignment
from .gradient import gradient
from .lstm import LSTM
from .network import PARAM_NAMES, LeakyRNN, Trajectory
from .objective import NonFiniteError, loss
from .results import load, save
from .rules import RULES
from .sweeps import sweep
from .training import Growth, Replacement, learn_td, resume, train

__all__ = [
    "LeakyRNN",
    "LSTM",
    "learn_td",
    "Growth",
    "Replacement",
    "Trajectory",
    "loss",
    "NonFiniteError",
    "release_scratch",
    "gradient",
    "alignment",
    "train",
    "resume",
    "sweep",
    "save",
    "load",
    "tasks",
    "optim",
    "rules",
    "verify",
    "RULES",
    "ACTIVATIONS",
    "Activation",
    "PARAM_NAMES",
    "__version__",
]
