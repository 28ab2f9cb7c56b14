"""scikit-learn's HistGradientBoosting on ordinal codes, stopped by the clock in rounds."""

from __future__ import annotations

import time
from typing import Any

from sklearn.base import BaseEstimator

from modelops.schema import Schema, Task
from modelops.training.clock import OutOfTime
from modelops.training.families.base import Family, Fold, Stopping

# HistGradientBoosting treats a column as categorical only below its bin count.
_HGB_MAX_CATEGORIES = 250

# HistGradientBoosting's first round of trees under the clock; each round after it doubles
# the trees (so re-reading the trees grown before a round costs at most as much again).
HGB_FIRST_ROUND = 16


def estimator(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
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


def fit_stopping(est: Any, fold: Fold, stopping: Stopping) -> int:
    est.set_params(early_stopping=True, n_iter_no_change=max(stopping.rounds // 5, 10))
    if stopping.stop_at is None:
        est.fit(fold.Z_tr, fold.y_tr, X_val=fold.Z_va, y_val=fold.y_va)
    else:
        hist_gradient_boosting_until(
            est,
            fold.Z_tr,
            fold.y_tr,
            fold.Z_va,
            fold.y_va,
            stopping.stop_at,
            truncate=stopping.truncate,
        )
    return int(est.n_iter_)


def hist_gradient_boosting_until(
    est: Any,
    X: Any,
    y: Any,
    X_val: Any,
    y_val: Any,
    stop_at: float,
    *,
    truncate: bool = False,
) -> Any:
    """Fit a HistGradientBoosting model (early stopping on `X_val`) that stops at `stop_at`.

    It has no callback to stop it, so it grows its trees in rounds with `warm_start`, each as
    many again as it has, until early stopping ends it, `max_iter` is reached or the clock has
    run out: then `OutOfTime`, or with `truncate` the trees grown so far (a family's first
    trial, which must give a result: on a 262k-row table HGB's ran 142 s of a 90 s share). The
    trees and early stopping are those of one fit (its scores go on across rounds), but for
    one more tree when early stopping ends a round exactly on its last tree.
    """
    limit = int(est.max_iter)
    est.set_params(warm_start=True, max_iter=min(limit, HGB_FIRST_ROUND))
    try:
        while True:
            est.fit(X, y, X_val=X_val, y_val=y_val)
            if est.n_iter_ < est.max_iter or est.max_iter >= limit:
                break  # early stopping ended it, or every tree it may have is grown
            if time.perf_counter() > stop_at:
                if not truncate:
                    raise OutOfTime()
                break
            est.set_params(max_iter=min(limit, 2 * est.max_iter))
    finally:
        est.set_params(warm_start=False, max_iter=limit)  # a clone refits from scratch
    return est


FAMILY = Family(
    "ordinal",
    estimator,
    "max_iter",
    fit_stopping=fit_stopping,
    refit_fixed=(("early_stopping", False),),  # the refit grows the count the folds learned
)
