"""Estimator pieces that become part of a registered model (and so are unpickled by scoring).

- `CategoryDtypes`: the encoder for boosters with native categoricals (LightGBM, XGBoost):
  categorical columns become pandas categories with the *training* category list, so a
  category's code is the same at fit and at predict time and an unseen one is missing.
- `EncodedLabels`: fits a classifier that needs labels 0..K-1 (XGBoost) on any labels.
- `SerialRandomForestRegressor/Classifier`, `SerialExtraTreesRegressor/Classifier`:
  scikit-learn's forests, averaging their trees in a plain loop when they run on one thread
  (joblib's per-tree dispatch was 11 of a one-row prediction's 12 ms), each tree's values read
  from its `tree_` directly (the estimator's fitted-checks and tags per tree were another 1.5
  of 2 ms); the same sums in the same order, so the same predictions.
- `CodedHistGradientBoostingRegressor/Classifier`: scikit-learn's HistGradientBoosting, which
  re-encodes its categorical columns with a ColumnTransformer of its own at every predict (a
  third of a one-row prediction); on `OrdinalCodes`' output that re-encoding is the identity,
  checked once after fitting, and then skipped: the same array, so the same predictions.
- `TargetTransform`: a regressor learning a transformed target (its square root), answering the
  mean on the original scale.
- `SeedBag`: one configuration fitted with several random seeds, averaged (CatBoost's refit:
  its trees are grown on random row weights, so seeds differ, and their mean errs less).
- `Ensemble`: a weighted average of fitted pipelines (greedy ensemble selection's result),
  one scikit-learn estimator, so the registry, ScoreFlow, drift and cards treat it as any model.

They live at the package's top level, beside `features`, because their import path is stored
in every pickled model: moving them would break loading registered versions.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin, clone
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from modelops.features import MISSING, SchemaCoercer


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
        # codes by lookup in the training categories: unseen and MISSING (never a category)
        # become -1, i.e. missing; the same result as pd.Categorical(values, categories)
        out = {c: X[c] for c in X.columns}
        for c, cats in self.categories_.items():
            dtype = pd.CategoricalDtype(cats)
            codes = dtype.categories.get_indexer(X[c].to_numpy(dtype=object))
            out[c] = pd.Categorical.from_codes(codes, dtype=dtype)
        return pd.DataFrame(out, index=X.index)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return self.feature_names_in_


# below this many rows a forest averages its trees in one thread whatever its `n_jobs`:
# joblib's threaded dispatch costs about 12 ms, more than it saves (diamonds' 50-tree
# ExtraTrees, 2 cores: 100 rows 7.9 ms serial, 13.0 threaded; 1,000 rows 41 ms, 33 threaded)
SERIAL_BELOW_ROWS = 500


def _one_thread(forest: Any, X: Any) -> bool:
    return forest.n_jobs in (None, 1) or getattr(X, "shape", (len(X),))[0] < SERIAL_BELOW_ROWS


class _SerialMeanRegressor:
    """A forest regressor's predict; on one thread, the trees' mean without joblib."""

    def predict(self, X: Any) -> np.ndarray:
        if not _one_thread(self, X):
            return super().predict(X)
        check_is_fitted(self)
        X = self._validate_X_predict(X)
        shape = (X.shape[0], self.n_outputs_) if self.n_outputs_ > 1 else (X.shape[0],)
        y_hat = np.zeros(shape, dtype=np.float64)
        for tree in self.estimators_:  # what tree.predict(X, check_input=False) computes
            value = tree.tree_.predict(X)
            y_hat += value[:, 0] if self.n_outputs_ == 1 else value[:, :, 0]
        y_hat /= len(self.estimators_)
        return y_hat


class _SerialMeanClassifier:
    """A forest classifier's predict_proba; on one thread, the trees' mean without joblib."""

    def predict_proba(self, X: Any) -> np.ndarray | list[np.ndarray]:
        if not _one_thread(self, X):
            return super().predict_proba(X)
        check_is_fitted(self)
        X = self._validate_X_predict(X)
        sums = [np.zeros((X.shape[0], j), dtype=np.float64) for j in np.atleast_1d(self.n_classes_)]
        for tree in self.estimators_:  # what tree.predict_proba(X, check_input=False) computes
            value = tree.tree_.predict(X)
            for k, out in enumerate(sums):
                out += value[:, : out.shape[1]] if len(sums) == 1 else value[:, k, : out.shape[1]]
        for out in sums:
            out /= len(self.estimators_)
        return sums[0] if len(sums) == 1 else sums


class SerialRandomForestRegressor(_SerialMeanRegressor, RandomForestRegressor):
    """RandomForestRegressor; on one thread, the trees' mean without joblib (see module doc)."""


