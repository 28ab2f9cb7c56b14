"""Greedy ensemble selection (Caruana et al., 2004) on out-of-fold predictions.

Starting from the best single model, repeatedly add (with replacement) the member whose
addition most improves the OOF metric of the averaged predictions (probabilities for
classifiers); keep the best prefix. Weights are how often each member was picked. The prefix
of length one is the best single model, so the ensemble is never worse than it on the OOF
metric; ties go to the member listed first (the better single model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelops.metrics import greater_is_better
from modelops.schema import Task
from modelops.training.fit import metrics_of


@dataclass(frozen=True)
class EnsembleWeights:
    """The chosen members and weights, and the OOF metric after each greedy step."""

    weights: dict[str, float]
    history: list[float]
    score: float


def greedy_selection(
    oof: dict[str, np.ndarray],
    y: Any,
    task: Task,
    metric: str,
    classes: list[Any],
    *,
    iterations: int = 40,
) -> EnsembleWeights:
    """Weights over `oof`'s members (in their given order, best single model first)."""
    if not oof:
        raise ValueError("greedy_selection needs at least one member")
    names = list(oof)
    higher = greater_is_better(task, metric)

    def score(pred: np.ndarray) -> float:
        return metrics_of(task, y, pred, classes)[metric]

    def better(a: float, b: float) -> bool:
        return a > b if higher else a < b

    total = np.zeros_like(next(iter(oof.values())), dtype=float)
    picks: list[str] = []
    history: list[float] = []
    best_len, best_score = 0, -np.inf if higher else np.inf
    for step in range(iterations):
        choice, choice_score = None, None
        for name in names:
            s = score((total + oof[name]) / (step + 1))
            if choice_score is None or better(s, choice_score):
                choice, choice_score = name, s
        picks.append(choice)
        total += oof[choice]
        history.append(float(choice_score))
        if better(choice_score, best_score):
            best_len, best_score = step + 1, choice_score
    chosen = picks[:best_len]
    weights = {n: chosen.count(n) / best_len for n in dict.fromkeys(chosen)}
    return EnsembleWeights(weights, history, float(best_score))


def blend(preds: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """The weighted average of members' predictions (or aligned probabilities)."""
    return sum(w * np.asarray(preds[n], dtype=float) for n, w in weights.items())
