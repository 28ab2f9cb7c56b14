"""Rank candidates and report them: the leaderboard and the W&B runs that compare them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from modelops.evaluation import greater_is_better
from modelops.schema import Task
from modelops.tracking import wandb_run
from modelops.training import CandidateScore


def rank(results: list[CandidateScore], task: Task, metric: str) -> list[CandidateScore]:
    """Best first, by cross-validated metric (holdout when CV was off); ties by fit time.

    The holdout stays out of the choice among candidates, so the champion comparison that uses
    it later is not biased towards the selected model.
    """
    sign = -1.0 if greater_is_better(task, metric) else 1.0

    def key(r: CandidateScore) -> tuple[float, float]:
        value = r.cv.get(metric, r.holdout[metric])  # --cv-folds 0: the holdout decides
        return (sign * value if not math.isnan(value) else math.inf, r.fit_seconds)

    return sorted(results, key=key)


def leaderboard(ranked: list[CandidateScore]) -> pd.DataFrame:
    """One row per candidate, best first, with CV and holdout metrics and fit time."""
    rows = [r.summary() | {"params": str(r.params)} for r in ranked]
    return pd.DataFrame(rows)


def log_candidates(scores: list[CandidateScore], task: Task, group: str, dataset_ref: str) -> None:
    """One W&B run per candidate configuration: parameters, metrics and an interactive plot.

    Logged after the foreach, in one process (see `steps.log_training`), rather than from each
    foreach task: every task would otherwise pay W&B's import and service start-up, which costs
    more than the logging itself.
    """
    for score in scores:
        config = {"candidate": score.name, "label": score.label, **score.params}
        with wandb_run("train_candidate", group, score.label, config) as tracker:
            tracker.use_artifact(dataset_ref)
            tracker.summary(score.summary())
            if score.sample is not None:
                tracker.log_predictions("holdout", score.sample, task, score.label)


def log_selection(board: pd.DataFrame, metric: str, group: str, best: str) -> None:
    """A W&B run whose leaderboard table compares the candidates side by side."""
    with wandb_run("select", group, "selection", {"metric": metric}) as tracker:
        tracker.log_table("leaderboard", board.to_dict("records"))
        tracker.summary(
            {"best_candidate": best, f"best_{metric}": board.iloc[0].get(f"holdout_{metric}")}
        )


def log_dataset(source: str, name: str, group: str, metadata: dict[str, Any]) -> str:
    """The training data as a W&B `dataset` artifact; returns the reference candidates use."""
    with wandb_run("load-data", group, "dataset", metadata) as tracker:
        tracker.log_artifact(name, "dataset", {Path(source).name: Path(source)}, metadata)
    return f"{name}:latest"