class SerialRandomForestClassifier(_SerialMeanClassifier, RandomForestClassifier):
    """RandomForestClassifier; on one thread, the trees' mean probabilities without joblib."""


class SerialExtraTreesRegressor(_SerialMeanRegressor, ExtraTreesRegressor):
    """ExtraTreesRegressor (random split points: a forest of lower variance, and a member
    unlike the others); on one thread, the trees' mean without joblib."""


class SerialExtraTreesClassifier(_SerialMeanClassifier, ExtraTreesClassifier):
    """ExtraTreesClassifier; on one thread, the trees' mean probabilities without joblib."""


class _CodesPassThrough:
    """Skip HistGradientBoosting's own categorical re-encoding when it maps codes to themselves.

    Fitted on `OrdinalCodes` output, its OrdinalEncoder learns categories 0..k-1 for every
    categorical column (missing and unseen values are NaN either way), and its ColumnTransformer
    only moves the categorical columns first. Then predicting validates the array and makes that
    same move, instead of running the ColumnTransformer per call.
    """

    def fit(self, X: Any, y: Any, **fit_params: Any) -> Any:
        self.identity_codes_ = False  # a refit's validation rows take the checked path
        super().fit(X, y, **fit_params)
        pre = getattr(self, "_preprocessor", None)
        cats = pre.named_transformers_["encoder"].categories_ if pre is not None else None
        self.identity_codes_ = cats is not None and all(
            np.array_equal(c, np.arange(len(c), dtype=c.dtype)) for c in cats
        )
        return self

    def _preprocess_X(self, X: Any, *, reset: bool) -> Any:
        if reset or not getattr(self, "identity_codes_", False) or not isinstance(X, np.ndarray):
            return super()._preprocess_X(X, reset=reset)
        X = validate_data(self, X, reset=False, dtype=[np.float64], ensure_all_finite=False)
        mask = self.is_categorical_
        return np.ascontiguousarray(np.concatenate([X[:, mask], X[:, ~mask]], axis=1))


class CodedHistGradientBoostingRegressor(_CodesPassThrough, HistGradientBoostingRegressor):
    """HistGradientBoostingRegressor without the per-predict re-encoding of `OrdinalCodes`."""


class CodedHistGradientBoostingClassifier(_CodesPassThrough, HistGradientBoostingClassifier):
    """HistGradientBoostingClassifier without the per-predict re-encoding of `OrdinalCodes`."""


class _Wraps:
    """What every wrapper of one estimator owes scikit-learn's contract: the input tags of the
    estimator it wraps (sparse, missing values), `n_features_in_` once fitted, and
    `NotFittedError` (not an AttributeError) when asked to predict before `fit`."""

    def _inner(self) -> Any:
        """The fitted estimator the wrapper delegates to."""
        return self.estimator_

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        if self.estimator is not None:
            inner = get_tags(self.estimator).input_tags
            tags.input_tags.sparse = inner.sparse
            tags.input_tags.allow_nan = inner.allow_nan
        return tags

    @property
    def n_features_in_(self) -> int:
        try:
            return self._inner().n_features_in_
        except Exception:  # unfitted, or an inner estimator that does not count
            raise AttributeError("n_features_in_") from None

    def _check_fitted(self) -> None:
        try:
            self._inner()
        except AttributeError:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet") from None


