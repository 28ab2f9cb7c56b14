"""Champion/challenger: absolute gates, a re-scored comparison, and a race-safe alias move.

The challenger takes `production` only if it passes the configured thresholds and beats the
current champion on the same holdout, the champion being re-scored now rather than trusted
from its stored metrics (the holdout may differ from the one it was measured on).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from modelops.errors import ConfigError, ModelOpsError
from modelops.metrics import greater_is_better, is_better
from modelops.problem import Problem
from modelops.registry import PRODUCTION, AliasConflict, ModelVersion, Registry
from modelops.schema import Schema
from modelops.training.predictions import metrics_of, predict_aligned, scorer

log = logging.getLogger(__name__)

Policy = Literal["auto", "never", "always"]


@dataclass
class Champion:
    """The current production model as seen by this run: re-scored, or why it could not be."""

    version: int | None
    metrics: dict[str, float] | None = None
    problem: str | None = None
    pred: np.ndarray | None = field(default=None, repr=False)  # holdout predictions/probas
    blocks: bool = False  # it could not be judged (not loadable): nothing may replace it


def baseline(problem: Problem, y_train: Any, y_test: Any) -> tuple[dict[str, float], np.ndarray]:
    """The trivial model's holdout metrics and predictions: the training mean (regression) or
    the training class frequencies (classification). A first model must beat it to be worth
    promoting."""
    n, classes = len(y_test), list(problem.classes)
    if problem.regression:
        pred = np.full(n, float(np.mean(np.asarray(y_train, dtype=float))))
    else:
        counts = pd.Series(y_train).value_counts(normalize=True)
        prior = np.array([float(counts.get(c, 0.0)) for c in classes])
        pred = np.tile(prior, (n, 1))
    return metrics_of(problem, y_test, pred), pred


@dataclass(frozen=True)
class Interval:
    """A paired-bootstrap interval of the challenger's improvement (positive: better)."""

    low: float
    high: float
    mean: float
    confidence: float
    resamples: int
    seed: int


def paired_bootstrap(
    problem: Problem,
    y: Any,
    challenger: np.ndarray,
    champion: np.ndarray,
    *,
    resamples: int,
    confidence: float,
    seed: int,
) -> Interval:
    """Resample holdout rows (the same rows for both models) and measure the improvement.

    The holdout metric moves by more than most gaps between good models from one split to
    another; comparing both models on the same resampled rows cancels the rows' own
    difficulty, and the interval says whether the gap is more than luck.
    """
    from scipy.stats import bootstrap

    sign = 1.0 if problem.higher else -1.0
    y = problem.target(y)

    def gain(idx: np.ndarray) -> float:
        # the selection's scorer (tested equal to the metric): scikit-learn's input checks
        # were most of `register` on a 5,000-row binary table (2,000 resamples x 2 models)
        value = scorer(problem, y[idx])
        return sign * (value(challenger[idx]) - value(champion[idx]))

    # SciPy resamples the row numbers (so both models' predictions, 1-D or one column per
    # class, are resampled by the same rows) and takes the percentile interval: the numbers
    # of the loop this replaced, to the last bit of the bounds. Not BCa, its default: its
    # jackknife would score every model once per holdout row.
    result = bootstrap(
        (np.arange(len(y)),),
        gain,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=False,
        rng=np.random.default_rng(seed),
    )
    return Interval(
        low=float(result.confidence_interval.low),
        high=float(result.confidence_interval.high),
        mean=float(result.bootstrap_distribution.mean()),
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )


@dataclass
class Decision:
    """Whether the challenger is promoted, and every reason, for the card, W&B and the registry."""

    promote: bool
    policy: str
    metric: str
    challenger: dict[str, float]
    champion_version: int | None
    champion: dict[str, float] | None
    reasons: list[str] = field(default_factory=list)
    improvement: Interval | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        """A decision stored in a version's metadata (the inverse of `to_dict`)."""
        improvement = data.get("improvement")
        return cls(**{**data, "improvement": Interval(**improvement) if improvement else None})


def check_policy(policy: str) -> Policy:
    if policy not in ("auto", "never", "always"):
        raise ConfigError(f"--promotion must be auto, never or always, not {policy!r}")
    return policy  # type: ignore[return-value]


def threshold_failures(
    problem: Problem, holdout: dict[str, float], thresholds: dict[str, float]
) -> list[str]:
    """Absolute gates: each `metric: bound` is a minimum when greater is better, else a maximum
    (any metric the task reports, not only the one that ranks)."""
    task, failures = problem.task, []
    for metric, bound in thresholds.items():
        if metric not in holdout:
            raise ConfigError(f"validation threshold on {metric!r}, which {task} does not report")
        value = holdout[metric]
        ok = value >= bound if greater_is_better(task, metric) else value <= bound
        if not ok:
            op = ">=" if greater_is_better(task, metric) else "<="
            failures.append(f"holdout {metric}={value:.4g} fails the threshold {op} {bound:g}")
    return failures


