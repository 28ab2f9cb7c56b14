"""Cross-validation with out-of-fold predictions, and early stopping for the boosters.

Every family is scored on the same folds (fixed by the seed), so their out-of-fold (OOF)
predictions line up row by row and greedy ensemble selection can combine them. Boosters
early-stop, so the iteration count is learned; the refit on all training rows uses the folds'
mean best iteration. They stop on each fold's validation rows, except on small tables, where
they stop on a share of the fold's training rows (`Folds.stopping`) instead, and the fold's
model is fitted again on all its training rows with the count so learned: there, stopping on
the rows a fold is scored on flatters the boosters' CV scores more than the other families'
(on wine, a LightGBM trial's CV log loss 0.023 against 0.23 on rows it never saw), and
selection and the ensemble weights trust those scores.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier
from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold, TimeSeriesSplit
from sklearn.pipeline import Pipeline

from modelops.estimators import TargetTransform, temper
from modelops.metrics import class_positions
from modelops.problem import Problem
from modelops.schema import Task
from modelops.training.clock import check_time
from modelops.training.families import FAMILIES, Fold, Stopping
from modelops.training.predictions import metrics_of, predict_aligned

log = logging.getLogger(__name__)

# The refit on every training row grows this many times the folds' mean iteration count: more
# rows support a few more trees (`refit`; the search's clock counts it in a refit's cost).
REFIT_ITERATIONS = 1.1


@dataclass(frozen=True)
class Folds:
    """The (train, validation) row positions every family is scored on, `repeats` times over."""

    splits: tuple[tuple[np.ndarray, np.ndarray], ...]
    n_folds: int
    repeats: int
    # per fold, the training positions boosters early-stop on (and are not fitted on) instead
    # of the validation rows; empty: they stop on the validation rows
    stopping: tuple[np.ndarray, ...] = ()
    kind: str = ""  # "grouped" or "forward-chaining" when not shuffled rows

    @property
    def scored(self) -> np.ndarray:
        """The positions some fold validates: every row, but for forward-chaining folds, whose
        first block of time is only ever trained on. OOF predictions exist for these rows only
        (the others are NaN), so whatever reads OOF (ensemble, calibration) reads these."""
        return np.unique(np.concatenate([va for _, va in self.splits]))

    @property
    def description(self) -> str:
        base = f"{self.repeats}x{self.n_folds}-fold" if self.repeats > 1 else f"{self.n_folds}-fold"
        return f"{base} {self.kind}" if self.kind else base


def make_folds(
    y: pd.Series,
    task: Task,
    *,
    n_folds: int,
    repeats: int,
    seed: int,
    stopping: float = 0.0,
    groups: pd.Series | None = None,
    ordered: bool = False,
) -> Folds:
    """Stratified for classifiers; `repeats` > 1 reshuffles (repeated CV for small tables).

    `groups`: no group in both a fold's training and validation rows (stratified where the
    task has classes). `ordered`: the rows are in time order; the rows are cut into
    `n_folds` + 1 blocks of time and fold k trains on blocks 1..k and validates block k + 1
    (forward chaining, scikit-learn's `TimeSeriesSplit`: no fold sees the future it predicts;
    no shuffling, no repeats).
    `stopping` > 0 sets that share of each fold's training rows aside for the boosters' early
    stopping (stratified where every class can be; seeded, the same for every family)."""
    rows = np.zeros(len(y))
    if ordered:
        repeats = 1
        splits = tuple(TimeSeriesSplit(n_splits=n_folds).split(rows))
    elif groups is not None:
        from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

        splits = ()
        for r in range(repeats):
            if task == "regression":
                splitter = GroupKFold(n_splits=n_folds, shuffle=True, random_state=seed + r)
            else:
                splitter = StratifiedGroupKFold(
                    n_splits=n_folds, shuffle=True, random_state=seed + r
                )
            splits += tuple(splitter.split(rows, y, groups))
    else:
        cls = RepeatedKFold if task == "regression" else RepeatedStratifiedKFold
        splitter = cls(n_splits=n_folds, n_repeats=repeats, random_state=seed)
        splits = tuple(splitter.split(rows, y))
    kind = "forward-chaining" if ordered else "grouped" if groups is not None else ""
    if stopping <= 0:
        return Folds(splits, n_folds, repeats, kind=kind)
    return Folds(
        splits,
        n_folds,
        repeats,
        tuple(_stopping_rows(y, task, tr, stopping, seed + i) for i, (tr, _) in enumerate(splits)),
        kind=kind,
    )


def _stopping_rows(y: pd.Series, task: Task, tr: np.ndarray, share: float, seed: int) -> np.ndarray:
    """`share` of the training positions `tr` (at least one row), sorted."""
    from sklearn.model_selection import train_test_split

    n = min(max(1, round(share * len(tr))), len(tr) - 1)
    labels = y.iloc[tr].to_numpy()
    counts = pd.Series(labels).value_counts()
    stratify = None
    if task != "regression" and counts.min() >= 2 and len(counts) <= n <= len(tr) - len(counts):
        stratify = labels
    _, rows = train_test_split(tr, test_size=n, random_state=seed, stratify=stratify)
    if task != "regression":
        # a class the booster is asked to stop on must be among the rows it is fitted on:
        # a rare class (one row in a forward-chaining fold's early block) stays fitted
        fitted = set(pd.unique(y.iloc[np.setdiff1d(tr, rows)]))
        stop_labels = y.iloc[rows].to_numpy()
        back = [int(np.argmax(stop_labels == c)) for c in pd.unique(stop_labels) if c not in fitted]
        rows = np.delete(rows, back)
        if len(rows) == 0:  # every row set aside was such a class's: one of a common class
            rows = tr[[int(np.argmax(labels == counts.index[0]))]]
    return np.sort(rows)


@dataclass
class CVResult:
    """Mean/std of every metric over folds, OOF predictions, learned iterations and timing."""

    cv: dict[str, float]
    cv_std: dict[str, float]
    oof: np.ndarray  # (n,) predictions or (n, k) probabilities in `classes` order
    oof_by_repeat: np.ndarray  # (repeats, n) or (repeats, n, k): each repeat's own OOF
    iterations: list[int]
    fold_seconds: list[float]
    truncated: int = 0  # folds whose booster was stopped at its time (`truncate_at`)


def fit_fold(
    pipeline: Pipeline,
    family: str,
    X_tr: pd.DataFrame,
    y_tr: pd.Series,
    X_va: pd.DataFrame,
    y_va: pd.Series,
    *,
    early_stopping_rounds: int,
    stop_at: float | None = None,
    truncate: bool = False,
) -> tuple[Pipeline, int]:
    """Fit on the training rows, early-stopping boosters on the `X_va` rows.

    Returns the fitted pipeline and the iteration count it learned (0: not a booster).
    `stop_at` (a `time.perf_counter()` value) ends a booster's fit at that time with
    `OutOfTime`: a trial proposed with a small learning rate can take many times longer than
    the ones before it, and the search's deadline must hold inside a fold too. With `truncate`
    the booster keeps what it learned by then instead (its best iteration so far): a family's
    first trial, which must give it a result, cannot wait for one either (CatBoost's first
    trial on a 54-class table ran for more than ten minutes of a 90-second share).
    """
    prep = Pipeline(clone(pipeline).steps[:-1])
    est = clone(pipeline.steps[-1][1])
    Z_tr = prep.fit_transform(X_tr, y_tr)
    Z_va = prep.transform(X_va)
    wrapper = est if isinstance(est, TargetTransform) else None
    if wrapper is not None:  # the booster early-stops on the transformed validation target
        est = clone(wrapper.estimator)
        y_tr, y_va = wrapper.forward(y_tr), wrapper.forward(y_va)
    fam = FAMILIES[family]
    clock = Stopping(early_stopping_rounds, stop_at, truncate)
    if fam.fit_stopping is not None:
        best = fam.fit_stopping(est, Fold(Z_tr, y_tr, Z_va, y_va), clock)
    elif fam.fit_rounds is not None and stop_at is not None:
        best = fam.fit_rounds(est, Z_tr, y_tr, clock)
    else:
        est.fit(Z_tr, y_tr)
        best = 0
    if not truncate:
        check_time(stop_at)
    if wrapper is not None:
        est = wrapper.fitted(est, Z_tr, y_tr)
    return Pipeline(prep.steps + [("model", est)]), best


def cross_validate(
    pipeline: Pipeline,
    family: str,
    X: pd.DataFrame,
    y: pd.Series,
    problem: Problem,
    folds: Folds,
    *,
    early_stopping_rounds: int = 50,
    after_fold: Callable[[int, float], None] | None = None,
    stop_at: float | None = None,
    truncate_at: Callable[[int], float] | None = None,
) -> CVResult:
    """Score `pipeline` on every fold; OOF predictions are averaged over repeats. Boosters
    early-stop on the fold's validation rows, or, when the folds have `stopping` rows, on those
    (fitted on the rest of the fold's training rows) and are then fitted again on all of them
    with the count they learned, as the final refit is (`refit`).

    `after_fold(i, running_mean_of_metric)` runs after each fold: the search uses it to prune
    a bad trial on its first folds and to stop at the deadline; `stop_at` stops a booster
    inside a fold (`fit_fold`). `truncate_at(i)` is fold i's time instead, at which a booster
    keeps its best iteration so far (`CVResult.truncated` counts those folds).
    """
    shape = (len(y),) if problem.regression else (len(y), len(problem.classes))
    by_repeat = np.full((folds.repeats, *shape), np.nan)  # NaN: a row no fold validates
    scores: list[dict[str, float]] = []
    iterations, seconds, truncated = [], [], 0
    # boosters stop on rows set aside from the fold's training rows (small tables)
    clocked = FAMILIES[family].booster
    set_aside = clocked and bool(folds.stopping)
    # a forest grown in rounds: the trees it is to grow (fewer in a fold: the clock cut it)
    trees = FAMILIES[family].fit_rounds is not None and pipeline.steps[-1][1].n_estimators
    for i, (tr, va) in enumerate(folds.splits):
        t0 = time.perf_counter()
        until = truncate_at(i) if truncate_at is not None else stop_at
        fit_rows, stop_rows = tr, va
        if set_aside:
            stop_rows = folds.stopping[i]
            fit_rows = tr[~np.isin(tr, stop_rows)]
        model, best = fit_fold(
            pipeline,
            family,
            X.iloc[fit_rows],
            y.iloc[fit_rows],
            X.iloc[stop_rows],
            y.iloc[stop_rows],
            early_stopping_rounds=early_stopping_rounds,
            stop_at=until,
            truncate=truncate_at is not None,
        )
        # stopped by the clock: read before the refit below, whose time is not the booster's
        truncated += truncate_at is not None and clocked and time.perf_counter() > until
        truncated += truncate_at is not None and bool(trees) and 0 < best < trees
        if set_aside and best:
            # the count learned on the set-aside rows, the model from every training row
            model, _ = refit(pipeline, family, X.iloc[tr], y.iloc[tr], [best])
        pred = predict_aligned(model, X.iloc[va], problem)
        seconds.append(time.perf_counter() - t0)
        iterations.append(best)
        by_repeat[i // folds.n_folds][va] = pred
        scores.append(metrics_of(problem, y.iloc[va], pred))
        if after_fold is not None:
            after_fold(i, float(np.nanmean([s[problem.metric] for s in scores])))
    return CVResult(
        *_mean_and_std(scores),
        oof=by_repeat.mean(axis=0),  # every `folds.scored` row is validated once per repeat
        oof_by_repeat=by_repeat,
        iterations=iterations,
        fold_seconds=seconds,
        truncated=truncated,
    )


def fit_temperature(oof_by_repeat: np.ndarray, y: pd.Series, classes: list[Any]) -> float:
    """The temperature that minimises the log loss of every repeat's OOF probabilities (one
    parameter fitted on all the family's validation rows: too few to overfit).

    Not scikit-learn's `CalibratedClassifierCV(method="temperature")`: it fits the classifier
    again for each of its folds (or takes one held-out set), where these OOF probabilities
    already exist from the search's folds, and it searches the inverse temperature on
    log(p + eps) logits, which gives other temperatures than this bounded search on the
    clipped probabilities (registered models' probabilities would move)."""
    from scipy.optimize import minimize_scalar

    proba = oof_by_repeat.reshape(-1, oof_by_repeat.shape[-1])
    cols = np.tile(class_positions(y, classes), oof_by_repeat.shape[0])
    rows = np.flatnonzero(cols >= 0)

    def loss(log_t: float) -> float:
        picked = temper(proba[rows], float(np.exp(log_t)))[np.arange(len(rows)), cols[rows]]
        return float(-np.mean(np.log(np.clip(picked, 1e-15, 1.0))))

    best = minimize_scalar(loss, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(best.x))


def tempered(result: CVResult, y: pd.Series, problem: Problem, folds: Folds, t: float) -> CVResult:
    """`result` with every OOF probability at temperature `t`, and its fold scores again."""
    by_repeat = temper(result.oof_by_repeat, t)
    scores = []
    for i, (_, va) in enumerate(folds.splits):
        scores.append(metrics_of(problem, y.iloc[va], by_repeat[i // folds.n_folds][va]))
    return CVResult(
        *_mean_and_std(scores),
        oof=by_repeat.mean(axis=0),
        oof_by_repeat=by_repeat,
        iterations=result.iterations,
        fold_seconds=result.fold_seconds,
    )


def calibrate(
    pipeline: Pipeline,
    result: CVResult,
    y: pd.Series,
    problem: Problem,
    folds: Folds,
) -> tuple[Pipeline, CVResult, float]:
    """The refitted `pipeline` and its CV `result` at the temperature that fits the OOF
    probabilities best (`Tempered` in the estimator's place), and that temperature."""
    from modelops.estimators import Tempered

    rows = folds.scored
    t = fit_temperature(result.oof_by_repeat[:, rows], y.iloc[rows], list(problem.classes))
    step, est = pipeline.steps[-1]
    model = Pipeline(pipeline.steps[:-1] + [(step, Tempered.prefit(est, t))])
    return model, tempered(result, y, problem, folds, t), t


def _mean_and_std(scores: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Every metric's mean and standard deviation over the folds' scores."""
    frame = pd.DataFrame(scores)
    return frame.mean().to_dict(), frame.std(ddof=0).fillna(0.0).to_dict()


def refit(
    pipeline: Pipeline,
    family: str,
    X: pd.DataFrame,
    y: pd.Series,
    iterations: list[int],
    *,
    seeds: tuple[int, ...] = (),
) -> tuple[Pipeline, dict[str, Any]]:
    """Fit on every training row; a booster gets its folds' mean best iteration (+10%: more
    rows support a few more trees), a forest its folds' mean tree count (fewer than it was
    given only when the clock cut a first trial). Two or more `seeds`: the estimator is
    fitted once per seed, behind encoders fitted once, and the fits averaged (`SeedBag`).
    Returns the pipeline and the parameters it was given (`refit_seeds`: how many fits were
    averaged)."""
    from modelops.estimators import SeedBagClassifier, SeedBagRegressor

    fam = FAMILIES[family]
    model = clone(pipeline)
    learned: dict[str, Any] = {}
    est = model.steps[-1][1]
    if fam.iterations and any(iterations):
        more = REFIT_ITERATIONS if fam.booster else 1.0  # a forest's trees are not stopped
        learned[fam.iterations] = max(1, round(float(np.mean(iterations)) * more))
        # inside a wrapper (TargetTransform, EncodedLabels), else on the estimator itself;
        # a forest's own `estimator` is its tree, so the parameter's owner decides
        inner = getattr(est, "estimator", None)
        own = inner is None or fam.iterations in est.get_params(deep=False)
        target = est if own else inner
        target.set_params(**learned)
        if fam.refit_fixed:
            target.set_params(**dict(fam.refit_fixed))
    if len(seeds) > 1:
        bag = SeedBagClassifier if is_classifier(est) else SeedBagRegressor
        model.steps[-1] = (model.steps[-1][0], bag(est, tuple(seeds)))
        learned["refit_seeds"] = len(seeds)
    model.fit(X, y)
    return model, learned
