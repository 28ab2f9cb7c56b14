"""Metrics, their direction, and the comparison every selection and promotion decision uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from modelops.errors import ConfigError
from modelops.schema import Task

# name -> (function of (y_true, y_pred, proba, classes), greater_is_better)
_REG: dict[str, tuple[Callable, bool]] = {
    "rmse": (lambda y, p, _, __: float(np.sqrt(skm.mean_squared_error(y, p))), False),
    "mae": (lambda y, p, _, __: float(skm.mean_absolute_error(y, p)), False),
    "r2": (lambda y, p, _, __: float(skm.r2_score(y, p)), True),
}
_BIN: dict[str, tuple[Callable, bool]] = {
    "roc_auc": (lambda y, p, pr, c: float(skm.roc_auc_score(y == c[1], pr[:, 1])), True),
    "log_loss": (lambda y, p, pr, c: float(skm.log_loss(y, pr, labels=c)), False),
    "f1": (lambda y, p, pr, c: float(skm.f1_score(y == c[1], p == c[1])), True),
    "accuracy": (lambda y, p, _, __: float(skm.accuracy_score(y, p)), True),
}
_MULTI: dict[str, tuple[Callable, bool]] = {
    "log_loss": (lambda y, p, pr, c: float(skm.log_loss(y, pr, labels=c)), False),
    "f1_macro": (lambda y, p, _, __: float(skm.f1_score(y, p, average="macro")), True),
    "accuracy": (lambda y, p, _, __: float(skm.accuracy_score(y, p)), True),
}
METRICS: dict[str, dict[str, tuple[Callable, bool]]] = {
    "regression": _REG,
    "binary": _BIN,
    "multiclass": _MULTI,
}
DEFAULT_METRIC: dict[str, str] = {
    "regression": "rmse",
    "binary": "roc_auc",
    "multiclass": "log_loss",
}


def resolve_metric(task: Task, metric: str) -> str:
    """'auto' -> the task's default; otherwise check the metric exists for the task."""
    if metric in ("", "auto"):
        return DEFAULT_METRIC[task]
    if metric not in METRICS[task]:
        raise ConfigError(
            f"--metric {metric!r} does not apply to {task}; choose one of {sorted(METRICS[task])}"
        )
    return metric


def greater_is_better(task: Task, metric: str) -> bool:
    return METRICS[task][metric][1]


def is_better(task: Task, metric: str, a: float, b: float, min_improvement: float = 0.0) -> bool:
    """True when score `a` beats `b` by more than `min_improvement` (relative, e.g. 0.01 = 1%)."""
    margin = abs(b) * min_improvement
    return a > b + margin if greater_is_better(task, metric) else a < b - margin


def score_predictions(
    task: Task,
    y: Any,
    pred: Any,
    proba: np.ndarray | None = None,
    classes: list[Any] | None = None,
) -> dict[str, float]:
    """Every metric of the task from predictions (training and realised metrics share this)."""
    return {name: score_metric(task, name, y, pred, proba, classes) for name in METRICS[task]}


def score_metric(
    task: Task,
    metric: str,
    y: Any,
    pred: Any,
    proba: np.ndarray | None = None,
    classes: list[Any] | None = None,
) -> float:
    """One metric of `score_predictions` (the selection metric alone, where only it matters).

    Class labels are scored as their positions in `classes`: scikit-learn cannot tell the type
    of an object array of numbers, so a 0/1 target read from a CSV failed every metric.
    """
    y, pred = np.asarray(y), np.asarray(pred)
    if task != "regression" and classes is not None:
        y, pred = class_positions(y, classes), class_positions(pred, classes)
        classes = list(range(len(classes)))
    return METRICS[task][metric][0](y, pred, proba, classes)


def class_positions(labels: Any, classes: list[Any]) -> np.ndarray:
    """Each label's position in `classes`, -1 for a label outside them: a wrong prediction to
    accuracy and F1, an error to log loss.

    Matched by value (1 and 1.0 alike), then as text, then as numbers: labels read back from a
    file come as whatever its reader guessed (classes 0.0 and 1.0 written to a CSV as `0` and
    `1` return as ints, or as the text "1" beside "1.0"). Only labels the value match missed
    take the slower paths, so predictions made from `classes` cost nothing extra.
    """
    values = np.asarray(labels, dtype=object)
    pos = pd.Index(list(classes)).get_indexer(values)
    missed = pos < 0
    if missed.any():
        as_text = pd.Index([str(c) for c in classes])
        pos[missed] = as_text.get_indexer([str(v) for v in values[missed]])
        missed = pos < 0
    if not missed.any():
        return pos
    numbers = pd.to_numeric(pd.Series(list(classes), dtype=object), errors="coerce")
    if numbers.notna().all() and numbers.is_unique:
        found = pd.to_numeric(pd.Series(values[missed]), errors="coerce")
        pos[missed] = pd.Index(numbers).get_indexer(found)
    return pos
