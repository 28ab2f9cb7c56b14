"""The model families TrainFlow searches, one module each; this registry is what the config,
the flow's default `--candidates` and the tests read.

Adding a family: a module here with its estimator factory (and, for a booster, its
`fit_stopping` with the search's clock), one line below, and its search block in
`configs/train.json` (`search.families.<name>`: share, space, defaults).
"""

from __future__ import annotations

from modelops.training.families import (
    catboost,
    forests,
    hist_gradient_boosting,
    lightgbm,
    linear,
    xgboost,
)
from modelops.training.families.base import Family, FitStopping, Fold, Stopping

# The order `--candidates all` gives them in.
FAMILIES: dict[str, Family] = {
    "linear": linear.FAMILY,
    "random_forest": forests.RANDOM_FOREST,
    "extra_trees": forests.EXTRA_TREES,
    "hist_gradient_boosting": hist_gradient_boosting.FAMILY,
    "catboost": catboost.FAMILY,
    "lightgbm": lightgbm.FAMILY,
    "xgboost": xgboost.FAMILY,
}

__all__ = ["FAMILIES", "Family", "FitStopping", "Fold", "Stopping"]
