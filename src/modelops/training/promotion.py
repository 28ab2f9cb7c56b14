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

import pandas as pd

from modelops.errors import ConfigError, ModelOpsError
from modelops.metrics import evaluate, greater_is_better, is_better
from modelops.registry import PRODUCTION, AliasConflict, ModelVersion, Registry
from modelops.schema import Schema, Task

log = logging.getLogger(__name__)

Policy = Literal["auto", "never", "always"]


@dataclass
class Champion:
    """The current production model as seen by this run: re-scored, or why it could not be."""

    version: int | None
    metrics: dict[str, float] | None = None
    problem: str | None = None


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_policy(policy: str) -> Policy:
    if policy not in ("auto", "never", "always"):
        raise ConfigError(f"--promotion must be auto, never or always, not {policy!r}")
    return policy  # type: ignore[return-value]


def threshold_failures(
    task: Task, holdout: dict[str, float], thresholds: dict[str, float]
) -> list[str]:
    """Absolute gates: each `metric: bound` is a minimum when greater is better, else a maximum."""
    failures = []
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
    X_test: pd.DataFrame,
    y_test: pd.Series,
    load: Callable[[ModelVersion], Any],
) -> Champion:
    """Score the current production model on this run's holdout, if it fits this data."""
    mv = registry.find(name, PRODUCTION)
    if mv is None:
        return Champion(None)
    champion_schema = Schema.from_dict(mv.metadata["schema"])
    problems = champion_schema.compatible_with(schema)
    if problems:
        return Champion(mv.version, problem="; ".join(problems))
    try:
        model = load(mv)
        return Champion(mv.version, evaluate(model, X_test, y_test, schema.task))
    except ModelOpsError as err:
        return Champion(mv.version, problem=f"could not be loaded: {err}")


def decide(
    *,
    policy: Policy,
    task: Task,
    metric: str,
    challenger: dict[str, float],
    thresholds: dict[str, float],
    champion: Champion,
    min_improvement: float = 0.0,
) -> Decision:
    """Apply the policy; the reasons say what was compared with what."""
    d = Decision(False, policy, metric, challenger, champion.version, champion.metrics)
    if policy == "never":
        d.reasons.append("--promotion never: registered without promoting")
        return d
    if policy == "always":
        d.promote = True
        d.reasons.append("--promotion always: promoted without comparison")
        return d
    failures = threshold_failures(task, challenger, thresholds)
    d.reasons += failures
    if champion.version is None:
        d.reasons.append("no production model yet")
        d.promote = not failures
    elif champion.problem:
        d.reasons.append(f"production v{champion.version} not compared: {champion.problem}")
        d.promote = not failures
    else:
        c, p = challenger[metric], (champion.metrics or {})[metric]
        better = is_better(task, metric, c, p, min_improvement)
        verdict = "beats" if better else "does not beat"
        d.reasons.append(
            f"challenger {metric}={c:.4g} {verdict} production v{champion.version} "
            f"{metric}={p:.4g} "
            f"on the same holdout (required improvement {min_improvement:.1%})"
        )
        d.promote = better and not failures
    return d


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
            registry.set_alias(name, PRODUCTION, version, expected=decision.champion_version)
            return decision
        except AliasConflict as err:
            log.info("%s; re-comparing with the new production model", err)
            _, decision = recheck()
            decision.reasons.append("re-decided after a concurrent promotion")
    raise ModelOpsError(f"{name}: gave up promoting v{version} after {attempts} concurrent changes")
