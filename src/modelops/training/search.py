"""One family's search inside its time limit: Optuna's TPE sampler, pruning on early folds.

The first trial is the family's `defaults` from the config (a strong untuned point), then its
`portfolio` (configurations that do well on many tables, the library's own defaults among
them), so the search never ends worse than an untuned fit; TPE proposes the rest, seeded. Each
trial is cross-validated on the shared folds; the running mean after each fold is reported so
the median pruner stops a bad trial early. A trial that raises is recorded as failed and the
search goes on. The best trial is refitted on every training row within the same limit.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from modelops.problem import Problem
from modelops.schema import Schema
from modelops.training.candidates import make_pipeline
from modelops.training.clock import OutOfTime
from modelops.training.config import FIRST_TRIAL_GRACE, Space, TaskBlock
from modelops.training.data import Split
from modelops.training.fit import REFIT_ITERATIONS, Folds, calibrate, cross_validate
from modelops.training.fit import refit as refit_pipeline
from modelops.training.predictions import metrics_of, predict_aligned

log = logging.getLogger(__name__)


@dataclass
class Trial:
    """One trial: its parameters, what happened and its scores (for W&B and the card)."""

    number: int
    params: dict[str, Any]
    state: str  # complete | pruned | failed
    value: float | None
    fold_scores: list[float]
    seconds: float
    started: float  # seconds since the search began
    error: str = ""


@dataclass
class CandidateScore:
    """A family's (or the ensemble's) result without fitted models: small, so the join can
    rank and build the ensemble without loading every pipeline."""

    name: str
    label: str
    params: dict[str, Any]
    cv: dict[str, float]
    cv_std: dict[str, float]
    holdout: dict[str, float]
    fit_seconds: float
    cv_seconds: float
    oof: np.ndarray | None = field(default=None, repr=False)
    oof_by_repeat: np.ndarray | None = field(default=None, repr=False)
    holdout_pred: np.ndarray | None = field(default=None, repr=False)
    trials: list[Trial] = field(default_factory=list, repr=False)
    failed: str = ""
    folds: str = ""
    sample: pd.DataFrame | None = field(default=None, repr=False)
    stopped: str = ""  # why the search ended: converged, budget or trial cap
    predict_ms: float = math.nan  # milliseconds to predict 1,000 rows (`predict_cost`)

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly leaderboard row."""
        row: dict[str, Any] = {"candidate": self.label, "family": self.name}
        row |= {f"cv_{k}": v for k, v in self.cv.items()}
        row |= {f"holdout_{k}": v for k, v in self.holdout.items()}
        row |= {
            "trials": len(self.trials),
            "fit_seconds": round(self.fit_seconds, 2),
            "search_seconds": round(self.cv_seconds, 2),
        }
        if self.stopped:
            row["stopped"] = self.stopped
        if math.isfinite(self.predict_ms):
            row["predict_ms_per_1k"] = round(self.predict_ms, 2)
        if self.failed:
            row["failed"] = self.failed
        return row


@dataclass
class CandidateResult(CandidateScore):
    """What a family task returns: its scores plus the refitted pipeline (None if all failed)."""

    pipeline: Pipeline | None = None

    def score(self) -> CandidateScore:
        fields_ = {k: v for k, v in vars(self).items() if k != "pipeline"}
        return CandidateScore(**fields_)


def suggest(trial: Any, space: dict[str, Space]) -> dict[str, Any]:
    """Optuna's proposal for every parameter of the space."""
    out: dict[str, Any] = {}
    for name, s in space.items():
        if s.type == "categorical":
            out[name] = trial.suggest_categorical(name, s.choices)
        elif s.type == "int":
            out[name] = trial.suggest_int(name, int(s.low), int(s.high), log=s.log)
        else:
            out[name] = trial.suggest_float(name, float(s.low), float(s.high), log=s.log)
    return out


