"""Rank candidates and build the leaderboard: pure functions of their scores."""

from __future__ import annotations

import math

import pandas as pd

from modelops.metrics import greater_is_better
from modelops.schema import Task
from modelops.training.search import CandidateScore


def rank(results: list[CandidateScore], task: Task, metric: str) -> list[CandidateScore]:
    """Best first, by cross-validated metric; ties by fit time; failed families last.

    The holdout stays out of the choice among candidates, so the champion comparison that uses
    it later is not biased towards the selected model.
    """
    sign = -1.0 if greater_is_better(task, metric) else 1.0

    def key(r: CandidateScore) -> tuple[float, float]:
        value = r.cv.get(metric, math.nan)
        return (sign * value if not math.isnan(value) else math.inf, r.fit_seconds)

    return sorted(results, key=key)


def leaderboard(ranked: list[CandidateScore]) -> pd.DataFrame:
    """One row per candidate, best first, with CV and holdout metrics and fit time."""
    rows = [r.summary() | {"params": str(r.params)} for r in ranked]
    return pd.DataFrame(rows)
