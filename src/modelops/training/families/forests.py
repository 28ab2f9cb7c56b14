"""Random forests and extremely randomised trees on ordinal codes. A forest does not early-stop
(more trees never hurt it), but its trees are grown in rounds under the search's clock, so a
first trial on a large table ends near its time with fewer trees instead of running on."""

from __future__ import annotations

import math
import time
from typing import Any

from sklearn.base import BaseEstimator

from modelops.schema import Schema, Task
from modelops.training.clock import OutOfTime
from modelops.training.families.base import Family, Stopping

# a forest under the clock is grown in this many rounds (the clock is read between them)
FOREST_ROUNDS = 10


def random_forest(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
    from modelops.estimators import SerialRandomForestClassifier, SerialRandomForestRegressor

    cls = SerialRandomForestRegressor if task == "regression" else SerialRandomForestClassifier
    return cls(random_state=seed, n_jobs=n_jobs)


def extra_trees(task: Task, schema: Schema, seed: int, n_jobs: int) -> BaseEstimator:
    from modelops.estimators import SerialExtraTreesClassifier, SerialExtraTreesRegressor

    cls = SerialExtraTreesRegressor if task == "regression" else SerialExtraTreesClassifier
    return cls(random_state=seed, n_jobs=n_jobs)


def grow_until(est: Any, Z: Any, y: Any, stopping: Stopping) -> int:
    """Grow a forest's `n_estimators` trees in rounds (`warm_start`: scikit-learn draws each
    new tree's seed after the ones it has, so the trees are those of one fit) until all are
    grown or the clock is past `stopping.stop_at`: then `OutOfTime`, or with `truncate` the
    trees grown so far (a family's first trial must give a result; on full diamonds the
    forest's one trial and its refit took 88 s of a 44 s share, the search's longest task).
    Returns the trees grown; the fitted forest's `n_estimators` says the same."""
    limit = int(est.n_estimators)
    step = max(1, math.ceil(limit / FOREST_ROUNDS))
    est.set_params(warm_start=True, n_estimators=min(limit, step))
    try:
        while True:
            est.fit(Z, y)
            grown = len(est.estimators_)
            if grown >= limit:
                break
            if stopping.stop_at is not None and time.perf_counter() > stopping.stop_at:
                if not stopping.truncate:
                    raise OutOfTime()
                break
            est.set_params(n_estimators=min(limit, grown + step))
    finally:
        est.set_params(warm_start=False)
    return grown


RANDOM_FOREST = Family("ordinal", random_forest, "n_estimators", fit_rounds=grow_until)
EXTRA_TREES = Family("ordinal", extra_trees, "n_estimators", fit_rounds=grow_until)
