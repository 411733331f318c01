"""NeuroGym environments as bioplastic tasks (optional: ``pip install neurogym``).

NeuroGym (Molano-Mazón et al. 2022, https://github.com/neurogym/neurogym) collects cognitive
tasks as gymnasium environments whose trials come with observations and ground-truth
actions.  :func:`from_neurogym` wraps one: each trial's observations are the inputs, and its
ground-truth action at each step, one-hot over the action space, is the target of a softmax
cross-entropy loss.  Trials of different lengths in a batch are padded at the end with
``mask = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .base import Trials, positive

__all__ = ["NeuroGymTask", "from_neurogym"]


def _neurogym():
    try:
        import neurogym
    except ImportError as exc:  # an optional dependency
        raise ImportError(
            "the NeuroGym adapter needs the neurogym package: pip install neurogym"
        ) from exc
    return neurogym


def registered_envs(ngym: Any) -> set[str]:
    """The environment ids NeuroGym registers (``ngym.all_envs()``)."""
    return set(ngym.all_envs())


@dataclass(frozen=True)
class NeuroGymTask:
    """A NeuroGym environment's supervised trials as a :class:`~bioplastic.tasks.Task`."""

    env_name: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    name: ClassVar[str] = "neurogym"
    loss: ClassVar[str] = "softmax_xent"
    _env: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ngym = _neurogym()
        if not isinstance(self.env_name, str):
            raise TypeError(f"env_name must be a NeuroGym environment name; got {self.env_name!r}")
        # only registered names: gymnasium's make("module:Env") would import any module,
        # and a results file (resume) must not be able to choose one
        known = registered_envs(ngym)
        if self.env_name not in known:
            raise ValueError(
                f"env_name must be a registered NeuroGym environment; got {self.env_name!r}; "
                f"known: {sorted(known)}"
            )
        try:
            env = ngym.make(self.env_name, **dict(self.env_kwargs))
        except Exception as exc:
            raise ValueError(f"NeuroGym cannot make {self.env_name!r}: {exc}") from exc
        object.__setattr__(self, "_env", env.unwrapped)

    @property
    def n_in(self) -> int:
        return int(np.prod(self._env.observation_space.shape))

    @property
    def n_out(self) -> int:
        return int(self._env.action_space.n)

    def sample(self, n_trials: int, rng: np.random.Generator) -> Trials:
        """``n_trials`` trials from the environment, seeded from ``rng``."""
        positive("n_trials", n_trials, integer=True)
        env = self._env
        env.seed(int(rng.integers(2**31)))
        obs, gts = [], []
        for _ in range(n_trials):
            env.new_trial()
            obs.append(np.asarray(env.ob, dtype=float).reshape(len(env.ob), -1))
            gts.append(np.asarray(env.gt, dtype=int).reshape(-1))
        T = max(len(g) for g in gts)
        x = np.zeros((n_trials, T, self.n_in))
        target = np.zeros((n_trials, T, self.n_out))
        target[:, :, 0] = 1.0  # padding: a valid distribution, masked out below
        mask = np.zeros((n_trials, T, self.n_out))
        for i, (o, g) in enumerate(zip(obs, gts)):
            x[i, : len(o)] = o
            target[i, : len(g)] = np.eye(self.n_out)[g]
            mask[i, : len(g)] = 1.0
        lengths = np.array([len(g) for g in gts])
        return Trials(x, target, mask, {"length": lengths}, dt=float(getattr(env, "dt", 1.0)))


def from_neurogym(env_name: str, **env_kwargs: Any) -> NeuroGymTask:
    """Wrap NeuroGym environment ``env_name`` (made with ``env_kwargs``) as a task."""
    return NeuroGymTask(env_name, dict(env_kwargs))
