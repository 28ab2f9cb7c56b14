"""Model families: a name -> an unfitted scikit-learn Pipeline for a schema, task and parameters.

What is searched (spaces, defaults, shares of the budget) lives in the versioned config file
(configs/train.json), not here; this module knows how to build each family and how to give a
booster a validation set for early stopping.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from modelops.errors import ConfigError
from modelops.features import Encoding
from modelops.pipelines import build_pipeline
from modelops.schema import Schema, Task

# HistGradientBoosting treats a column as categorical only below its bin count.
_HGB_MAX_CATEGORIES = 250
# How a family learns its iteration count from a validation fold (None: it has none).
Boosting = Literal["lightgbm", "xgboost", "catboost", "hist_gradient_boosting"] | None
# A parameter of every regressor that is not the estimator's: the target it learns.
TARGET_TRANSFORM = "target_transform"


def _linear(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
    if task == "regression":
        return Ridge()
    return LogisticRegression(max_iter=2000)


def _random_forest(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
    from modelops.estimators import SerialRandomForestClassifier, SerialRandomForestRegressor

    cls = SerialRandomForestRegressor if task == "regression" else SerialRandomForestClassifier
    return cls(random_state=seed, n_jobs=n_jobs)


def _extra_trees(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
    from modelops.estimators import SerialExtraTreesClassifier, SerialExtraTreesRegressor

    cls = SerialExtraTreesRegressor if task == "regression" else SerialExtraTreesClassifier
    return cls(random_state=seed, n_jobs=n_jobs)


def _hist_gb(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
    # Threads: capped by the search's threadpool_limits (HGB uses OpenMP).
    # The ordinal encoder puts categorical columns first, in schema order.
    mask = [
        len(c.categories) <= _HGB_MAX_CATEGORIES for c in schema.columns if c.kind == "categorical"
    ]
    mask += [False] * (len(schema.numeric) + len(schema.date_parts))
    from modelops.estimators import (
        CodedHistGradientBoostingClassifier,
        CodedHistGradientBoostingRegressor,
    )

    reg = task == "regression"
    cls = CodedHistGradientBoostingRegressor if reg else CodedHistGradientBoostingClassifier
    return cls(random_state=seed, categorical_features=mask if any(mask) else None)


def _catboost(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
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
        return CatBoostRegressor(**common)
    loss = "Logloss" if task == "binary" else "MultiClass"
    return CatBoostClassifier(loss_function=loss, **common)


def _lightgbm(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
    from modelops.boosters import CodesLGBMClassifier, CodesLGBMRegressor

    cls = CodesLGBMRegressor if task == "regression" else CodesLGBMClassifier
    return cls(random_state=seed, n_jobs=n_jobs, verbose=-1)


def _xgboost(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
    from modelops.boosters import CodesXGBClassifier, CodesXGBRegressor

    common = dict(tree_method="hist", enable_categorical=True, random_state=seed, n_jobs=n_jobs)
    if task == "regression":
        return CodesXGBRegressor(**common)
    return CodesXGBClassifier(**common)


@dataclass(frozen=True)
class Family:
    """How to build one model family: its encoder, its estimator, its early-stopping kind."""

    encoding: Encoding
    factory: Callable[[Task, Schema, int, int], BaseEstimator]
    boosting: Boosting = None
    iterations: str = ""  # the parameter early stopping learns ("n_estimators", ...)
    # parameters the estimator takes through **kwargs, so not in its signature
    kwargs_parameters: frozenset[str] = frozenset()
    # characters its library refuses in a feature name (every trial would fail on them)
    forbidden: str = ""


FAMILIES: dict[str, Family] = {
    "linear": Family("onehot", _linear),
    "random_forest": Family("ordinal", _random_forest),
    "extra_trees": Family("ordinal", _extra_trees),
    "hist_gradient_boosting": Family("ordinal", _hist_gb, "hist_gradient_boosting", "max_iter"),
    "catboost": Family("native", _catboost, "catboost", "iterations"),
    "lightgbm": Family(
        "category",
        _lightgbm,
        "lightgbm",
        "n_estimators",
        # booster parameters of the categorical splits and extremely randomised trees
        frozenset(
            {"min_data_per_group", "cat_smooth", "cat_l2", "max_cat_threshold", "extra_trees"}
        ),
        forbidden='",:[]{}',  # "special JSON characters in feature name"
    ),
    "xgboost": Family("category", _xgboost, "xgboost", "n_estimators", forbidden="[]<"),
}


def check_feature_names(names: list[str], columns: list[str]) -> None:
    """Refuse, before any search, column names a chosen family's library cannot take (LightGBM
    spent its whole budget on 200 failed trials for a name holding a double quote)."""
    problems = []
    for family in names:
        bad = FAMILIES[family].forbidden
        hit = [c for c in columns if any(ch in c for ch in bad) or not c.isprintable()]
        if hit:
            problems.append(f"{family} refuses {hit} (no {' '.join(bad)} or control characters)")
    if problems:
        raise ConfigError(
            f"column names: {'; '.join(problems)}. Rename those columns, or leave the "
            "families out with --candidates"
        )


def parse_candidates(spec: str) -> list[str]:
    """'linear, catboost' -> ['linear', 'catboost'], rejecting unknown and duplicate names."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ConfigError(
            f"--candidates: unknown candidate(s) {unknown}; known: {sorted(FAMILIES)}"
        )
    if not names:
        raise ConfigError(f"--candidates is empty; choose from {sorted(FAMILIES)}")
    return list(dict.fromkeys(names))


def estimator(
    name: str, task: Task, schema: Schema, params: dict[str, Any], seed: int, n_jobs: int
) -> BaseEstimator:
    """The family's estimator with `params` set (XGBoost classifiers learn on label codes; a
    regressor given `target_transform` learns that transform of the target)."""
    from modelops.estimators import TARGET_TRANSFORMS, EncodedLabels, TargetTransform

    params = dict(params)
    transform = params.pop(TARGET_TRANSFORM, "none")
    if transform != "none" and (task != "regression" or transform not in TARGET_TRANSFORMS):
        raise ConfigError(
            f"{TARGET_TRANSFORM} {transform!r}: regression only, one of {TARGET_TRANSFORMS}"
        )
    est = FAMILIES[name].factory(task, schema, seed, n_jobs).set_params(**params)
    if name == "xgboost" and task != "regression":
        return EncodedLabels(est)
    return est if transform == "none" else TargetTransform(est, transform)


def make_pipeline(
    name: str, task: Task, schema: Schema, params: dict[str, Any], seed: int, n_jobs: int = -1
) -> Pipeline:
    """An unfitted pipeline (coerce -> encode -> estimator) for family `name`.

    `n_jobs` caps the estimator's threads (-1: all cores).
    """
    if name not in FAMILIES:
        raise ConfigError(f"unknown candidate {name!r}; known: {sorted(FAMILIES)}")
    est = estimator(name, task, schema, dict(params), seed, n_jobs)
    return build_pipeline(schema, FAMILIES[name].encoding, est)


def parameter_names(name: str, task: Task, schema: Schema) -> set[str]:
    """Every parameter the family's estimator accepts (to reject a misspelt config key)."""
    est = FAMILIES[name].factory(task, schema, 0, 1)
    signature = set(inspect.signature(type(est).__init__).parameters) - {"self", "kwargs", "args"}
    ours = {TARGET_TRANSFORM} if task == "regression" else set()
    return set(est.get_params()) | signature | FAMILIES[name].kwargs_parameters | ours
