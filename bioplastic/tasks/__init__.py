"""Tasks: seeded generators of :class:`Trials`, one file per family, found by name in TASKS.

| name | class | after |
|---|---|---|
| ``periodic`` | :class:`PeriodicOutput` | Murray 2019, Fig. 2 |
| ``interval`` | :class:`IntervalMatching` | Murray 2019, Fig. 3 |
| ``ready_set_go`` | :class:`ReadySetGo` | Jazayeri & Shadlen 2015 |
| ``reaching`` | :class:`CenterOutReaching` | Georgopoulos et al. 1982; Sussillo et al. 2015 |
| ``drawing`` | :class:`CuedDrawing` | cued closed-curve drawing |
| ``cued_sine`` | :class:`CuedSine` | Sussillo & Abbott 2009 |
"""

from .base import Task, Trials, task_config
from .motor import CURVES, CenterOutReaching, CuedDrawing, CuedSine, minimum_jerk
from .periodic import PeriodicOutput, periodic_target
from .timing import IntervalMatching, ReadySetGo, gaussian_bump

TASKS: dict[str, type] = {
    cls.name: cls
    for cls in (
        PeriodicOutput,
        IntervalMatching,
        ReadySetGo,
        CenterOutReaching,
        CuedDrawing,
        CuedSine,
    )
}

__all__ = [
    "Task",
    "Trials",
    "TASKS",
    "task_config",
    "PeriodicOutput",
    "periodic_target",
    "IntervalMatching",
    "ReadySetGo",
    "gaussian_bump",
    "CenterOutReaching",
    "CuedDrawing",
    "CuedSine",
    "minimum_jerk",
    "CURVES",
]
