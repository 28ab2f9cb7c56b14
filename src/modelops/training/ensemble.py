"""Greedy ensemble selection (Caruana et al., 2004) on out-of-fold predictions, bagged.

Starting from the best single model, repeatedly add (with replacement) the member whose
addition most improves the OOF metric of the averaged predictions (probabilities for
classifiers); keep the best prefix. Weights are how often each member was picked. The prefix
of length one is the best single model, so one greedy run is never worse than it on the OOF
metric; ties go to the member listed first (the better single model).

On a few hundred rows the OOF differences between members are mostly noise, and one greedy
run follows it: its first pick is the member that happened to score best, and a confident
mistake of that member on a few new rows costs the whole log loss (seen on wine, 142 rows:
LightGBM best by CV, then 0.34 on the holdout against 0.05 for CatBoost). So the weights are
averaged over greedy runs on bootstrap resamples of the OOF rows (bagged ensemble selection;
Caruana et al. 2004 bag over models, here over rows): where the ranking is clear, as on
43,000 rows, every bag picks alike and the average is one run's weights; where it is noise,
the bags disagree and the average hedges.

A member picked a few times out of hundreds adds nothing the OOF metric can tell from noise,
but the whole of its fitted model to the registered ensemble: on diamonds the forest carried
3% of the weight and 116 of the 394 MB. Members below `min_weight` are dropped and the weights
chosen again among the rest (until none is below it), so the weights stay the greedy's own.
TrainFlow passes it only where the CV is not repeated: on a small table a light member is the
bagged selection's hedge against a confident mistake, and its model is small.

A member also costs time at every prediction: on diamonds the ensemble predicted 24.5k rows/s
where its CatBoost member alone predicted 286k. Given each member's cost (`costs`, ms per 1,000
rows, measured in its family's task), the chosen members are pruned, the most expensive first,
while the blend of the rest, its weights chosen again, loses no more than `tolerance` of the
OOF metric against the full blend (the CV's own noise: TrainFlow passes a share of the best
member's standard error), and until their summed cost is within `limit` if one is given (the
user's `--infer-limit`; then the member whose removal loses least per millisecond saved goes).
AutoGluon's `infer_limit` prunes its ensembles the same way.

Every OOF score of chosen weights is optimistic, though: they were fitted on the same rows.
`nested_scores` scores the *procedure* honestly, choosing the weights on the other folds' rows
for each fold, and that is what ranks the ensemble. Choosing one family by CV is a procedure
too, `nested_scores` with one greedy step, and that is its fair comparison.

`build_ensemble` runs all of it on TrainFlow's candidates and says what decided.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelops.problem import Problem
from modelops.threads import cores
from modelops.training.config import TrainConfig
from modelops.training.predictions import metric_of, metrics_of, scorer
from modelops.training.prepared import Prepared
from modelops.training.search import CandidateScore
from modelops.training.selection import rank


@dataclass(frozen=True)
class EnsembleWeights:
    """The chosen members and weights, and the OOF metric of their blend on every row."""

    weights: dict[str, float]
    score: float
    pruned: tuple[str, ...] = ()  # members the greedy chose that pruning for speed took out


def greedy_selection(
    oof: dict[str, np.ndarray],
    y: Any,
    problem: Problem,
    *,
    iterations: int = 40,
    bags: int = 1,
    seed: int = 0,
    min_weight: float = 0.0,
    costs: dict[str, float] | None = None,
    tolerance: float = 0.0,
    limit: float | None = None,
) -> EnsembleWeights:
    """Weights over `oof`'s members (in their given order, best single model first).

    `bags` > 1 averages the weights of that many greedy runs, each on a bootstrap resample of
    the rows (drawn from `seed`); 1 is one run on every row. Members whose weight is below
    `min_weight` are dropped and the weights chosen again among the others. With `costs`
    (each member's ms per 1,000 rows) the members are then pruned for speed (module doc).
    """
    if not oof:
        raise ValueError("greedy_selection needs at least one member")
    y = problem.target(y)

    def choose(members: dict[str, np.ndarray]) -> dict[str, float]:
        weights = _weights(members, y, problem, iterations, bags, seed)
        while len(weights) > 1 and min(weights.values()) < min_weight:
            top = max(weights, key=weights.__getitem__)  # never none: the heaviest stays
            members = {
                n: p for n, p in members.items() if weights.get(n, 0.0) >= min_weight or n == top
            }
            weights = _weights(members, y, problem, iterations, bags, seed)
        return weights

    chosen = weights = choose(oof)
    if costs is not None:
        weights = _cheaper(oof, weights, choose, y, problem, costs, tolerance, limit)
    score = metric_of(problem, y, blend(oof, weights))
    return EnsembleWeights(weights, score, tuple(n for n in chosen if n not in weights))


def _cheaper(
    oof: dict[str, np.ndarray],
    weights: dict[str, float],
    choose: Callable[[dict[str, np.ndarray]], dict[str, float]],
    y: np.ndarray,
    problem: Problem,
    costs: dict[str, float],
    tolerance: float,
    limit: float | None,
) -> dict[str, float]:
    """`weights` with members removed one at a time while the blend stays within `tolerance`
    of the full blend's OOF metric (the most expensive such member first), then, while the
    summed cost is over `limit`, the member that loses least per millisecond saved.

    Each removal is judged on the others' weights rescaled to sum to one (one metric
    evaluation per member); when no more can go, the weights of the members left are chosen
    again and tried once more, until choosing again frees none. Should a blend chosen again
    lose more than `tolerance`, the members last taken out for speed come back one at a time.
    Choosing again after every removal (a bagged greedy run per member per fold) was three
    quarters of `select` on a 5,000-row binary table: 76,000 ROC AUC evaluations."""
    sign = 1.0 if problem.higher else -1.0
    # the greedy's own scorer: fast, and its log loss clips probabilities (weights rescaled in
    # floating point can sum to 1 + 2e-16, which scikit-learn's log loss refuses)
    scored = scorer(problem, y)
    full = scored(blend(oof, weights))

    def loss(w: dict[str, float]) -> float:
        return sign * (full - scored(blend(oof, w)))

    removed: list[tuple[str, bool]] = []  # (member, taken out for the limit), in order
    while True:
        kept = _rescaled_removals(weights, loss, costs, tolerance, limit, removed)
        if kept == weights:
            return weights
        members = set(kept)
        chosen = choose({n: oof[n] for n in oof if n in members})
        returned = False
        while loss(chosen) > tolerance and removed and not removed[-1][1]:
            members.add(removed.pop()[0])
            chosen = choose({n: oof[n] for n in oof if n in members})
            returned = True
        if returned:
            return chosen
        weights = chosen  # fewer members than before this pass: the loop ends


def _rescaled_removals(
    weights: dict[str, float],
    loss: Callable[[dict[str, float]], float],
    costs: dict[str, float],
    tolerance: float,
    limit: float | None,
    removed: list[tuple[str, bool]],
) -> dict[str, float]:
    """`weights` without the members `_cheaper` takes out, judged on the others' weights
    rescaled (appended to `removed`); `weights` itself when none goes."""
    kept = weights
    while len(kept) > 1:
        over = limit is not None and sum(costs[n] for n in kept) > limit
        options = []
        for name in kept:
            total = sum(w for n, w in kept.items() if n != name)
            rest = {n: w / total for n, w in kept.items() if n != name}
            lost = loss(rest)
            if costs[name] > 0 and (over or lost <= tolerance):
                options.append((lost / costs[name] if over else -costs[name], name, rest))
        if not options:
            break
        _, name, kept = min(options, key=lambda o: o[:2])
        removed.append((name, over))
    return kept


def _weights(
    oof: dict[str, np.ndarray],
    y: np.ndarray,
    problem: Problem,
    iterations: int,
    bags: int,
    seed: int,
) -> dict[str, float]:
    """One greedy run on every row, or the mean weights of `bags` runs on bootstrap resamples."""
    if bags <= 1:
        return _greedy(oof, y, problem, iterations)
    rng, totals = np.random.default_rng(seed), dict.fromkeys(oof, 0.0)
    for _ in range(bags):
        rows = rng.integers(0, len(y), len(y))
        bag = {n: p[rows] for n, p in oof.items()}
        for n, w in _greedy(bag, y[rows], problem, iterations).items():
            totals[n] += w
    return {n: w / sum(totals.values()) for n, w in totals.items() if w > 0}


def _greedy(
    oof: dict[str, np.ndarray],
    y: np.ndarray,
    problem: Problem,
    iterations: int,
) -> dict[str, float]:
    """One greedy run on every row of `oof`: the best prefix's pick counts, as weights."""
    names = list(oof)
    higher, better = problem.higher, problem.better
    score = scorer(problem, y)
    total = np.zeros_like(next(iter(oof.values())), dtype=float)
    picks: list[str] = []
    best_len, best_score = 0, -np.inf if higher else np.inf
    for step in range(iterations):
        choice, choice_score = None, None
        for name in names:
            s = score((total + oof[name]) / (step + 1))
            if choice_score is None or better(s, choice_score):
                choice, choice_score = name, s
        picks.append(choice)
        total += oof[choice]
        if better(choice_score, best_score):
            best_len, best_score = step + 1, choice_score
    chosen = picks[:best_len]
    return {n: chosen.count(n) / best_len for n in dict.fromkeys(chosen)}


