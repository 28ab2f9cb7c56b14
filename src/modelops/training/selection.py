"""Rank candidates and build the leaderboard: pure functions of their scores, and the
`Selection` the `register` step keeps (`modelops.training.steps` re-exports it, which keeps
the `selection` artifact of runs pickled before the move readable)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from modelops.problem import Problem
from modelops.training.search import CandidateResult, CandidateScore


def rank(results: list[CandidateScore], problem: Problem) -> list[CandidateScore]:
    """Best first, by cross-validated metric; ties by fit time; failed families last.

    The holdout stays out of the choice among candidates, so the champion comparison that uses
    it later is not biased towards the selected model.
    """
    sign = -1.0 if problem.higher else 1.0

    def key(r: CandidateScore) -> tuple[float, float]:
        value = r.cv.get(problem.metric, math.nan)
        return (sign * value if not math.isnan(value) else math.inf, r.fit_seconds)

    return sorted(results, key=key)


def leaderboard(ranked: list[CandidateScore]) -> pd.DataFrame:
    """One row per candidate, best first, with CV and holdout metrics and fit time."""
    rows = [r.summary() | {"params": str(r.params)} for r in ranked]
    return pd.DataFrame(rows)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):  # the ensemble's weights
        return ", ".join(f"{k} {_short(v)}" for k, v in value.items())
    return str(value)


def readable_params(params: dict[str, Any], width: int = 70) -> str:
    """`learning_rate=0.154, depth=4, ...`: the parameters as a person reads them, cut at
    `width` characters."""
    text = ", ".join(_short(v) if k == "weights" else f"{k}={_short(v)}" for k, v in params.items())
    return text if len(text) <= width else text[: width - 1] + "…"


def readable_leaderboard(ranked: list[CandidateScore], metric: str) -> pd.DataFrame:
    """Every candidate, best first: CV and holdout of the selection metric, trials, time and
    its parameters in words, for the terminal, the card and `modelops leaderboard`."""
    rows = []
    for r in ranked:
        s = r.summary()
        rows.append(
            {
                "candidate": r.label,
                f"cv_{metric}": round(s.get(f"cv_{metric}", math.nan), 5),
                f"holdout_{metric}": round(s.get(f"holdout_{metric}", math.nan), 5),
                "trials": s.get("trials", 0),
                "fit_s": round(s.get("fit_seconds", math.nan), 2),
                "ms_per_1k_rows": s.get("predict_ms_per_1k", math.nan),
                "stopped": s.get("stopped", ""),
                "parameters": (
                    "failed: " + str(r.failed)[:60] if r.failed else readable_params(r.params)
                ),
            }
        )
    return pd.DataFrame(rows)


# Holdout scores no honest model of a real table reaches: with one column carrying the model,
# that column most likely encodes the label (an ID numbered after sorting, a post-outcome field).
NEAR_PERFECT = {"r2": 0.99, "roc_auc": 0.995, "accuracy": 0.99}
DOMINANT_SHARE = 0.6


def leakage_warning(holdout: dict[str, float], importance: pd.Series) -> str | None:
    """A warning naming the column when one feature carries most of the importance and the
    score is near perfect; None otherwise. Never a refusal: some tables are easy."""
    perfect = [
        f"{m} {holdout[m]:.4g}" for m, bar in NEAR_PERFECT.items() if holdout.get(m, 0) >= bar
    ]
    positive = importance.clip(lower=0)
    if not perfect or positive.sum() <= 0:
        return None
    share = positive / positive.sum()
    top = str(share.idxmax())
    if share[top] < DOMINANT_SHARE:
        return None
    return (
        f"possible leak: column {top!r} carries {share[top]:.0%} of the permutation importance "
        f"and the holdout score is near perfect ({', '.join(perfect)}). If {top!r} is an "
        "identifier or is only known after the outcome, retrain with --ignore-columns "
        f"{top}"
    )


def describe_choice(comparison: dict[str, Any]) -> str:
    """How the ensemble and the best single family were weighed, for the card and the log."""
    if not comparison:
        return ""
    c = comparison
    return (
        f"Champion: {c['chosen']}. The ensemble against choosing one family by CV, both "
        f"scored on folds their choice never saw (weights, or the family, chosen on the other "
        f"folds' rows): ensemble {c['metric']} {c['ensemble_cv']:.5g}, one family "
        f"{c['one_family_cv']:.5g}. A family's own CV is the best of its trials, so it is "
        f"optimistic against both. Ensemble weights: the mean of {c['bags']} greedy runs on "
        f"bootstrap resamples of the OOF rows."
        + (
            f" The ensemble won but kept only {c['chosen']} (weight 1): registered as that "
            "family's own model, the same predictions."
            if c.get("one_member")
            else ""
        )
        + (
            f" Taken out for speed (the rest, reweighted, within the CV's noise"
            f"{' and the infer limit' if c.get('infer_limit_ms') else ''}): "
            f"{', '.join(c['pruned_for_speed'])}."
            if c.get("pruned_for_speed")
            else ""
        )
        + (
            f" Over --infer-limit {c['infer_limit_ms']:g} ms per 1,000 rows, not chosen: "
            f"{', '.join(c['over_infer_limit'])}."
            if c.get("over_infer_limit")
            else ""
        )
    )


@dataclass
class Selection:
    """The leaderboard and the champion; the losers' fitted pipelines are not carried on."""

    board: pd.DataFrame
    best: CandidateResult
    scores: list[CandidateScore]  # the champion first, then every other candidate by CV
    ensemble: dict[str, float]  # member -> weight of the champion ({} when it is one family)
    # the ensemble against choosing one family by CV, both scored on folds their choice never
    # saw ({} when no ensemble was built): what decided between them
    comparison: dict[str, Any] = field(default_factory=dict)
