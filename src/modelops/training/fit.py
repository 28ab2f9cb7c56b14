"""Fit one candidate configuration: cross-validate it, refit on all training rows, score holdout.

A configuration (a model family with one parameter set) is the unit a TrainFlow `foreach`
fans out over, so this function is all one Metaflow task runs, locally or on Kubernetes/Batch.
Thread use is capped per task: Metaflow runs the tasks side by side, and OpenMP models
(HistGradientBoosting) slow down badly when several processes each claim every core.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from modelops.metrics import evaluate
from modelops.schema import Schema, Task
from modelops.training.candidates import make_pipeline
from modelops.training.data import Split

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CandidateSpec:
    """One foreach item: a model family, a label for the leaderboard and its parameters."""

    name: str
    label: str
    params: dict[str, Any]


@dataclass
class CandidateScore:
    """A candidate's parameters and scores: small, so the join can rank without the models."""

    name: str
    label: str
    params: dict[str, Any]
    cv: dict[str, float]
    cv_std: dict[str, float]
    holdout: dict[str, float]
    fit_seconds: float
    cv_seconds: float
    sample: pd.DataFrame | None = None  # holdout actual vs predicted, for plots without the model

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly row for leaderboards and W&B."""
        row: dict[str, Any] = {"candidate": self.label, "family": self.name}
        row |= {f"cv_{k}": v for k, v in self.cv.items()}
        row |= {f"holdout_{k}": v for k, v in self.holdout.items()}
        row |= {"fit_seconds": round(self.fit_seconds, 2), "cv_seconds": round(self.cv_seconds, 2)}
        return row


@dataclass
class CandidateResult(CandidateScore):
    """What a candidate task returns: its scores plus the fitted pipeline."""

    pipeline: Pipeline | None = None

    def score(self) -> CandidateScore:
        fields = {k: v for k, v in vars(self).items() if k != "pipeline"}
        return CandidateScore(**fields)


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
    for i, (train_idx, val_idx) in enumerate(splitter.split(X, y), 1):
        model = clone(pipeline).fit(X.iloc[train_idx], y.iloc[train_idx])
        scores.append(evaluate(model, X.iloc[val_idx], y.iloc[val_idx], task))
        log.info("fold %d/%d: %s", i, folds, scores[-1])
    frame = pd.DataFrame(scores)
    return frame.mean().to_dict(), frame.std(ddof=0).fillna(0.0).to_dict()


def train_candidate(
    spec: CandidateSpec,
    task: Task,
    schema: Schema,
    data: Split,
    *,
    cv_folds: int,
    seed: int,
    n_jobs: int = 1,
) -> CandidateResult:
    """Cross-validate (if `cv_folds` >= 2), refit on all training rows, score the holdout."""
    X, y = data.X_train, data.y_train
    pipe = make_pipeline(spec.name, task, schema, spec.params, seed, n_jobs)
    with threadpool_limits(limits=n_jobs if n_jobs > 0 else None):
        t0 = time.perf_counter()
        mean, std = cross_validate(pipe, X, y, task, cv_folds, seed) if cv_folds >= 2 else ({}, {})
        cv_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        pipe.fit(X, y)
        fit_seconds = time.perf_counter() - t0
        holdout = evaluate(pipe, data.X_test, data.y_test, task)
        sample = holdout_sample(pipe, data, task, seed)
    log.info("%s: cv %s, holdout %s, fit %.1fs", spec.label, mean, holdout, fit_seconds)
    return CandidateResult(
        spec.name,
        spec.label,
        spec.params,
        mean,
        std,
        holdout,
        fit_seconds,
        cv_seconds,
        sample,
        pipe,
    )


def holdout_sample(
    pipeline: Pipeline, data: Split, task: Task, seed: int, rows: int = 2000
) -> pd.DataFrame:
    """Up to `rows` holdout rows: `actual`, then `predicted` or one `proba_<class>` per class."""
    X, y = data.X_test, data.y_test
    if len(X) > rows:
        X = X.sample(rows, random_state=seed)
        y = y.loc[X.index]
    out = pd.DataFrame({"actual": y.to_numpy()})
    if task == "regression":
        out["predicted"] = pipeline.predict(X)
    else:
        proba = pipeline.predict_proba(X)
        for i, cls in enumerate(pipeline.classes_):
            out[f"proba_{cls}"] = proba[:, i]
    return out
