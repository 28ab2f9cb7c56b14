"""Estimator pieces that become part of a registered model (and so are unpickled by scoring).

- `CategoryDtypes`: the encoder for boosters with native categoricals (LightGBM, XGBoost):
  categorical columns become pandas categories with the *training* category list, so a
  category's code is the same at fit and at predict time and an unseen one is missing.
- `EncodedLabels`: fits a classifier that needs labels 0..K-1 (XGBoost) on any labels.
- `Ensemble`: a weighted average of fitted pipelines (greedy ensemble selection's result),
  one scikit-learn estimator, so the registry, ScoreFlow, drift and cards treat it as any model.

They live at the package's top level, beside `features`, because their import path is stored
in every pickled model: moving them would break loading registered versions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin, clone
from sklearn.preprocessing import LabelEncoder

from modelops.features import MISSING


class CategoryDtypes(TransformerMixin, BaseEstimator):
    """Categorical columns -> pandas `category` with the training categories; numbers as they are.

    Works on `SchemaCoercer`'s output (categories as strings, missing as `MISSING`).
    """

    def __init__(self, categorical: tuple[str, ...] = ()):
        self.categorical = categorical

    def fit(self, X: pd.DataFrame, y: Any = None) -> CategoryDtypes:
        self.categories_ = {
            c: sorted(v for v in X[c].unique() if v != MISSING) for c in self.categorical
        }
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.copy()
        for c, cats in self.categories_.items():
            out[c] = pd.Categorical(X[c].where(X[c] != MISSING), categories=cats)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return self.feature_names_in_


class EncodedLabels(ClassifierMixin, BaseEstimator):
    """A classifier trained on label codes 0..K-1 that answers in the original labels."""

    def __init__(self, estimator: Any = None):
        self.estimator = estimator

    def fit(self, X: Any, y: Any, **fit_params: Any) -> EncodedLabels:
        self.encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.encoder_.classes_
        if "eval_set" in fit_params:  # early stopping: encode the validation labels too
            fit_params["eval_set"] = [
                (Xv, self.encoder_.transform(yv)) for Xv, yv in fit_params["eval_set"]
            ]
        self.estimator_ = clone(self.estimator).fit(X, self.encoder_.transform(y), **fit_params)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.estimator_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class Ensemble(BaseEstimator):
    """Weighted average of fitted models: predictions (regression) or probabilities.

    `members` are fitted pipelines, `weights` sum to 1, `labels` name them for the leaderboard
    and the metadata. Classifiers' probability columns are aligned on `classes_`.
    """

    def __init__(
        self,
        members: list[Any] | None = None,
        weights: list[float] | None = None,
        labels: list[str] | None = None,
        task: str = "regression",
    ):
        self.members = members
        self.weights = weights
        self.labels = labels
        self.task = task

    def fit(self, X: Any, y: Any = None) -> Ensemble:
        """Members arrive fitted (each was refitted on every training row); nothing to fit."""
        return self

    def _aligned_proba(self, member: Any, X: Any) -> np.ndarray:
        proba = member.predict_proba(X)
        order = [list(map(str, member.classes_)).index(str(c)) for c in self.classes_]
        return proba[:, order]

    def predict_proba(self, X: Any) -> np.ndarray:
        pairs = zip(self.members, self.weights, strict=True)
        return sum(w * self._aligned_proba(m, X) for m, w in pairs)

    def predict(self, X: Any) -> np.ndarray:
        if self.task == "regression":
            return sum(
                w * np.asarray(m.predict(X), dtype=float)
                for m, w in zip(self.members, self.weights, strict=True)
            )
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def describe(self) -> list[dict[str, Any]]:
        """Members and weights, for the model's metadata and the card."""
        return [
            {"member": label, "weight": round(float(w), 6)}
            for label, w in zip(self.labels or [], self.weights or [], strict=True)
        ]


class EnsembleRegressor(RegressorMixin, Ensemble):
    """`Ensemble` that scikit-learn recognises as a regressor (scoring, permutation importance)."""


class EnsembleClassifier(ClassifierMixin, Ensemble):
    """`Ensemble` that scikit-learn recognises as a classifier."""

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.members[0].classes_)