def nested_scores(
    oof: dict[str, np.ndarray],
    y: Any,
    problem: Problem,
    validation: list[np.ndarray],
    *,
    iterations: int = 40,
    bags: int = 1,
    seed: int = 0,
    min_weight: float = 0.0,
    costs: dict[str, float] | None = None,
    tolerance: float = 0.0,
    limit: float | None = None,
) -> list[dict[str, float]]:
    """Every metric of the ensemble on each validation fold, its weights chosen without it.

    Scored per fold like the single families (whose CV score is the mean over folds), so the
    leaderboard compares like with like. `iterations=1` scores choosing one member by its OOF
    score on the other folds' rows (the leaderboard ranks by the mean of fold scores instead,
    which orders members alike but for near ties).
    """
    y = problem.target(y)
    scores = []
    for va in validation:
        rest = np.setdiff1d(np.arange(len(y)), va)
        subset = {n: p[rest] for n, p in oof.items()}
        fitted = greedy_selection(
            subset,
            y[rest],
            problem,
            iterations=iterations,
            bags=bags,
            seed=seed,
            min_weight=min_weight,
            costs=costs,
            tolerance=tolerance,
            limit=limit,
        )
        pred = blend({n: p[va] for n, p in oof.items()}, fitted.weights)
        scores.append(metrics_of(problem, y[va], pred))
    return scores


