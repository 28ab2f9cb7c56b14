"""What a model predicts and how it is judged, as one value instead of three loose arguments.

`(task, metric, classes)` travelled together through every selection function; a `Problem`
carries them with what they imply (the metric's direction, the positive class), as AutoGluon's
`Scorer` and FLAML's `Task` do. TrainFlow's `start` decides it (`Prepared.problem`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelops.metrics import greater_is_better
from modelops.schema import Task


@dataclass(frozen=True)
class Problem:
    """The task, the metric that ranks models and, for a classifier, its classes in order."""

    task: Task
    metric: str
    classes: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        # a classifier's probabilities are aligned to its classes: with none, every prediction
        # would silently become zero columns
        if self.task != "regression" and len(self.classes) < 2:
            raise ValueError(f"a {self.task} Problem needs its classes, got {self.classes!r}")

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    @property
    def higher(self) -> bool:
        """Whether a greater metric is better (ROC AUC) or worse (RMSE, log loss)."""
        return greater_is_better(self.task, self.metric)

    def better(self, a: float, b: float) -> bool:
        """Score `a` strictly beats `b` in the metric's direction. Not `metrics.is_better`
        with no margin: its margin is `abs(b) * share`, NaN when `b` is the greedy's starting
        infinity, and then nothing would beat it."""
        return a > b if self.higher else a < b

    def target(self, y: Any) -> np.ndarray:
        """`y` as the array the metrics take: numbers, or labels as objects."""
        return np.asarray(y, dtype=float if self.regression else object)
