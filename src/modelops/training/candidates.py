"""Candidates: a family's name -> an unfitted scikit-learn Pipeline for a schema, task and
parameters, and the checks on the names a user gives.

What is searched (spaces, defaults, shares of the budget) lives in the versioned config file
(configs/train.json); each family's estimator and early stopping in `training.families`.
"""

from __future__ import annotations

import inspect
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from modelops.errors import ConfigError
from modelops.pipelines import build_pipeline
from modelops.schema import Schema, Task
from modelops.training.families import FAMILIES, Family

__all__ = ["FAMILIES", "Family", "TARGET_TRANSFORM", "make_pipeline", "parse_candidates"]

# A parameter of every regressor that is not the estimator's: the target it learns.
TARGET_TRANSFORM = "target_transform"


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
    """'linear, catboost' -> ['linear', 'catboost'], rejecting unknown and duplicate names;
    'all' -> every registered family, in the registry's order."""
    if spec.strip() == "all":
        return list(FAMILIES)
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
    if FAMILIES[name].label_codes and task != "regression":
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
