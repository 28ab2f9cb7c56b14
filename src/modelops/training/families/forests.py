"""Random forests and extremely randomised trees on ordinal codes (no early stopping: a
forest's trees are fitted to the end, and only the check after the fit can prune a trial)."""

from __future__ import annotations

from sklearn.base import BaseEstimator

from modelops.schema import Schema, Task
from modelops.training.families.base import Family


def random_forest(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
    from modelops.estimators import SerialRandomForestClassifier, SerialRandomForestRegressor

    cls = SerialRandomForestRegressor if task == "regression" else SerialRandomForestClassifier
    return cls(random_state=seed, n_jobs=n_jobs)


def extra_trees(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
    from modelops.estimators import SerialExtraTreesClassifier, SerialExtraTreesRegressor

    cls = SerialExtraTreesRegressor if task == "regression" else SerialExtraTreesClassifier
    return cls(random_state=seed, n_jobs=n_jobs)


RANDOM_FOREST = Family("ordinal", random_forest)
EXTRA_TREES = Family("ordinal", extra_trees)