class EncodedLabels(_Wraps, ClassifierMixin, BaseEstimator):
    """A classifier trained on label codes 0..K-1 that answers in the original labels."""

    def __init__(self, estimator: Any = None):
        self.estimator = estimator

    def fit(self, X: Any, y: Any, **fit_params: Any) -> EncodedLabels:
        check_classification_targets(y)
        self.encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.encoder_.classes_
        if "eval_set" in fit_params:  # early stopping: encode the validation labels too
            fit_params["eval_set"] = [
                (Xv, self.encoder_.transform(yv)) for Xv, yv in fit_params["eval_set"]
            ]
        self.estimator_ = clone(self.estimator).fit(X, self.encoder_.transform(y), **fit_params)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        self._check_fitted()
        return self.estimator_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        self._check_fitted()
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


TARGET_TRANSFORMS = ("none", "sqrt")


class TargetTransform(_Wraps, RegressorMixin, BaseEstimator):
    """A regressor fitted on a transformed target, answering the mean on the original scale.

    `sqrt` is the signed square root, sign(y) * sqrt(|y|), so any target can take it: on a
    skewed positive target (prices, counts) it evens out the errors the trees split on, and
    an ensemble gains a member that errs differently (CatBoost on diamonds: CV RMSE 542.5
    plain, 535.0 on the square root). Squaring a predicted mean of sqrt(y) underestimates the
    mean of y by about the residuals' variance (Jensen), which on a noisy target costs more than
    the transform gains (RAND's doctor visits); so the answer is Duan's smearing estimate, the
    mean of the inverse over the training residuals' quantiles. Early stopping sets the
    validation target through `forward`, since only the caller knows where a booster takes it.
    """

    def __init__(self, estimator: Any = None, target_transform: str = "sqrt"):
        self.estimator = estimator
        self.target_transform = target_transform

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Models registered before the parameter's rename called it `transform`, an attribute
        # that made scikit-learn (and a Pipeline ending here) take a regressor for a transformer.
        if "transform" in state:
            state["target_transform"] = state.pop("transform")
        super().__setstate__(state)

    def forward(self, y: Any) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        if self.target_transform == "sqrt":
            return np.sign(y) * np.sqrt(np.abs(y))
        if self.target_transform == "none":
            return y
        raise ValueError(f"target_transform {self.target_transform!r}; known: {TARGET_TRANSFORMS}")

    def inverse(self, z: Any) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        return np.sign(z) * z * z if self.target_transform == "sqrt" else z

    def fit(self, X: Any, y: Any, **fit_params: Any) -> TargetTransform:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        z = self.forward(column_or_1d(y, warn=True))
        return self.fitted(clone(self.estimator).fit(X, z, **fit_params), X, z)

    def fitted(self, estimator: Any, X: Any, z: Any) -> TargetTransform:
        """This wrapper around `estimator`, already fitted on `z = forward(y)` for rows X."""
        self.estimator_ = estimator
        z = np.asarray(z, dtype=float)
        residuals = z - np.asarray(estimator.predict(X), dtype=float)
        self.residual_quantiles_ = np.quantile(residuals, np.linspace(0.005, 0.995, 100))
        self.floor_ = 0.0 if z.min() >= 0 else -np.inf  # a target that is never negative
        return self

    def predict(self, X: Any) -> np.ndarray:
        self._check_fitted()
        z = np.asarray(self.estimator_.predict(X), dtype=float)
        q = getattr(self, "residual_quantiles_", None)
        if q is None:
            return self.inverse(z)
        return self.inverse(np.maximum(z[:, None] + q[None, :], self.floor_)).mean(axis=1)


_SEED_PARAMETERS = ("random_state", "random_seed")


def reseeded(estimator: Any, seed: int) -> Any:
    """An unfitted clone of `estimator` with every random seed it has, however deep in
    wrappers (`TargetTransform`, `EncodedLabels`), set to `seed`."""
    est = clone(estimator)
    keys = [k for k in est.get_params(deep=True) if k.split("__")[-1] in _SEED_PARAMETERS]
    return est.set_params(**{k: seed for k in keys})


