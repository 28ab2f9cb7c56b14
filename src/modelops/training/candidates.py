"""Candidate models: a name -> an unfitted scikit-learn Pipeline for a schema and task.

Grids and defaults come from the versioned config file (configs/train.json), not from here, so
changing what is tried is a reviewed config change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from modelops.errors import ConfigError
from modelops.features import Encoding, build_pipeline
from modelops.schema import Schema, Task

# HistGradientBoosting treats a column as categorical only below its bin count.
_HGB_MAX_CATEGORIES = 250


def _linear(
    task: Task, schema: Schema, params: dict[str, Any], seed: int, n_jobs: int
) -> BaseEstimator:
    if task == "regression":
        return Ridge(**params)
    return LogisticRegression(max_iter=2000, **params)


def _random_forest(
    task: Task, schema: Schema, params: dict[str, Any], seed: int, n_jobs: int
) -> BaseEstimator:
    cls = RandomForestRegressor if task == "regression" else RandomForestClassifier
    return cls(random_state=seed, n_jobs=n_jobs, **params)


def _hist_gb(
    task: Task, schema: Schema, params: dict[str, Any], seed: int, n_jobs: int
) -> BaseEstimator:
    # Threads: capped by train_candidate's threadpool_limits (HGB uses OpenMP).
    # The ordinal encoder puts categorical columns first, in schema order.
    mask = [
        len(c.categories) <= _HGB_MAX_CATEGORIES for c in schema.columns if c.kind == "categorical"
    ]
    mask += [False] * len(schema.numeric)
    cls = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    return cls(random_state=seed, categorical_features=mask if any(mask) else None, **params)


def _catboost(
    task: Task, schema: Schema, params: dict[str, Any], seed: int, n_jobs: int
) -> BaseEstimator:
    from catboost import CatBoostClassifier, CatBoostRegressor

    # A tuple, not a list: scikit-learn >= 1.9 clone() rejects CatBoost's list parameters.
    common = dict(
        cat_features=tuple(schema.categorical),
        random_seed=seed,
        thread_count=n_jobs,
        verbose=0,
        allow_writing_files=False,
    )
    if task == "regression":
        return CatBoostRegressor(**common, **params)
    loss = "Logloss" if task == "binary" else "MultiClass"
    return CatBoostClassifier(loss_function=loss, **common, **params)


CANDIDATES: dict[str, tuple[Encoding, Callable[..., BaseEstimator]]] = {
    "linear": ("onehot", _linear),
    "random_forest": ("ordinal", _random_forest),
    "hist_gradient_boosting": ("ordinal", _hist_gb),
    "catboost": ("native", _catboost),
}


def parse_candidates(spec: str) -> list[str]:
    """'linear, catboost' -> ['linear', 'catboost'], rejecting unknown and duplicate names."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        raise ConfigError(
            f"--candidates: unknown candidate(s) {unknown}; known: {sorted(CANDIDATES)}"
        )
    if not names:
        raise ConfigError(f"--candidates is empty; choose from {sorted(CANDIDATES)}")
    return list(dict.fromkeys(names))


def make_pipeline(
    name: str, task: Task, schema: Schema, params: dict[str, Any], seed: int, n_jobs: int = -1
) -> Pipeline:
    """An unfitted pipeline (coerce -> encode -> estimator) for candidate `name`.

    `n_jobs` caps the estimator's threads (-1: all cores).
    """
    if name not in CANDIDATES:
        raise ConfigError(f"unknown candidate {name!r}; known: {sorted(CANDIDATES)}")
    encoding, factory = CANDIDATES[name]
    return build_pipeline(schema, encoding, factory(task, schema, dict(params), seed, n_jobs))