def blend(preds: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """The weighted average of members' predictions (or aligned probabilities)."""
    return sum(w * np.asarray(preds[n], dtype=float) for n, w in weights.items())


def side_by_side(jobs: list[tuple[Callable[..., Any], tuple, dict[str, Any]]]) -> list[Any]:
    """`fn(*args, **kwargs)` of every job, in order, in forked worker processes on this task's
    cores (one after another when there is one core or one job).

    The greedy runs of the ensemble's selection and nested scores are independent and pure
    NumPy: on a 5,000-row binary table they were most of `select`, with a core left idle.
    Forked workers start in milliseconds and receive only the small OOF arrays."""
    workers = min(cores(), len(jobs))
    if workers <= 1:
        return [fn(*args, **kwargs) for fn, args, kwargs in jobs]
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
        futures = [pool.submit(fn, *args, **kwargs) for fn, args, kwargs in jobs]
        return [f.result() for f in futures]


@dataclass(frozen=True)
class EnsembleChoice:
    """The ensemble's leaderboard row and the honest score of the alternative to it."""

    score: CandidateScore  # its CV: weights chosen without each fold scored
    one_family_cv: float  # choosing one family by CV, scored the same way
    pruned: list[str] = field(default_factory=list)  # members taken out for speed

    def wins(self, problem: Problem) -> bool:
        """Better than picking the best family, like for like (ties keep the simpler model)."""
        return problem.better(self.score.cv[problem.metric], self.one_family_cv)


def build_ensemble(
    scores: list[CandidateScore], prep: Prepared, config: TrainConfig, *, seed: int
) -> EnsembleChoice | None:
    """Bagged greedy ensemble selection over the families' OOF predictions (ranked order).

    Its CV is nested (weights chosen on the other folds' rows), and so is the score it is
    compared with: picking the family with the best OOF score on the other folds' rows. A
    family's own CV is the best of its trials, and the best family's the best of six of those,
    so against it an honest ensemble score lost on small tables even where it was better on
    new rows (wine, ten splits: mean holdout log loss 0.092 before, 0.069 with this choice).
    """
    members = [s for s in rank(scores, prep.problem) if s.oof is not None]
    if not config.ensemble.enabled or len(members) < 2:
        return None
    # OOF rows: all of them, but for forward-chaining folds (the first block is never validated)
    rows = prep.folds.scored
    y, bags, problem = prep.split.y_train.iloc[rows], config.ensemble.bags, prep.problem
    oofs = {m.label: m.oof[rows] for m in members}
    # Where the CV is repeated because the ranking is noise, a light member is the bagged
    # selection's hedge, and its model is small: it stays. Wine, every row held out once over
    # two seeds' five folds: pruned at 5%, log loss 0.094 against 0.074 on one seed.
    min_weight = config.ensemble.min_weight if prep.folds.repeats == 1 else 0.0
    # The weights on every scored row, then per repeat and fold the nested scores, each on
    # that repeat's own OOF predictions, as each family's CV is: the OOF averaged over repeats
    # is a bag of several fits, which would flatter the ensemble. Independent greedy runs, run
    # side by side on the cores this task has (the same numbers as one after another).
    greedy = {"iterations": config.ensemble.iterations, "bags": bags, "min_weight": min_weight}
    greedy |= speed_pruning(members, prep, config)
    n, ensemble_jobs, one_family_jobs = prep.folds.n_folds, [], []
    for r in range(prep.folds.repeats):
        oof_r = {m.label: m.oof_by_repeat[r][rows] for m in members}
        for _, va in prep.folds.splits[r * n : (r + 1) * n]:
            args = (oof_r, y, problem, [np.searchsorted(rows, va)])
            ensemble_jobs.append((nested_scores, args, greedy | {"seed": seed + r}))
            one_family_jobs.append((nested_scores, args, {"iterations": 1}))
    main_job = (
        greedy_selection,
        (oofs, y, problem),
        greedy | {"seed": seed},
    )
    chosen, *nested = side_by_side([main_job, *ensemble_jobs, *one_family_jobs])
    ensemble_folds = [row for rows_ in nested[: len(ensemble_jobs)] for row in rows_]
    one_family_folds = [row for rows_ in nested[len(ensemble_jobs) :] for row in rows_]
    oof = blend({m.label: m.oof for m in members}, chosen.weights)
    holdout_pred = blend({m.label: m.holdout_pred for m in members}, chosen.weights)
    per_fold = pd.DataFrame(ensemble_folds)
    score = CandidateScore(
        name="ensemble",
        label="ensemble",
        params={"weights": chosen.weights},
        cv=per_fold.mean().to_dict(),
        cv_std=per_fold.std(ddof=0).fillna(0.0).to_dict(),
        holdout=metrics_of(prep.problem, prep.split.y_test, holdout_pred),
        fit_seconds=sum(m.fit_seconds for m in members if m.label in chosen.weights),
        cv_seconds=0.0,
        oof=oof,
        holdout_pred=holdout_pred,
        folds=prep.folds.description,
    )
    one_family = float(pd.DataFrame(one_family_folds)[prep.metric].mean())
    return EnsembleChoice(score, one_family, list(chosen.pruned))


def speed_pruning(
    members: list[CandidateScore], prep: Prepared, config: TrainConfig
) -> dict[str, Any]:
    """The greedy selection's pruning settings: each member's cost, how much of the OOF metric
    a cheaper blend may lose (a share of the best member's CV standard error: what the CV
    cannot tell apart), and the user's limit. None where a cost was not measured."""
    costs = {m.label: m.predict_ms for m in members}
    off = config.ensemble.speed_tolerance == 0 and config.infer_limit_ms is None
    if off or not all(math.isfinite(c) for c in costs.values()):
        return {}
    best = members[0]
    error = best.cv_std.get(prep.metric, 0.0) / math.sqrt(len(prep.folds.splits))
    tolerance = config.ensemble.speed_tolerance * error
    return {"costs": costs, "tolerance": tolerance, "limit": config.infer_limit_ms}
