"""Run bioplastic networks, and RFLO, in Brian2 (Stimberg, Brette & Goodman 2019, eLife 8:e47314).

* :func:`to_brian2` / :func:`simulate_brian2`: a :class:`~bioplastic.LeakyRNN` as a Brian2
  ``NeuronGroup`` + ``Synapses`` model (:mod:`bioplastic.brian.network`);
* :func:`rflo_brian2`: Murray's RFLO as a Brian2 plasticity rule (:mod:`bioplastic.brian.rflo`);
* :func:`ode_solution`: the network's ODE solved by SciPy, the continuous-time reference
  (:mod:`bioplastic.brian.ode`).

Importing this module imports Brian2; ``import bioplastic`` alone does not.
"""

from ._common import CODEGEN_TARGETS
from .network import METHODS, Brian2Model, simulate_brian2, to_brian2, trajectory_dataset
from .ode import ode_solution
from .rflo import RFLOBrian2, rflo_brian2

__all__ = [
    "to_brian2",
    "simulate_brian2",
    "trajectory_dataset",
    "Brian2Model",
    "CODEGEN_TARGETS",
    "METHODS",
    "ode_solution",
    "rflo_brian2",
    "RFLOBrian2",
]
