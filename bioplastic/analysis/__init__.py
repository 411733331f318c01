"""Opening trained networks up: fixed points, trajectories, and how two solutions compare.

Everything works on a :class:`~bioplastic.LeakyRNN` with trials, or straight on a saved run
(a ``.nc`` file or its Dataset, whose held-out trials are used); results are labelled xarray
Datasets.

* :func:`find_fixed_points` (:mod:`.fixed_points`): fixed and slow points at a held input,
  Sussillo & Barak 2013, classified by the Jacobian's eigenvalues.
* :func:`pca`, :func:`project`, :func:`spectrum` (:mod:`.trajectories`): population
  trajectories in PC space, and the linearised dynamics along them.
* :func:`linear_cka`, :func:`procrustes_distance`, :func:`cca_distance`
  (:mod:`.similarity`): how alike two networks' states on the same trials are.
* :func:`analyse` (:mod:`.report`): all of it for one run, as ``bioplastic analyse run.nc``.
"""

from .dynamics import jacobian, step_map
from .fixed_points import KINDS, classify, find_fixed_points, match, speed
from .report import analyse, compare, match_fixed_points, plot_analysis
from .similarity import cca_distance, linear_cka, procrustes_distance
from .trajectories import pca, project, spectrum

__all__ = [
    "KINDS",
    "analyse",
    "cca_distance",
    "classify",
    "compare",
    "find_fixed_points",
    "jacobian",
    "linear_cka",
    "match",
    "match_fixed_points",
    "pca",
    "plot_analysis",
    "procrustes_distance",
    "project",
    "spectrum",
    "speed",
    "step_map",
]
