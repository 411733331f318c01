"""What a run records, in one table, and the history that holds it.

Each row of :data:`RECORDS` is a quantity recorded once per update (dim ``trial``) or once per
evaluation (dim ``evaluation``): its name, its further dims, and its attributes.  The history
appends to it, truncates it on a rollback, reads it back from a saved Dataset for ``resume``,
and turns it into the Dataset's variables, all from the table: a new metric is one row (and the
line that appends it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["Record", "RECORDS", "History"]


@dataclass(frozen=True)
class Record:
    """One recorded quantity: ``per`` is ``"update"`` or ``"evaluation"``; ``dims`` are the
    dims after the first; a record with ``optional`` is present only when the run records it
    (probes, alignment)."""

    name: str
    per: str
    dims: tuple[str, ...]
    long_name: str
    optional: bool = False
    variable: str | None = None  # the Dataset variable, when it differs from name

    @property
    def first(self) -> str:
        return "trial" if self.per == "update" else "evaluation"


RECORDS: tuple[Record, ...] = (
    Record("loss", "update", (), "training loss of each update's batch"),
    Record("grad_norm", "update", (), "norm of the rule's estimate (plastic parameters)"),
    Record(
        "readout_alignment",
        "update",
        (),
        "cosine between vec(W_outᵀ) and vec(B) (Murray 2019 Fig. 2c)",
    ),
    Record(
        "reward",
        "update",
        (),
        "mean reward -ℓ of the batch's noisy trials (reward rules)",
        optional=True,
    ),
    Record(
        "reward_baseline",
        "update",
        (),
        "mean baseline -ℓ̄ the rewards were compared with (reward rules)",
        optional=True,
    ),
    Record("alignment", "update", ("param",), "cosine with the exact gradient", optional=True),
    Record("norm_ratio", "update", ("param",), "norm / norm of the exact gradient", optional=True),
    Record("eval_at", "evaluation", (), "trials seen at each evaluation", variable="trials_seen"),
    Record("eval_loss", "evaluation", (), "loss on the held-out evaluation trials"),
    Record("spectral_radius", "evaluation", (), "spectral radius of W_rec"),
    Record("weight_norm", "evaluation", ("weight",), "Frobenius norm of each parameter"),
    Record(
        "probe_cosine",
        "evaluation",
        ("probe", "param"),
        "cosine of each probed rule with the BPTT gradient",
        optional=True,
    ),
    Record(
        "probe_pairwise",
        "evaluation",
        ("probe", "probe_b", "param"),
        "cosine between two probed rules' estimates",
        optional=True,
    ),
    Record(
        "eval_alignment",
        "evaluation",
        ("param",),
        "cosine of the rule's estimate with the exact gradient on the held-out trials",
        optional=True,
    ),
)
BY_NAME = {r.name: r for r in RECORDS}


class History:
    """Every record's values so far, one list per row of :data:`RECORDS`."""

    def __init__(self) -> None:
        self.values: dict[str, list] = {r.name: [] for r in RECORDS}

    def __getitem__(self, name: str) -> list:
        return self.values[name]

    def append(self, name: str, value: Any) -> None:
        self.values[name].append(value)

    @property
    def n_evaluations(self) -> int:
        return len(self.values["eval_loss"])

    def lengths(self) -> tuple[int, int]:
        """(updates, evaluations) recorded: what :meth:`truncate` returns to."""
        return len(self.values["loss"]), self.n_evaluations

    def truncate(self, updates: int, evaluations: int) -> None:
        """Drop what was recorded after ``updates`` updates and ``evaluations`` evaluations."""
        for r in RECORDS:
            del self.values[r.name][updates if r.per == "update" else evaluations :]

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> History:
        """The history a saved run recorded (for :func:`bioplastic.resume`)."""
        h = cls()
        for r in RECORDS:
            var = r.variable or r.name
            if var in ds:
                h.values[r.name] = list(ds[var].values)
        return h

    def variables(self, sizes: dict[str, int], present: set[str], labels: dict[str, str]) -> dict:
        """The Dataset variables of the records in ``present`` (``sizes`` of the trailing
        dims; ``labels`` fills ``{exact}`` in long names)."""
        n_up, n_ev = self.lengths()
        out: dict[str, Any] = {}
        for r in RECORDS:
            if r.variable is not None or (r.optional and r.name not in present):
                continue
            n = n_up if r.per == "update" else n_ev
            shape = (n, *(sizes[d] for d in r.dims))
            data = np.asarray(self.values[r.name][:n], float).reshape(shape)
            long_name = r.long_name + labels.get(r.name, "")
            out[r.name] = ((r.first, *r.dims), data, {"long_name": long_name, "units": "1"})
        return out
