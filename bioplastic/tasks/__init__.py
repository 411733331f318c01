"""Tasks: seeded generators of :class:`Trials`, one file per family, found by name in TASKS.

| name | class | after |
|---|---|---|
| ``periodic`` | :class:`PeriodicOutput` | Murray 2019, Fig. 2 |
| ``interval`` | :class:`IntervalMatching` | Murray 2019, Fig. 3 |
| ``ready_set_go`` | :class:`ReadySetGo` | Jazayeri & Shadlen 2015 |
| ``reaching`` | :class:`CenterOutReaching` | Georgopoulos et al. 1982; Sussillo et al. 2015 |
| ``drawing`` | :class:`CuedDrawing` | cued closed-curve drawing |
| ``cued_sine`` | :class:`CuedSine` | Sussillo & Abbott 2009 |
| ``syllables`` | :class:`Syllables` | Murray 2019, Fig. 4 (stage 1 of the loop circuit) |
| ``reach_sequence`` | :class:`ReachSequence` | Murray 2019, Fig. 4 (without the loop) |
| ``add`` | :class:`Add` (stream) | Pitis 2016; Marschall et al. 2020 |
| ``mimic`` | :class:`Mimic` (stream) | Marschall et al. 2020 |
| ``copy`` | :class:`Copy` (stream) | delayed recall |
| ``trace_patterning`` | :class:`TracePatterning` (stream) | Rafiee et al. 2023; Javed et al. 2023 |
| ``dnms`` | :class:`DelayedNonmatch` | Miconi 2017 (delayed nonmatch-to-sample) |
| ``pipelined_xor`` | :class:`PipelinedXOR` (stream) | Williams & Zipser 1989 |
| ``sequence_recognition`` | :class:`SequenceRecognition` (stream) | Williams & Zipser 1989 |
| ``nonmatch_stream`` | :class:`NonmatchStream` (stream) | Williams & Zipser 1989 |
| ``oscillation`` | :class:`Oscillation` (stream) | Williams & Zipser 1989 |
| ``neurogym`` | :func:`from_neurogym` | any NeuroGym environment (optional) |
"""

from .base import Task, Trials, task_config
from .dnms import DelayedNonmatch
from .motor import CURVES, CenterOutReaching, CuedDrawing, CuedSine, minimum_jerk
from .neurogym import NeuroGymTask, from_neurogym
from .periodic import PeriodicOutput, periodic_target
from .sequence import ReachSequence, Syllables, syllable_velocity
from .streams import Add, Copy, Mimic, Stream
from .timing import IntervalMatching, ReadySetGo, gaussian_bump
from .trace_patterning import TracePatterning
from .williams_zipser import NonmatchStream, Oscillation, PipelinedXOR, SequenceRecognition

TASKS: dict[str, type] = {
    cls.name: cls
    for cls in (
        PeriodicOutput,
        IntervalMatching,
        ReadySetGo,
        CenterOutReaching,
        CuedDrawing,
        CuedSine,
        Syllables,
        ReachSequence,
        Add,
        Mimic,
        Copy,
        TracePatterning,
        DelayedNonmatch,
        PipelinedXOR,
        SequenceRecognition,
        NonmatchStream,
        Oscillation,
        NeuroGymTask,
    )
}

__all__ = [
    "Task",
    "Trials",
    "TASKS",
    "task_config",
    "Add",
    "DelayedNonmatch",
    "PipelinedXOR",
    "SequenceRecognition",
    "NonmatchStream",
    "Oscillation",
    "Mimic",
    "Copy",
    "TracePatterning",
    "Stream",
    "NeuroGymTask",
    "from_neurogym",
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
    "Syllables",
    "ReachSequence",
    "syllable_velocity",
]
