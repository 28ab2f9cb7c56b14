"""Fit one candidate: a budgeted search over its parameter grid, cross-validation, holdout score.

A candidate is the unit a TrainFlow `foreach` fans out over, so this function is all one
Metaflow task (local or on Kubernetes/Batch) runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline

from modelops.candidates import make_pipeline
from modelops.data import Split
from modelops.evaluation import evaluate, is_better
from modelops.schema import Schema, Task

log = logging.getLogger(__name__)


@dataclass
class CandidateResult:
    """What a candidate task returns: the fitted pipeline plus everything needed to rank it."""

    name: str
    params: dict[str, Any]
    pipeline: Pipeline
    cv: dict[str, float]
    cv_std: dict[str, float]
    holdout: dict[str, float]
    fit_seconds: float
    search: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly row for leaderboards and W&B."""
        row: dict[str, Any] = {"candidate": self.name, "fit_seconds": round(self.fit_seconds, 2)}
        row |= {f"cv_{k}": v for k, v in self.cv.items()}
        row |= {f"holdout_{k}": v for k, v in self.holdout.items()}
        return row


def cross_validate(
    pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, task: Task, folds: int, seed: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and standard deviation of every metric over `folds` (stratified for classifiers)."""
    splitter = (
        KFold(folds, shuffle=True, random_state=seed)
        if task == "regression"
        else StratifiedKFold(folds, shuffle=True, random_state=seed)
    )
    scores: list[dict[str, float]] = []
    for train_idx, val_idx in splitter.split(X, y):
        model = clone(pipeline).fit(X.iloc[train_idx], y.iloc[train_idx])
        scores.append(evaluate(model, X.iloc[val_idx], y.iloc[val_idx], task))
    frame = pd.DataFrame(scores)
    return frame.mean().to_dict(), frame.std(ddof=0).fillna(0.0).to_dict()


def grid_points(params: dict[str, Any], search: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The base parameters, then each search override applied on top of them."""
    return [dict(params)] + [dict(params) | o for o in search if o]


def train_candidate(
    name: str,
    task: Task,
    schema: Schema,
    data: Split,
    metric: str,
    params: dict[str, Any],
    search: list[dict[str, Any]],
    cv_folds: int,
    seed: int,
) -> CandidateResult:
    """Pick the candidate's best grid point by CV, refit it on all training rows, score the holdout.

    With `cv_folds` < 2 the grid is ranked on one inner 80/20 split of the training rows, and no
    CV metrics are reported: the holdout is never used to choose parameters.
    """
    X, y = data.X_train, data.y_train
    points = grid_points(params, search)
    tried: list[dict[str, Any]] = []
    best: tuple[dict[str, Any], dict[str, float], dict[str, float]] | None = None
    for i, point in enumerate(points, 1):
        pipe = make_pipeline(name, task, schema, point, seed)
        t0 = time.perf_counter()
        if cv_folds >= 2:
            mean, std = cross_validate(pipe, X, y, task, cv_folds, seed)
        elif len(points) > 1:
            mean, std = _inner_split_score(pipe, X, y, task, seed), {}
        else:
            mean, std = {}, {}
        log.info(
            "%s: grid point %d/%d %s -> %s=%s (%.1fs)",
            name, i, len(points), point, metric, mean.get(metric), time.perf_counter() - t0,
        )  # fmt: skip
        tried.append({"params": point, f"cv_{metric}": mean.get(metric)})
        if best is None or (mean and is_better(task, metric, mean[metric], best[1][metric])):
            best = (point, mean, std)
    point, mean, std = best  # type: ignore[misc]  # points always holds the base parameters
    pipe = make_pipeline(name, task, schema, point, seed)
    t0 = time.perf_counter()
    pipe.fit(X, y)
    fit_seconds = time.perf_counter() - t0
    holdout = evaluate(pipe, data.X_test, data.y_test, task)
    log.info("%s: holdout %s=%.4f, fit %.1fs", name, metric, holdout[metric], fit_seconds)
    return CandidateResult(name, point, pipe, mean, std, holdout, fit_seconds, tried)


def _inner_split_score(
    pipe: Pipeline, X: pd.DataFrame, y: pd.Series, task: Task, seed: int
) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    mask = rng.random(len(X)) < 0.8
    model = clone(pipe).fit(X[mask], y[mask])
    return evaluate(model, X[~mask], y[~mask], task)