def rescore_champion(
    registry: Registry,
    name: str,
    schema: Schema,
    problem: Problem,
    X_test: pd.DataFrame,
    y_test: pd.Series,
    load: Callable[[ModelVersion], Any],
) -> Champion:
    """Score the current production model on this run's holdout, if it fits this data (its
    schema compatible with `schema`, its predictions aligned to `problem`'s classes)."""
    mv = registry.find(name, PRODUCTION)
    if mv is None:
        return Champion(None)
    champion_schema = Schema.from_dict(mv.metadata["schema"])
    problems = champion_schema.compatible_with(schema)
    if problems:
        return Champion(mv.version, problem="; ".join(problems))
    try:
        model = load(mv)
        pred = predict_aligned(model, X_test, problem)
        return Champion(mv.version, metrics_of(problem, y_test, pred), pred=pred)
    except ModelOpsError as err:
        return Champion(mv.version, problem=f"could not be loaded: {err}", blocks=True)


def decide(
    *,
    policy: Policy,
    problem: Problem,
    challenger: dict[str, float],
    thresholds: dict[str, float],
    champion: Champion,
    min_improvement: float = 0.0,
    bootstrap: Callable[[np.ndarray], Interval] | None = None,
    trivial: Champion | None = None,
) -> Decision:
    """Apply the policy; the reasons say what was compared with what.

    With `bootstrap` (a function of the other model's holdout predictions), the challenger must
    beat the champion by more than the margin at the interval's lower bound, not only on the
    point estimate. With no champion to compare with, the challenger must beat `trivial` (the
    training mean or class prior, `baseline`) the same way: a first model is promoted when it
    is useful, whatever the table's best achievable score. A champion that could not be
    loaded blocks promotion: it was never judged, so it cannot be said to be worse.
    """
    d = Decision(False, policy, problem.metric, challenger, champion.version, champion.metrics)
    if policy == "never":
        d.reasons.append("--promotion never: registered without promoting")
        return d
    if policy == "always":
        d.promote = True
        d.reasons.append("--promotion always: promoted without comparison")
        return d
    failures = threshold_failures(problem, challenger, thresholds)
    d.reasons += failures
    if champion.blocks:
        d.reasons.append(
            f"production v{champion.version} {champion.problem}; it stays in production "
            "because it could not be compared: fix what stops it loading (sign it with "
            "`modelops registry sign`, provide the key) and run again, or promote explicitly "
            "(--promotion always, or `modelops registry promote`)"
        )
        return d
    if champion.version is not None and not champion.problem:
        better = _beats(
            d, problem, f"production v{champion.version}", champion, min_improvement, bootstrap
        )
        d.promote = better and not failures
        return d
    if champion.version is None:
        if not failures:  # one that failed has only its failures: this would read as a reason
            d.reasons.append("no production model yet")
    else:
        d.reasons.append(f"production v{champion.version} not compared: {champion.problem}")
    better = True
    if trivial is not None:
        better = _beats(d, problem, "the trivial baseline", trivial, 0.0, bootstrap)
    d.promote = better and not failures
    return d


def _beats(
    d: Decision,
    problem: Problem,
    label: str,
    other: Champion,
    min_improvement: float,
    bootstrap: Callable[[np.ndarray], Interval] | None,
) -> bool:
    """Whether the challenger beats `other` on the same holdout; the reason goes into `d`."""
    metric, c = d.metric, d.challenger[d.metric]
    p = (other.metrics or {})[metric]
    margin = abs(p) * min_improvement
    if bootstrap is not None and other.pred is not None:
        iv = bootstrap(other.pred)
        if other.version is not None:
            d.improvement = iv
        better = iv.low > margin
        verdict = "beats" if better else "does not clearly beat"
        d.reasons.append(
            f"challenger {metric}={c:.4g} {verdict} {label} {metric}={p:.4g} on the same "
            f"holdout rows: improvement {iv.mean:.4g}, {iv.confidence:.0%} paired-bootstrap "
            f"interval [{iv.low:.4g}, {iv.high:.4g}] ({iv.resamples} resamples, seed "
            f"{iv.seed}); its lower bound must exceed {margin:.4g}"
            + (f" ({min_improvement:.1%} of {label}'s {metric})" if min_improvement else "")
        )
        return better
    better = is_better(problem.task, metric, c, p, min_improvement)
    verdict = "beats" if better else "does not beat"
    d.reasons.append(
        f"challenger {metric}={c:.4g} {verdict} {label} {metric}={p:.4g} on the same holdout "
        f"(required improvement {min_improvement:.1%})"
    )
    return better


def promote(
    registry: Registry,
    name: str,
    version: int,
    decision: Decision,
    recheck: Callable[[], tuple[Champion, Decision]],
    attempts: int = 3,
) -> Decision:
    """Move `production` to `version` only if nobody moved it since we compared.

    On a conflict (another run promoted meanwhile) the new champion is re-scored and the
    decision made again, so two racing runs leave exactly one production version: the better.
    """
    for _ in range(attempts):
        if not decision.promote:
            return decision
        try:
            registry.set_alias(
                name,
                PRODUCTION,
                version,
                expected=decision.champion_version,
                reason="; ".join(decision.reasons),
            )
            return decision
        except AliasConflict as err:
            log.info("%s; re-comparing with the new production model", err)
            _, decision = recheck()
            decision.reasons.append("re-decided after a concurrent promotion")
    raise ModelOpsError(f"{name}: gave up promoting v{version} after {attempts} concurrent changes")