class SeedBag(_Wraps, BaseEstimator):
    """`estimator` fitted once per seed in `seeds`; predictions (or probabilities) averaged.

    A booster that grows its trees on random row weights (CatBoost's Bayesian bootstrap and
    random split scores) gives a different model for every seed; their mean errs less than any
    one of them. On diamonds, CatBoost's refit: holdout RMSE 520.5 with one seed, 516.2 with
    three, and the ensemble holding it 511.1 -> 510.2 (BENCHMARKS.md).
    Scoring needs no knowledge of it: it sits where the estimator was, after the pipeline's
    encoders, which are fitted once.
    """

    def __init__(self, estimator: Any = None, seeds: tuple[int, ...] = (0,)):
        self.estimator = estimator
        self.seeds = seeds

    def _inner(self) -> Any:
        return self.estimators_[0]

    def fit(self, X: Any, y: Any, **fit_params: Any) -> SeedBag:
        if not self.seeds:
            raise ValueError("SeedBag needs at least one seed")
        self.estimators_ = [
            reseeded(self.estimator, seed).fit(X, y, **fit_params) for seed in self.seeds
        ]
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimators_")
        return np.mean([np.asarray(e.predict(X), dtype=float) for e in self.estimators_], axis=0)

    @available_if(lambda self: hasattr(self.estimator, "predict_proba"))  # not on regressors
    def predict_proba(self, X: Any) -> np.ndarray:
        """The members' probabilities, averaged (fitted on the same labels: the same columns)."""
        check_is_fitted(self, "estimators_")
        return np.mean([np.asarray(e.predict_proba(X)) for e in self.estimators_], axis=0)


class SeedBagRegressor(RegressorMixin, SeedBag):
    """`SeedBag` that scikit-learn recognises as a regressor."""


