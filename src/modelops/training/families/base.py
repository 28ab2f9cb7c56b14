"""What a model family is: how to build its estimator, encode its input and early-stop it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sklearn.base import BaseEstimator

from modelops.features import Encoding
from modelops.schema import Schema, Task


@dataclass(frozen=True)
class Fold:
    """One fold's rows, encoded by the pipeline's fitted steps: what a booster fits on and
    early-stops on."""

    Z_tr: Any
    y_tr: Any
    Z_va: Any
    y_va: Any


@dataclass(frozen=True)
class Stopping:
    """How a booster's fit ends: early stopping after `rounds` without gain on the validation
    rows, and the search's clock: at `stop_at` (a `time.perf_counter()` value, None: no
    clock) with `OutOfTime`, or with `truncate` keeping its best iteration so far (a family's
    first trial must give a result)."""

    rounds: int
    stop_at: float | None = None
    truncate: bool = False


# Fit the estimator on `fold` as `stopping` says; return the iteration count it learned.
FitStopping = Callable[[Any, Fold, Stopping], int]
# Fit the estimator on a fold's training rows (encoded) and target in rounds under the clock
# (`stopping.stop_at`, `stopping.truncate`); return how many trees it grew.
FitRounds = Callable[[Any, Any, Any, Stopping], int]


@dataclass(frozen=True)
class Family:
    """One model family: its encoder, its estimator, and for a booster how it early-stops.

    `factory(task, schema, seed, n_jobs)` builds the unfitted estimator; `fit_stopping` fits a
    booster with early stopping and the search's clock (None: a plain `fit`, which only the
    check after it can prune). The classes a registered model pickles are never defined in a
    family's module (they live in `modelops.estimators` and `modelops.boosters`), so a family
    can move or change without a registered model failing to load.
    """

    encoding: Encoding
    factory: Callable[[Task, Schema, int, int], BaseEstimator]
    iterations: str = ""  # the parameter early stopping learns ("n_estimators", ...)
    # parameters the estimator takes through **kwargs, so not in its signature
    kwargs_parameters: frozenset[str] = frozenset()
    # characters its library refuses in a feature name (every trial would fail on them)
    forbidden: str = ""
    fit_stopping: FitStopping | None = None
    # a forest: its trees grown in rounds under the search's clock (None: one plain `fit`);
    # when a first trial's clock cut it, the refit grows the count its folds reached
    fit_rounds: FitRounds | None = None
    # set with the learned iteration count when the best trial is refitted on every row
    refit_fixed: tuple[tuple[str, Any], ...] = ()
    # classifiers learn on label codes 0..K-1 (`EncodedLabels` answers in the labels)
    label_codes: bool = False

    @property
    def booster(self) -> bool:
        """A booster: it early-stops on validation rows, and the clock can stop its training
        (a deadline callback, or rounds of trees)."""
        return self.fit_stopping is not None
