"""The whole model as one scikit-learn `Pipeline`: coerce -> encode -> estimate.

Separate from `features` (the transformers) and `estimators` (the wrappers) because it uses
both: an encoder may be one of the estimators module's transformers (`CategoryDtypes`, which
stays there so registered models keep loading), and neither of those modules imports this one.
"""

from __future__ import annotations

from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelops.estimators import CategoryDtypes
from modelops.features import Encoding, OrdinalCodes, coercer
from modelops.schema import Schema


def encoder(schema: Schema, encoding: Encoding) -> ColumnTransformer | str:
    """The encoder for a model family: one-hot for linear models, ordinal for trees.

    'native' means the estimator takes the coerced frame as it is (CatBoost); 'category'
    gives pandas categories with the training category list (LightGBM, XGBoost).
    """
    cat, num = list(schema.categorical), list(schema.numeric) + schema.date_parts
    if encoding == "native":
        return "passthrough"
    if encoding == "category":
        return CategoryDtypes(tuple(cat))
    if encoding == "onehot":
        return ColumnTransformer(
            [
                (
                    "cat",
                    OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5),
                    cat,
                ),
                ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
            ],
            # sparse where mostly zeros (scikit-learn's default rule): one-hot columns of a
            # plane's tail number made flights' 261,876 training rows 3,690 dense columns,
            # 7.7 GB per copy and a 41 s Ridge fit; sparse, 0.5 GB and 0.6 s, the same RMSE
            sparse_threshold=0.3,
        )
    # Trees: categories to integer codes; unseen categories become NaN, which both
    # RandomForest and HistGradientBoosting route natively.
    return OrdinalCodes(tuple(cat), tuple(num))


def build_pipeline(schema: Schema, encoding: Encoding, estimator: BaseEstimator) -> Pipeline:
    """coerce -> encode -> estimate: the whole model, fitted once and used unchanged for scoring."""
    return Pipeline(
        [("coerce", coercer(schema)), ("encode", encoder(schema, encoding)), ("model", estimator)]
    )