class SeedBagClassifier(ClassifierMixin, SeedBag):
    """`SeedBag` that scikit-learn recognises as a classifier."""

    @property
    def classes_(self) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.estimators_[0].classes_)

    def predict(self, X: Any) -> np.ndarray:
        """The class of highest averaged probability (not a vote of the fits' labels)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def temper(proba: Any, temperature: float) -> np.ndarray:
    """Probabilities raised to 1/temperature and renormalised (softmax of log p / T): T > 1
    softens them, T < 1 sharpens them; each row's order of classes is unchanged."""
    logits = np.log(np.clip(np.asarray(proba, dtype=float), 1e-15, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=-1, keepdims=True)


class Tempered(_Wraps, ClassifierMixin, BaseEstimator):
    """A classifier whose probabilities are rescaled by one temperature (Guo et al. 2017).

    The temperature is fitted on the family's out-of-fold probabilities, so what a model says
    about its confidence matches how often it was right on rows it did not see; predicted
    classes are unchanged. `fit` fits a copy of `estimator`; `prefit` wraps one already fitted
    (the refit on every training row), so nothing is fitted twice.
    """

    def __init__(self, estimator: Any = None, temperature: float = 1.0):
        self.estimator = estimator
        self.temperature = temperature

    @classmethod
    def prefit(cls, fitted: Any, temperature: float) -> Tempered:
        wrapper = cls(fitted, temperature)
        wrapper.estimator_ = fitted
        return wrapper

    def fit(self, X: Any, y: Any, **fit_params: Any) -> Tempered:
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        return self

    @property
    def classes_(self) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.estimator_.classes_)

    def predict_proba(self, X: Any) -> np.ndarray:
        self._check_fitted()
        return temper(self.estimator_.predict_proba(X), self.temperature)

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

    def fit(self, X: Any = None, y: Any = None) -> Ensemble:
        """Members arrive fitted (each was refitted on every training row) and stay as they
        are, as in scikit-learn's `FrozenEstimator`: `clone` keeps them too
        (`__sklearn_clone__`), so `clone(model).fit(X, y)` predicts as `model` does (a
        cross-validation of it scores these members, never refitted ones).
        What the members' steps share is worked out here, not on the first prediction."""
        self._keys = self._shared_steps()
        return self

    def __sklearn_is_fitted__(self) -> bool:
        """Fitted when it has members and every one of them is fitted."""
        if not self.members:
            return False
        try:
            for member in self.members:
                check_is_fitted(member)
        except NotFittedError:
            return False
        return True

    def __sklearn_clone__(self) -> Ensemble:
        """A new ensemble over the same fitted members (never refitted: see `fit`)."""
        params = self.get_params(deep=False)
        return type(self)(**{k: list(v) if isinstance(v, list) else v for k, v in params.items()})

    def _each(self, X: Any, method: str) -> list[np.ndarray]:
        """Every member's `method` on X, as its pipeline computes it, but each distinct
        coercion and encoding done once: members built from one schema share the coercion
        step (the costliest part of a small request), and members whose encoders were fitted
        alike (forest and HistGradientBoosting, LightGBM and XGBoost) share the encoding."""
        done: dict[Any, Any] = {}
        out = []
        for member, keys in zip(self.members, self._step_keys(), strict=True):
            if keys is None:
                out.append(getattr(member, method)(X))
                continue
            Z = X
            for depth, (_, step) in enumerate(member.steps[:-1]):
                key = keys[: depth + 1]
                if key not in done:  # encoders return new frames: a shared Z is never changed
                    done[key] = Z if step is None or step == "passthrough" else step.transform(Z)
                Z = done[key]
            out.append(getattr(member.steps[-1][1], method)(Z))
        return out

    def _step_keys(self) -> list[tuple[bytes, ...] | None]:
        """The shared steps' keys: worked out when fitted or loaded, or now (not kept: a
        prediction changes nothing in the model)."""
        keys = getattr(self, "_keys", None)
        return keys if keys is not None else self._shared_steps()

    def _shared_steps(self) -> list[tuple[bytes, ...] | None]:
        """Per member, one key per step before its estimator: equal keys, equal fitted steps
        (their pickles). None: not a coerce-first pipeline."""
        keys: list[tuple[bytes, ...] | None] = []
        for member in self.members or []:
            steps = getattr(member, "steps", None)
            if not steps or not isinstance(steps[0][1], SchemaCoercer):
                keys.append(None)
                continue
            keys.append(tuple(pickle.dumps(step) for _, step in steps[:-1]))
        return keys

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_keys", None)  # derived: not stored in the model file, rebuilt on loading
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._keys = self._shared_steps()

    @available_if(lambda self: self.task != "regression")  # a regressor has no probabilities
    def predict_proba(self, X: Any) -> np.ndarray:
        probas = self._each(X, "predict_proba")
        total = 0.0
        for member, w, proba in zip(self.members, self.weights, probas, strict=True):
            order = [list(map(str, member.classes_)).index(str(c)) for c in self.classes_]
            total = total + w * proba[:, order]
        return total

    def predict(self, X: Any) -> np.ndarray:
        if self.task == "regression":
            preds = self._each(X, "predict")
            return sum(
                w * np.asarray(p, dtype=float) for p, w in zip(preds, self.weights, strict=True)
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


# estimators whose predict runs on `n_jobs` threads (classes from these modules, by their MRO):
# the boosters' OpenMP loops and scikit-learn's forests. CatBoost predicts on every core
# already; HistGradientBoosting's OpenMP takes every core unless a threadpool limit says less.
_THREADED_PREDICT = ("xgboost", "lightgbm", "sklearn.ensemble._forest")


def _estimators(model: Any) -> list[Any]:
    """The fitted estimators a model predicts with: a pipeline's last step, an ensemble's
    members', a wrapper's inner ones (a seed bag's every seed)."""
    if isinstance(model, Ensemble):
        return [e for member in model.members or [] for e in _estimators(member)]
    if steps := getattr(model, "steps", None):
        return _estimators(steps[-1][1])
    if isinstance(model, SeedBag):
        return [e for inner in getattr(model, "estimators_", []) for e in _estimators(inner)]
    if isinstance(model, _Wraps):
        inner = getattr(model, "estimator_", None)
        return [] if inner is None else _estimators(inner)
    return [model]


def predict_threads(model: Any, threads: int) -> Any:
    """Let the boosters and forests inside `model` predict on `threads` threads; returns it.

    Search tasks fit every member on one thread, since they run side by side, and the
    boosters keep that `n_jobs` in their pickle: a scoring process with two cores to itself
    predicted the default diamonds ensemble at 42.5-42.9k rows/s, 55.5-60.9k with two
    (BENCHMARKS.md, session 25).
    The boosters' predictions do not change (their threads split the rows); a threaded
    forest adds its trees in the order they finish, which may move the last bits."""
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    for est in _estimators(model):
        if any(c.__module__.startswith(_THREADED_PREDICT) for c in type(est).__mro__):
            est.set_params(n_jobs=threads)
    return model
