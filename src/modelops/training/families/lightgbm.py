"""LightGBM on pandas categories (its own categorical splits)."""

from __future__ import annotations

import time
import warnings
from typing import Any

from sklearn.base import BaseEstimator

from modelops.schema import Schema, Task
from modelops.training.clock import check_time
from modelops.training.families.base import Family, Fold, Stopping


def estimator(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
    from modelops.boosters import CodesLGBMClassifier, CodesLGBMRegressor

    cls = CodesLGBMRegressor if task == "regression" else CodesLGBMClassifier
    return cls(random_state=seed, n_jobs=n_jobs, verbose=-1)


class LightGBMDeadline:
    """LightGBM callback: stop training at `stop_at` (exceptions leave `lightgbm.train`).

    Given the early-stopping callback, it ends training as early stopping does, at the best
    iteration so far (the model is kept); without, with `OutOfTime` (the trial is pruned).
    """

    order = 40  # after early stopping's own check (order 30)

    def __init__(self, stop_at: float, early_stopping: Any = None):
        self.stop_at = stop_at
        self.early_stopping = early_stopping

    def __call__(self, env: Any) -> None:
        if self.early_stopping is None:
            check_time(self.stop_at)
        elif time.perf_counter() > self.stop_at and self.early_stopping.best_iter:
            from lightgbm.callback import EarlyStopException

            es = self.early_stopping
            raise EarlyStopException(es.best_iter[0], es.best_score_list[0])


def fit_stopping(est: Any, fold: Fold, stopping: Stopping) -> int:
    import lightgbm

    stop = lightgbm.early_stopping(stopping.rounds, verbose=False)
    callbacks = [stop]
    if stopping.stop_at is not None:
        callbacks.append(LightGBMDeadline(stopping.stop_at, stop if stopping.truncate else None))
    with warnings.catch_warnings():
        # 4.7 prefers eval_X/eval_y, which do not label-encode string classes as eval_set does
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*eval_set.*deprecated")
        est.fit(fold.Z_tr, fold.y_tr, eval_set=[(fold.Z_va, fold.y_va)], callbacks=callbacks)
    return int(est.best_iteration_ or est.n_estimators)


FAMILY = Family(
    "category",
    estimator,
    "n_estimators",
    # booster parameters of the categorical splits and extremely randomised trees
    frozenset({"min_data_per_group", "cat_smooth", "cat_l2", "max_cat_threshold", "extra_trees"}),
    forbidden='",:[]{}',  # "special JSON characters in feature name"
    fit_stopping=fit_stopping,
)
