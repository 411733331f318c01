"""Tasks: seeded generators of :class:`Trials`, one file per family, found by name in TASKS."""

from .base import Task, Trials, task_config
from .periodic import PeriodicOutput, periodic_target

TASKS: dict[str, type] = {cls.name: cls for cls in (PeriodicOutput,)}

__all__ = ["Task", "Trials", "TASKS", "task_config", "PeriodicOutput", "periodic_target"]
