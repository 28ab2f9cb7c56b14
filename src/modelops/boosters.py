"""LightGBM and XGBoost estimators that predict from category codes instead of pandas categories.

Both libraries turn a frame of pandas categories into a float matrix of the categories' codes
before predicting: most of a one-row prediction (LightGBM 2.8-5 ms, XGBoost 3-6 ms of it, the
trees a fraction of a millisecond). `CategoryDtypes`, the encoder in front of them, already
gives every categorical column the training category list, so the codes are the training
codes; these classes build that matrix in one pass per column and hand it to the booster. They
are trained exactly as the libraries' own classes (fitting is not overridden) and predict the
same numbers, which the tests check; a frame whose categories are not the training ones takes
the library's own path.

A module of its own, at the package's top level: importing it imports LightGBM and XGBoost, and
its import path is stored in every pickled model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier, LGBMRegressor
from xgboost import XGBClassifier, XGBRegressor


def category_codes(X: pd.DataFrame) -> np.ndarray:
    """A float64 matrix of `X`: categorical columns as their codes (missing: NaN), the others
    as numbers, in column order; what both libraries make of such a frame."""
    out = np.empty(X.shape, dtype=np.float64)
    for j, (_, col) in enumerate(X.items()):
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes = col.cat.codes.to_numpy()
            out[:, j] = codes
            out[codes < 0, j] = np.nan
        else:
            out[:, j] = col.to_numpy(dtype=np.float64)
    return out


def _categories(X: pd.DataFrame) -> list[list[Any]]:
    return [list(d.categories) for d in X.dtypes if isinstance(d, pd.CategoricalDtype)]


class _LightGBMCodes:
    """Predict through the booster on the codes when the frame has the training categories."""

    def _codes(self, X: Any) -> np.ndarray | None:
        booster = self.booster_
        if not isinstance(X, pd.DataFrame) or list(X.columns) != booster.feature_name():
            return None
        if _categories(X) != (booster.pandas_categorical or []):
            return None
        return category_codes(X)

    def _raw(self, X: Any) -> np.ndarray | None:
        codes = self._codes(X)
        return None if codes is None else self.booster_.predict(codes)


class CodesLGBMRegressor(_LightGBMCodes, LGBMRegressor):
    """LGBMRegressor predicting from category codes (see the module doc)."""

    def predict(self, X: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        pred = None if args or kwargs else self._raw(X)
        return super().predict(X, *args, **kwargs) if pred is None else pred


class CodesLGBMClassifier(_LightGBMCodes, LGBMClassifier):
    """LGBMClassifier predicting from category codes (see the module doc)."""

    def predict_proba(self, X: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        proba = None if args or kwargs else self._raw(X)
        if proba is None:
            return super().predict_proba(X, *args, **kwargs)
        return np.column_stack([1.0 - proba, proba]) if proba.ndim == 1 else proba


class _XGBoostCodes:
    """Predict on the codes when the frame has the training categories (XGBoost keeps them)."""

    def _codes(self, X: Any) -> np.ndarray | None:
        booster = self.get_booster()
        if not isinstance(X, pd.DataFrame) or list(X.columns) != booster.feature_names:
            return None
        if _categories(X) != getattr(self, "training_categories_", None):
            return None
        return category_codes(X)

    def _on_codes(self, method: Callable[..., np.ndarray], X: Any, kwargs: dict) -> np.ndarray:
        """`method` (the library's own) on the codes, or on X as it is."""
        codes = self._codes(X)
        if codes is None:
            return method(X, **kwargs)
        return method(codes, **(kwargs | {"validate_features": False}))

    def fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
        super().fit(X, y, **kwargs)
        self.training_categories_ = _categories(X) if isinstance(X, pd.DataFrame) else None
        return self


class CodesXGBRegressor(_XGBoostCodes, XGBRegressor):
    """XGBRegressor predicting from category codes (see the module doc)."""

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        return self._on_codes(super().predict, X, kwargs)


class CodesXGBClassifier(_XGBoostCodes, XGBClassifier):
    """XGBClassifier predicting from category codes (see the module doc)."""

    def predict_proba(self, X: Any, **kwargs: Any) -> np.ndarray:
        return self._on_codes(super().predict_proba, X, kwargs)

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        return self._on_codes(super().predict, X, kwargs)
