"""XGBoost on pandas categories (`enable_categorical`), classifiers on label codes."""

from __future__ import annotations

import time
from typing import Any

from sklearn.base import BaseEstimator

from modelops.schema import Schema, Task
from modelops.training.clock import check_time
from modelops.training.families.base import Family, Fold, Stopping


def estimator(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
    from modelops.boosters import CodesXGBClassifier, CodesXGBRegressor

    common = dict(tree_method="hist", enable_categorical=True, random_state=seed, n_jobs=n_jobs)
    if task == "regression":
        return CodesXGBRegressor(**common)
    return CodesXGBClassifier(**common)


def xgboost_deadline(stop_at: float) -> Any:
    """XGBoost callback: `after_iteration` returning True ends training."""
    from xgboost.callback import TrainingCallback

    class Deadline(TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            return time.perf_counter() > stop_at

    return Deadline()


def fit_stopping(est: Any, fold: Fold, stopping: Stopping) -> int:
    inner = getattr(est, "estimator", est)  # classifiers are wrapped by EncodedLabels
    inner.set_params(early_stopping_rounds=stopping.rounds)
    if stopping.stop_at is not None:
        inner.set_params(callbacks=[xgboost_deadline(stopping.stop_at)])
    est.fit(fold.Z_tr, fold.y_tr, eval_set=[(fold.Z_va, fold.y_va)], verbose=False)
    fitted = getattr(est, "estimator_", est)
    fitted.set_params(callbacks=None)  # the fold's clock is not part of a model
    if not stopping.truncate:
        check_time(stopping.stop_at)  # a stopped trial is pruned
    try:
        return int(fitted.best_iteration) + 1
    except AttributeError:  # stopped by the clock before early stopping kept a best
        return int(fitted.get_booster().num_boosted_rounds())


FAMILY = Family(
    "category",
    estimator,
    "n_estimators",
    forbidden="[]<",
    fit_stopping=fit_stopping,
    label_codes=True,  # XGBoost classifiers refuse labels other than 0..K-1
)
