"""What TrainFlow's `start` decides before anything is fitted, carried to every later step.

Its own module so that the steps' helpers (the ensemble's construction among them) can take it
without importing the step functions; `modelops.training.steps` re-exports it, which keeps the
`prepared` artifact of runs pickled before the move readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from modelops.problem import Problem
from modelops.schema import Schema, Task
from modelops.training.config import DataProfile
from modelops.training.data import Split
from modelops.training.fit import Folds


@dataclass
class Prepared:
    """Validated, split training data and everything decided about the run before fitting."""

    source: str
    target: str
    task: Task
    metric: str
    schema: Schema
    split: Split
    candidates: list[str]
    limits: dict[str, float]  # seconds each family may search (refit included)
    folds: Folds = field(repr=False)
    profile: DataProfile
    data_digest: str
    model_name: str
    n_rows: int
    notes: list[str]  # what was decided about the data (for the card and the log)
    reference: pd.DataFrame = field(repr=False)
    # the families each search task runs (one each, or a group per core on a small table)
    groups: list[list[str]]

    @property
    def classes(self) -> list[Any]:
        return list(self.schema.classes) if self.task != "regression" else []

    @property
    def problem(self) -> Problem:
        """The task, metric and classes as one value (derived: nothing new is pickled)."""
        return Problem(self.task, self.metric, tuple(self.classes))
