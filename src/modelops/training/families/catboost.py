"""CatBoost on the coerced frame as it is (its own categorical statistics)."""

from __future__ import annotations

import time
from typing import Any

from sklearn.base import BaseEstimator

from modelops.schema import Schema, Task
from modelops.training.families.base import Family, Fold, Stopping


def estimator(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
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


class CatBoostDeadline:
    """CatBoost callback: `after_iteration` returning False ends training."""

    def __init__(self, stop_at: float):
        self.stop_at = stop_at

    def after_iteration(self, info: Any) -> bool:
        return time.perf_counter() <= self.stop_at


def fit_stopping(est: Any, fold: Fold, stopping: Stopping) -> int:
    callbacks = [CatBoostDeadline(stopping.stop_at)] if stopping.stop_at is not None else None
    est.fit(
        fold.Z_tr,
        fold.y_tr,
        eval_set=(fold.Z_va, fold.y_va),
        early_stopping_rounds=stopping.rounds,
        callbacks=callbacks,
    )
    return int(est.get_best_iteration()) + 1


FAMILY = Family("native", estimator, "iterations", fit_stopping=fit_stopping)