@dataclass
class _Search:
    """One family's search in progress: its settings, its clock and what its trials found.

    Optuna calls `objective` for each trial and `report` and `stop_when_out_of_time` after
    each; the rules of the search's clock (`refit_reserve`, `first_fold_deadline`) and its
    convergence stop (`converged`) read the trials recorded here.
    """

    name: str
    block: TaskBlock
    problem: Problem
    schema: Schema
    X: pd.DataFrame
    y: pd.Series
    folds: Folds
    seconds: float
    seed: int
    n_jobs: int
    max_trials: int
    early_stopping_rounds: int
    refit_seeds: int
    patience: int
    first_trial_grace: float
    on_trial: Callable[[Trial], None] | None
    t_start: float = field(default_factory=time.perf_counter)
    trials: list[Trial] = field(default_factory=list)
    cv_results: dict[int, Any] = field(default_factory=dict)  # number -> (params, cv, seconds)
    stopped: str = "budget"  # why the search ended: budget, trial cap or converged

    def __post_init__(self) -> None:
        self.deadline = self.t_start + self.seconds
        self.first_trials = len(self.block.first_trials())

    def objective(self, trial: Any) -> float:
        """One trial: its folds cross-validated, stopped when the pruner or the clock says so."""
        import optuna

        # a portfolio entry's parameters outside the space hold for its own trial only
        params = self.block.fixed | suggest(trial, self.block.space)
        params |= trial.user_attrs.get("extra", {})
        t0 = time.perf_counter()
        folds_seen: list[float] = []
        record = Trial(trial.number, params, "complete", None, folds_seen, 0.0, t0 - self.t_start)
        self.trials.append(record)

        def after_fold(i: int, running: float) -> None:
            folds_seen.append(running)
            trial.report(running, i)
            if trial.number == 0:  # the config's defaults always finish: a family has a result
                return
            # stop a trial that cannot finish its folds and leave time for the refit
            now = time.perf_counter()
            left = (now - t0) / (i + 1) * (len(self.folds.splits) - i - 1)
            if trial.should_prune() or now + left + self.refit_reserve() > self.deadline:
                raise optuna.TrialPruned()

        # the folds must end in time for the refit; the defaults' trial always finishes, its
        # boosters stopped only far past the share (first_fold_deadline)
        stop_at = None if trial.number == 0 else self.deadline - self.refit_reserve()
        first = self.first_fold_deadline if trial.number == 0 else None
        try:
            task = self.problem.task
            pipe = make_pipeline(self.name, task, self.schema, params, self.seed, self.n_jobs)
            result = cross_validate(
                pipe,
                self.name,
                self.X,
                self.y,
                self.problem,
                self.folds,
                early_stopping_rounds=self.early_stopping_rounds,
                after_fold=after_fold,
                stop_at=stop_at,
                truncate_at=first,
            )
        except optuna.TrialPruned:
            record.state = "pruned"
            raise
        except OutOfTime:
            record.state = "pruned"
            raise optuna.TrialPruned() from None
        except Exception as err:  # a bad parameter combination: recorded, the search goes on
            record.state, record.error = "failed", f"{type(err).__name__}: {err}"
            log.warning("%s trial %d failed: %s", self.name, trial.number, record.error)
            raise
        finally:
            record.seconds = time.perf_counter() - t0
        if result.truncated:
            log.warning(
                "%s: its first trial's trees were cut in %d of %d folds at %g times its "
                "share of the budget (%.0f s), fewer than early stopping would choose or the "
                "forest was to grow; a larger --budget-minutes or search.families.%s.share "
                "gives it more",
                self.name,
                result.truncated,
                len(self.folds.splits),
                self.first_trial_grace,
                self.seconds,
                self.name,
            )
        value = result.cv[self.problem.metric]
        if math.isnan(value):
            record.state, record.error = "failed", f"cv {self.problem.metric} is NaN"
            raise ValueError(record.error)
        record.value = value
        self.cv_results[trial.number] = (params, result, record.seconds)
        return value

    def first_fold_deadline(self, i: int) -> float:
        """Fold i of the first trial ends by its part of the time left until
        `first_trial_grace` times the family's share, the refit counted as the parts it costs:
        k/(k-1) of a fold's rows and 10% more trees (`refit`). Counted as one fold, it ran
        past the share by more than a fold: on a 54-class table CatBoost's two truncated
        folds took 29 s and its refit 30 s, with 13 s left, and the family after it in the
        task lost the difference."""
        refit = self.refit_rows * REFIT_ITERATIONS
        now, parts = time.perf_counter(), len(self.folds.splits) - i + refit
        late = self.t_start + self.first_trial_grace * self.seconds
        return now + max((late - now) / parts, self.seconds / (len(self.folds.splits) + refit))

    def refit_reserve(self) -> float:
        """Time to refit the best trial so far on every row (k/(k-1) of a fold's rows), once
        per refit seed."""
        if not self.cv_results:
            return 0.0
        _, best, _ = self.cv_results[self.best_number()]
        return float(np.mean(best.fold_seconds)) * self.refit_rows * self.refit_seeds

    @property
    def refit_rows(self) -> float:
        """How many times a fold's training rows the refit fits on: k/(k-1)."""
        k = self.folds.n_folds
        return k / max(k - 1, 1)

    def refit_seeds_in_time(self) -> tuple[int, ...]:
        """The seeds the best trial is refitted with: all configured ones, or as many as the
        time left holds (each fit about a fold's on k/(k-1) of its rows), one fit at least
        (no seeds: a plain fit). The later trials stopped in time for every seed's refit; the
        defaults' trial, which always finishes, can end near or past the deadline: on full
        diamonds CatBoost's first trial ended 16 s before it and its three-seed refit took
        34 s, the family's task ending 27 s past its share."""
        per_seed = self.refit_reserve() / self.refit_seeds
        left = self.deadline - time.perf_counter()
        n = self.refit_seeds if per_seed <= 0 else min(self.refit_seeds, int(left // per_seed))
        return tuple(self.seed + i for i in range(n)) if n > 1 else ()

    def best_number(self) -> int:
        return _best_number(self.cv_results, self.problem)

    def converged(self) -> bool:
        """`patience` trials after the portfolio without a gain beyond the CV's noise."""
        if self.patience <= 0 or len(self.trials) < self.first_trials + self.patience:
            return False
        best, noise, since, higher = None, 0.0, 0, self.problem.higher
        for t in self.trials:
            gain = None if t.value is None or best is None else t.value - best
            if t.value is not None and (best is None or (gain if higher else -gain) > noise):
                best, since = t.value, 0
                std = self.cv_results[t.number][1].cv_std.get(self.problem.metric, 0.0)
                noise = std / math.sqrt(len(self.folds.splits))
            elif t.number >= self.first_trials:
                since += 1
        return since >= self.patience

    def report(self, _: Any, frozen: Any) -> None:
        """Optuna's callback: the trial's final record to `on_trial` (W&B logs it live)."""
        record = next((t for t in self.trials if t.number == frozen.number), None)
        if self.on_trial is None or record is None:
            return
        try:
            self.on_trial(record)
        except Exception as err:  # an observer must not end the search
            log.warning("%s: reporting trial %d failed: %s", self.name, record.number, err)

    def stop_when_out_of_time(self, study: Any, _: Any) -> None:
        """Optuna's callback: no new trial past the trial cap, once converged, or unless even
        the quickest trial so far could finish before the refit must start."""
        quickest = min((t.seconds for t in self.trials if t.state == "complete"), default=0.0)
        left = self.deadline - time.perf_counter()
        if len(self.trials) >= self.max_trials:
            self.stopped = "trial cap"
            study.stop()
        elif self.converged():
            self.stopped = "converged"
            study.stop()
        elif left < self.refit_reserve() + quickest:
            study.stop()


def search_family(
    *,
    name: str,
    block: TaskBlock,
    problem: Problem,
    schema: Schema,
    data: Split,
    folds: Folds,
    seconds: float,
    seed: int,
    n_jobs: int,
    max_trials: int,
    early_stopping_rounds: int,
    refit_seeds: int = 1,
    temperature: bool = False,
    patience: int = 0,
    first_trial_grace: float = FIRST_TRIAL_GRACE,
    on_trial: Callable[[Trial], None] | None = None,
) -> CandidateResult:
    """Search `name`'s space for at most `seconds` (refit included); return the best, refitted
    (with `refit_seeds` seeds averaged when more than one).

    `on_trial(trial)` runs as each trial ends, with its final record (W&B logs it live).

    `temperature`, for classifiers ranked by log loss: the best trial's probabilities are
    rescaled by the temperature that fits its OOF predictions best, in the refitted model and
    in the OOF predictions, CV and holdout scores the ranking and the ensemble see.

    `patience` > 0: the search also stops once that many trials after the portfolio brought
    no improvement larger than the CV's own noise (the best trial's fold-to-fold standard
    error): more trials are then unlikely to pay, and the time goes back to the user.

    `first_trial_grace`: how many times its share the first trial's boosters may run before
    they keep what they have learned (the first trial always gives a result).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search = _Search(
        name=name,
        block=block,
        problem=problem,
        schema=schema,
        X=data.X_train,
        y=data.y_train,
        folds=folds,
        seconds=seconds,
        seed=seed,
        n_jobs=n_jobs,
        max_trials=max_trials,
        early_stopping_rounds=early_stopping_rounds,
        refit_seeds=refit_seeds,
        patience=patience,
        first_trial_grace=first_trial_grace,
        on_trial=on_trial,
    )
    study = optuna.create_study(
        direction="maximize" if problem.higher else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=5),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
    )
    for first in block.first_trials():
        study.enqueue_trial(
            {k: v for k, v in first.items() if k in block.space},
            user_attrs={"extra": {k: v for k, v in first.items() if k not in block.space}},
        )
    with threadpool_limits(limits=n_jobs if n_jobs > 0 else None):
        study.optimize(
            search.objective,
            timeout=max(seconds, 1.0),
            n_trials=max_trials,
            catch=(Exception,),
            callbacks=[search.report, search.stop_when_out_of_time],
        )
        search_seconds = time.perf_counter() - search.t_start
        if not search.cv_results:
            reasons = sorted({t.error for t in search.trials if t.error}) or ["no trial finished"]
            return CandidateResult(
                name,
                name,
                {},
                {},
                {},
                {},
                0.0,
                search_seconds,
                trials=search.trials,
                failed="; ".join(reasons)[:500],
            )
        return _refit_best(search, data, temperature, search_seconds)


def _refit_best(
    search: _Search, data: Split, temperature: bool, search_seconds: float
) -> CandidateResult:
    """The best trial refitted on every training row (a seed bag of as many seeds as the time
    left holds), calibrated when asked, scored on the holdout and timed to predict."""
    name, problem, metric, seed = search.name, search.problem, search.problem.metric, search.seed
    best_number = search.best_number()
    params, result, _ = search.cv_results[best_number]
    t0 = time.perf_counter()
    pipe = make_pipeline(name, problem.task, search.schema, params, seed, search.n_jobs)
    seeds = search.refit_seeds_in_time()
    pipe, learned = refit_pipeline(pipe, name, search.X, search.y, result.iterations, seeds=seeds)
    if temperature and not problem.regression and metric == "log_loss":
        pipe, result, scale = calibrate(pipe, result, search.y, problem, search.folds)
        learned["temperature"] = round(scale, 4)
    fit_seconds = time.perf_counter() - t0
    holdout_pred = predict_aligned(pipe, data.X_test, problem)
    holdout = metrics_of(problem, data.y_test, holdout_pred)
    done = [t for t in search.trials if t.state == "complete"]
    log.info(
        "%s: %d trials (%d complete) in %.0fs, stopped: %s; best #%d cv %s=%.4g, holdout %.4g",
        name,
        len(search.trials),
        len(done),
        search_seconds,
        search.stopped,
        best_number,
        metric,
        result.cv[metric],
        holdout[metric],
    )
    return CandidateResult(
        name=name,
        label=name,
        params=params | learned,
        cv=result.cv,
        cv_std=result.cv_std,
        holdout=holdout,
        fit_seconds=fit_seconds,
        cv_seconds=search_seconds,
        oof=result.oof,
        oof_by_repeat=result.oof_by_repeat,
        holdout_pred=holdout_pred,
        trials=search.trials,
        folds=search.folds.description,
        sample=holdout_sample(data, problem, holdout_pred, seed),
        pipeline=pipe,
        stopped=search.stopped,
        predict_ms=predict_cost(pipe, data.X_test, problem),
    )


def predict_cost(model: Any, X: pd.DataFrame, problem: Problem) -> float:
    """CPU milliseconds the model takes to predict 1,000 rows: the best of three timings of
    10,000 rows (the holdout's, repeated), one thread per library, or fewer timings once a
    second has gone on them (wine's LightGBM, 4,900 trees, took 1.2 s a timing: 3.5 s of a
    search task spent measuring). What a champion costs to run is part of choosing it (an
    ensemble costs its members' sum).

    CPU time, not wall: the family tasks share the cores, and on diamonds their wall-clock
    timings of 1,000 rows were up to 8 times the same model's alone (HGB 141 ms against 17),
    ranking the members' costs wrongly; per-call overhead was most of a 1,000-row timing."""
    if not len(X):
        return math.nan
    rows = X.iloc[np.arange(10_000) % len(X)]
    best, spent = math.inf, 0.0
    with threadpool_limits(limits=1):
        for _ in range(3):
            t0 = time.process_time()
            predict_aligned(model, rows, problem)
            took = time.process_time() - t0
            best, spent = min(best, took), spent + took
            if spent >= 1.0:
                break
    return best * 1000 * 1000 / len(rows)


def _best_number(cv_results: dict[int, Any], problem: Problem) -> int:
    sign = -1.0 if problem.higher else 1.0
    return min(cv_results, key=lambda n: (sign * cv_results[n][1].cv[problem.metric], n))


def holdout_sample(
    data: Split, problem: Problem, pred: np.ndarray, seed: int, rows: int = 2000
) -> pd.DataFrame:
    """Up to `rows` holdout rows: `actual`, then `predicted` or one `proba_<class>` per class."""
    out = pd.DataFrame({"actual": data.y_test.to_numpy()})
    if problem.regression:
        out["predicted"] = pred
    else:
        for i, cls in enumerate(problem.classes):
            out[f"proba_{cls}"] = pred[:, i]
    return out.sample(min(rows, len(out)), random_state=seed).reset_index(drop=True)
