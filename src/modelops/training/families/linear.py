"""Linear models on one-hot encoded, scaled input: ridge regression, logistic regression."""

from __future__ import annotations

from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression, Ridge

from modelops.schema import Schema, Task
from modelops.training.families.base import Family


def estimator(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
    if task == "regression":
        return Ridge()
    return LogisticRegression(max_iter=2000)


FAMILY = Family("onehot", estimator)
