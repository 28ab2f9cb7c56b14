"""Candidates, training and evaluation on tiny frames: every family fits, scores and survives
unseen categories and missing values, and the grid search really picks the better point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from modelops.errors import ConfigError
from modelops.metrics import is_better, resolve_metric
from modelops.schema import infer_schema
from modelops.training.candidates import FAMILIES, make_pipeline, parse_candidates
from tests.conftest import ROOT

FAST = {
    "random_forest": {"n_estimators": 20},
    "extra_trees": {"n_estimators": 20},
    "catboost": {"iterations": 60},
    "lightgbm": {"n_estimators": 30},
    "xgboost": {"n_estimators": 30},
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_every_candidate_fits_and_handles_unseen_and_missing(frame, name, task):
    df = frame(task=task)
    schema = infer_schema(df, "y", task)
    pipe = make_pipeline(name, task, schema, FAST.get(name, {}), seed=0)
    pipe.fit(df.drop(columns="y"), df["y"])
    new = df.drop(columns="y").head(4).copy()
    new.loc[new.index[0], "colour"] = "purple"  # unseen in training
    new.loc[new.index[1], "num_a"] = np.nan
    new.loc[new.index[2], "colour"] = None
    new["id"] = ["a", "b", "c", "d"]  # extra column is ignored by the model
    pred = pipe.predict(new)
    assert len(pred) == 4
    if task != "regression":
        proba = pipe.predict_proba(new)
        assert np.allclose(proba.sum(axis=1), 1.0)
        assert set(np.asarray(pred).ravel()) <= set(df["y"].unique())


def test_catboost_pipeline_can_be_cloned(frame):
    schema = infer_schema(frame(), "y", "regression")
    clone(make_pipeline("catboost", "regression", schema, {"iterations": 5}, 0))


def test_parse_candidates():
    assert parse_candidates(" linear, catboost ,linear") == ["linear", "catboost"]
    with pytest.raises(ConfigError, match=r"unknown candidate\(s\) \['svm'\]"):
        parse_candidates("linear,svm")
    with pytest.raises(ConfigError, match="empty"):
        parse_candidates(" , ")


def test_train_flow_searches_every_family_by_default():
    """The flow's default is every family the registry holds, read when the run starts (the
    flow file's own imports stay light), so a new family needs no edit of the flow."""
    import ast

    tree = ast.parse((ROOT / "flows" / "train_flow.py").read_text())
    (call,) = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and node.args
        and getattr(node.args[0], "value", None) == "candidates"
    ]
    (default,) = [kw.value.value for kw in call.keywords if kw.arg == "default"]
    assert default == "all" and parse_candidates(default) == list(FAMILIES)


def test_metrics_direction_and_resolution():
    assert resolve_metric("regression", "auto") == "rmse"
    assert resolve_metric("binary", "auto") == "roc_auc"
    assert resolve_metric("multiclass", "auto") == "log_loss"
    with pytest.raises(ConfigError, match="does not apply to regression"):
        resolve_metric("regression", "roc_auc")
    assert is_better("regression", "rmse", 1.0, 2.0)
    assert not is_better("regression", "rmse", 1.99, 2.0, min_improvement=0.01)
    assert is_better("binary", "roc_auc", 0.9, 0.8)


def test_regression_metrics_match_hand_computation(frame):
    from modelops.problem import Problem
    from modelops.training.predictions import metrics_of, predict_aligned

    df = frame()
    schema = infer_schema(df, "y", "regression")
    pipe = make_pipeline("linear", "regression", schema, {}, 0).fit(df.drop(columns="y"), df["y"])
    rmse = Problem("regression", "rmse")
    pred = predict_aligned(pipe, df.drop(columns="y"), rmse)
    m = metrics_of(rmse, df["y"], pred)
    resid = pipe.predict(df.drop(columns="y")) - df["y"]
    assert m["rmse"] == pytest.approx(float(np.sqrt(np.mean(resid**2))))
    assert m["r2"] > 0.9


def test_coercer_and_category_encoder_cells():
    """What every encoder sees, cell by cell (the transforms are on each request's hot path):
    trimmed text, missing/blank as MISSING, other values as text; numbers parsed or NaN; then
    training categories as codes with unseen and missing as missing."""
    from modelops.estimators import CategoryDtypes
    from modelops.features import MISSING, SchemaCoercer

    X = pd.DataFrame(
        {
            "c": [" Ideal ", None, np.nan, "   ", 3, "Good", pd.NA, "Premium"],
            "n": ["1.5", " 2 ", "x", None, 4, np.nan, "", "7e1"],
            "f": np.arange(8, dtype=float),
        },
        index=range(10, 18),
    )
    out = SchemaCoercer(numeric=("n", "f"), categorical=("c",)).fit(X).transform(X)
    assert list(out.columns) == ["c", "n", "f"] and list(out.index) == list(X.index)
    assert out["c"].tolist() == [
        "Ideal",
        MISSING,
        MISSING,
        MISSING,
        "3",
        "Good",
        MISSING,
        "Premium",
    ]
    np.testing.assert_array_equal(out["n"], [1.5, 2, np.nan, np.nan, 4, np.nan, np.nan, 70])
    assert out["n"].dtype == np.float64 and out["f"].tolist() == list(range(8))

    enc = CategoryDtypes(("c",)).fit(out.iloc[[0, 5]])  # training saw Good and Ideal only
    codes = enc.transform(out)
    assert list(codes["c"].cat.categories) == ["Good", "Ideal"]
    assert codes["c"].tolist()[:2] == ["Ideal", np.nan] and codes["c"].isna().sum() == 6
    assert list(codes.index) == list(X.index) and codes["n"].equals(out["n"])


def test_ordinal_codes_give_scikit_learns_column_transformer_array(frame):
    """The trees' encoder replaced ColumnTransformer(OrdinalEncoder, passthrough) for speed;
    its array must be the same cell for cell (unseen categories NaN, MISSING a category), so
    forests and HistGradientBoosting learn and predict exactly as before."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    from modelops.features import OrdinalCodes, coercer

    df = frame(300, "regression").drop(columns="y")
    df.loc[df.index[:7], "colour"] = None  # missing: the coercer's MISSING token
    schema = infer_schema(df.assign(y=1.0), "y", "regression")
    cat, num = list(schema.categorical), list(schema.numeric) + schema.date_parts
    Z = coercer(schema).fit(df).transform(df)
    train, new = Z.iloc[:200], Z.iloc[200:].copy()
    new.iloc[:3, new.columns.get_loc("colour")] = ["purple", "", "Red"]  # unseen in training
    sklearn = ColumnTransformer(
        [
            (
                "cat",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                ),
                cat,
            ),
            ("num", "passthrough", num),
        ]
    ).fit(train)
    ours = OrdinalCodes(tuple(cat), tuple(num)).fit(train)
    expected = sklearn.transform(new)
    assert np.isnan(expected[:3, 0]).all()  # the unseen cells are in the comparison
    np.testing.assert_array_equal(ours.transform(new), expected)
    assert ours.transform(new).dtype == expected.dtype
    assert list(ours.get_feature_names_out()) == cat + num


@pytest.mark.parametrize("family", ["random_forest", "extra_trees"])
@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_serial_forest_predicts_exactly_as_scikit_learn(frame, task, family):
    """The one-thread forests skip joblib only: the same numbers as scikit-learn's own code."""
    from sklearn import ensemble

    kind = {"random_forest": "RandomForest", "extra_trees": "ExtraTrees"}[family]
    Regressor = getattr(ensemble, f"{kind}Regressor")
    Classifier = getattr(ensemble, f"{kind}Classifier")
    df = frame(200, task)
    schema = infer_schema(df, "y", task)
    pipe = make_pipeline(family, task, schema, {"n_estimators": 25}, 0, 1)
    X = df.drop(columns="y")
    pipe.fit(X, df["y"])
    Z = pipe[:-1].transform(X)
    forest = pipe[-1]
    assert isinstance(forest, Regressor if task == "regression" else Classifier)
    if task == "regression":
        np.testing.assert_array_equal(forest.predict(Z), Regressor.predict(forest, Z))
    else:
        expected = Classifier.predict_proba(forest, Z)
        np.testing.assert_array_equal(forest.predict_proba(Z), expected)
        np.testing.assert_array_equal(forest.predict(Z), Classifier.predict(forest, Z))
    score = pipe.predict if task == "regression" else pipe.predict_proba
    many = pd.concat([X] * 3, ignore_index=True)  # 600 rows: enough for the threaded path
    one_thread = score(many)
    pipe.set_params(model__n_jobs=2)  # scikit-learn's parallel path (sums in thread order)
    np.testing.assert_allclose(score(many), one_thread, rtol=1e-12)


@pytest.mark.parametrize("family", ["random_forest", "extra_trees"])
def test_a_threaded_forest_averages_a_small_batch_on_one_thread(frame, family, monkeypatch):
    """joblib's dispatch costs more than it saves on a few hundred rows (an online request):
    below SERIAL_BELOW_ROWS a forest set to two threads never reaches it; above, it does."""
    from sklearn.ensemble import _forest

    from modelops.estimators import SERIAL_BELOW_ROWS

    df = frame(200)
    pipe = make_pipeline(family, "regression", infer_schema(df, "y", "regression"), {}, 0, 2)
    X = df.drop(columns="y")
    pipe.set_params(model__n_estimators=5).fit(X, df["y"])
    big = pd.concat([X] * (SERIAL_BELOW_ROWS // len(X) + 1), ignore_index=True)
    expected = pipe.set_params(model__n_jobs=1).predict(big)
    pipe.set_params(model__n_jobs=2)

    def no_joblib(*args, **kwargs):
        raise AssertionError("joblib dispatch")

    monkeypatch.setattr(_forest, "Parallel", no_joblib)
    np.testing.assert_array_equal(
        pipe.predict(big[: SERIAL_BELOW_ROWS - 1]), expected[: SERIAL_BELOW_ROWS - 1]
    )
    with pytest.raises(AssertionError, match="joblib dispatch"):
        pipe.predict(big[:SERIAL_BELOW_ROWS])


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_coded_hist_gradient_boosting_predicts_exactly_as_scikit_learn(frame, task):
    """Skipping HistGradientBoosting's own re-encoding of OrdinalCodes' output must give
    scikit-learn's numbers: unseen and missing categories, a column too wide to be categorical
    (so the columns are reordered), early stopping on validation rows, and a refit."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    df = frame(300, task)
    rng = np.random.default_rng(1)
    # > 250 categories, before "colour": HGB moves "colour" ahead of it
    df.insert(0, "wide", rng.permutation([f"w{i % 280}" for i in range(len(df))]))
    schema = infer_schema(df, "y", task)
    assert schema.categorical[0] == "wide"
    pipe = make_pipeline("hist_gradient_boosting", task, schema, {"max_iter": 30}, 0, 1)
    X, y = df.drop(columns="y"), df["y"]
    new = X.head(30).copy()
    new.loc[new.index[0], "colour"] = "purple"
    new.loc[new.index[1], "colour"] = None
    new.loc[new.index[2], "wide"] = "never-seen"
    prep = pipe[:-1].fit(X.iloc[:250], y.iloc[:250])
    Z, Z_val, Z_new = (
        prep.transform(X.iloc[:250]),
        prep.transform(X.iloc[250:]),
        prep.transform(new),
    )
    ours = pipe[-1]
    plain_cls = (
        HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    )
    plain = plain_cls(**ours.get_params())
    for model in (ours, plain):
        model.set_params(early_stopping=True, n_iter_no_change=5)
        model.fit(Z, y.iloc[:250], X_val=Z_val, y_val=y.iloc[250:])
    assert ours.identity_codes_ and ours.is_categorical_.sum() < len(schema.categorical)
    score = "predict" if task == "regression" else "predict_proba"
    np.testing.assert_array_equal(getattr(ours, score)(Z_new), getattr(plain, score)(Z_new))
    ours.fit(Z, y.iloc[:250])  # a second fit: still the same numbers
    plain.fit(Z, y.iloc[:250])
    np.testing.assert_array_equal(getattr(ours, score)(Z_new), getattr(plain, score)(Z_new))


@pytest.mark.parametrize("family", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_boosters_predict_from_codes_exactly_as_from_pandas_categories(frame, family, task):
    """The codes path gives the library's own numbers (unseen and missing categories, after a
    pickle round trip, early stopping), and a frame with other categories takes its path."""
    import pickle

    from lightgbm import LGBMClassifier, LGBMRegressor
    from xgboost import XGBClassifier, XGBRegressor

    df = frame(300, task)
    schema = infer_schema(df, "y", task)
    params = {"n_estimators": 40} | ({"max_cat_to_onehot": 1} if family == "xgboost" else {})
    pipe = make_pipeline(family, task, schema, params, 0, 1)
    X, y = df.drop(columns="y"), df["y"]
    new = X.head(30).copy()
    new.loc[new.index[0], "colour"] = "purple"
    new.loc[new.index[1], "colour"] = None
    pipe.fit(X, y)
    pipe = pickle.loads(pickle.dumps(pipe))
    Z = pipe[:-1].transform(new)
    ours = pipe[-1]
    ours = getattr(ours, "estimator_", ours)  # XGBoost classifiers learn on label codes
    plain = {
        ("lightgbm", True): LGBMRegressor,
        ("lightgbm", False): LGBMClassifier,
        ("xgboost", True): XGBRegressor,
        ("xgboost", False): XGBClassifier,
    }[family, task == "regression"]
    assert isinstance(ours, plain) and type(ours) is not plain
    assert np.isnan(ours._codes(Z)[:2, list(Z.columns).index("colour")]).all()
    score = "predict" if task == "regression" else "predict_proba"
    expected = getattr(plain, score)(ours, Z)
    np.testing.assert_array_equal(getattr(ours, score)(Z), expected)
    # the training categories in another order: other codes, which the libraries map back
    other = Z.assign(colour=pd.Categorical(Z["colour"], categories=["red", "green", "blue"]))
    assert ours._codes(other) is None
    np.testing.assert_array_equal(getattr(ours, score)(other), expected)


def test_ensemble_shares_alike_steps_and_predicts_as_its_members(frame):
    """The ensemble coerces once and encodes once per distinct fitted encoder (forest and
    HistGradientBoosting share OrdinalCodes, LightGBM and XGBoost CategoryDtypes), and its
    prediction is still the weighted sum of each member pipeline's own."""
    import pickle

    from modelops.estimators import EnsembleRegressor

    df = frame(300)
    schema = infer_schema(df, "y", "regression")
    X, y = df.drop(columns="y"), df["y"]
    names = ["random_forest", "hist_gradient_boosting", "lightgbm", "xgboost", "catboost"]
    members = [
        make_pipeline(n, "regression", schema, FAST.get(n, {}), 0, 1).fit(X, y) for n in names
    ]
    weights = [0.1, 0.2, 0.3, 0.25, 0.15]
    model = EnsembleRegressor(members=members, weights=weights, labels=names)
    new = X.head(25).copy()
    new.loc[new.index[0], "colour"] = "purple"
    expected = sum(w * m.predict(new) for w, m in zip(weights, members, strict=True))
    np.testing.assert_allclose(model.predict(new), expected, rtol=1e-12)
    keys = model._step_keys()
    assert keys[0] == keys[1] and keys[2] == keys[3]  # shared encodings
    assert len({k[0] for k in keys}) == 1 and keys[0] != keys[2] != keys[4]
    assert "_keys" not in vars(model)  # a prediction changes nothing in the model
    model.fit()
    assert "_keys" not in model.__getstate__()  # derived, not stored in the model file
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded._keys == keys  # rebuilt on loading
    np.testing.assert_array_equal(loaded.predict(new), model.predict(new))


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_predict_threads_reaches_every_booster_and_forest_and_changes_no_prediction(frame, task):
    """Search tasks fit members on one thread and the boosters keep it in their pickle; a
    scoring process sets its own: through ensembles, seed bags and label or target wrappers,
    the estimators whose predict is threaded get `n_jobs`, and nothing else changes."""
    from modelops.estimators import (
        EnsembleClassifier,
        EnsembleRegressor,
        SeedBagClassifier,
        SeedBagRegressor,
        _estimators,
        predict_threads,
    )

    df = frame(300, task)
    schema = infer_schema(df, "y", task)
    X, y = df.drop(columns="y"), df["y"]
    names = ["extra_trees", "xgboost", "lightgbm", "catboost", "linear"]
    members = [make_pipeline(n, task, schema, FAST.get(n, {}), 0, 1) for n in names]
    Bag = SeedBagRegressor if task == "regression" else SeedBagClassifier
    members[1].steps[-1] = ("model", Bag(members[1].steps[-1][1], seeds=(0, 1)))
    members = [m.fit(X, y) for m in members]
    Ensemble = EnsembleRegressor if task == "regression" else EnsembleClassifier
    model = Ensemble(members=members, weights=[0.2] * 5, labels=names, task=task).fit()
    many = pd.concat([X] * 2, ignore_index=True)
    score = model.predict if task == "regression" else model.predict_proba
    before = score(many)

    def jobs() -> list[tuple[str, object]]:
        return [
            (type(e).__name__, e.get_params(deep=False).get("n_jobs")) for e in _estimators(model)
        ]

    was = jobs()
    assert predict_threads(model, 2) is model
    changed = {name for (name, old), (_, new) in zip(was, jobs(), strict=True) if new != old}
    kind = "Regressor" if task == "regression" else "Classifier"
    # the bag's two XGBoost seeds, the forest, LightGBM; CatBoost and the linear model as they were
    assert changed == {f"SerialExtraTrees{kind}", f"CodesXGB{kind}", f"CodesLGBM{kind}"}
    assert [n for n, _ in was].count(f"CodesXGB{kind}") == 2
    assert all(j == 2 for n, j in jobs() if n in changed)
    coercers = [m.steps[0][1] for m in members]
    assert all(getattr(c, "n_jobs", None) in (None, 1) for c in coercers)  # encoders untouched
    np.testing.assert_allclose(score(many), before, rtol=1e-12)
    with pytest.raises(ValueError, match="at least 1"):
        predict_threads(model, 0)


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_ensemble_keeps_scikit_learns_contract(frame, task):
    """A fitted ensemble is fitted to `check_is_fitted`, `clone(model).fit(X, y)` predicts as
    the model does (its fitted members kept, as `FrozenEstimator` keeps its estimator), and
    one over an unfitted member is not fitted."""
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    from modelops.estimators import EnsembleClassifier, EnsembleRegressor

    df = frame(200)
    if task != "regression":
        df["y"] = np.where(df["y"] > df["y"].median(), "high", "low")
    schema = infer_schema(df, "y", task)
    X, y = df.drop(columns="y"), df["y"]
    names = ["linear", "lightgbm"]
    members = [make_pipeline(n, task, schema, FAST.get(n, {}), 0, 1).fit(X, y) for n in names]
    cls = EnsembleRegressor if task == "regression" else EnsembleClassifier
    model = cls(members=members, weights=[0.6, 0.4], labels=names, task=task).fit(X, y)
    check_is_fitted(model)
    copy = clone(model)
    assert copy is not model and copy.members is not model.members
    np.testing.assert_array_equal(copy.fit(X, y).predict(X), model.predict(X))
    if task != "regression":
        np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
    unfitted = make_pipeline("linear", task, schema, {}, 0, 1)
    with pytest.raises(NotFittedError):
        check_is_fitted(cls(members=[unfitted], weights=[1.0], labels=["linear"], task=task))
    with pytest.raises(NotFittedError):
        check_is_fitted(cls(members=[], weights=[], labels=[], task=task))


def test_lightgbm_splits_on_a_category_in_a_small_table():
    """LightGBM's own min_data_per_group (100 rows each side of a split on a category of more
    than 4 levels) leaves a few-hundred-row table with no such split at all; the config's
    defaults allow them, so a firm's effect is learnt (as on Grunfeld's 220 rows)."""
    from modelops.training.config import DataProfile, load_config

    rng = np.random.default_rng(0)
    firms = [f"firm{i}" for i in range(8)]
    df = pd.DataFrame({"firm": rng.choice(firms, size=240), "x": rng.normal(size=240)})
    df["y"] = df["firm"].map({f: 3.0 * i for i, f in enumerate(firms)}) + df["x"]
    df["y"] += rng.normal(scale=0.3, size=240)
    train, test = df.iloc[:180], df.iloc[180:]
    schema = infer_schema(train, "y", "regression")
    block = load_config().space("lightgbm", "regression", DataProfile.of(schema, len(train)))
    params = block.fixed | block.defaults | {"n_estimators": 200}

    def rmse(p: dict) -> float:
        pipe = make_pipeline("lightgbm", "regression", schema, p, seed=0, n_jobs=1)
        pipe.fit(train.drop(columns="y"), train["y"])
        return float(np.sqrt(np.mean((pipe.predict(test.drop(columns="y")) - test["y"]) ** 2)))

    assert params["min_data_per_group"] < 50
    assert rmse(params) < 0.5 * rmse(params | {"min_data_per_group": 100})


@pytest.mark.parametrize("name", ['price "usd"', "price[usd]", "a:b", "a\nb"])
def test_names_a_chosen_booster_refuses_are_an_error_before_the_search(name):
    from modelops.errors import ConfigError
    from modelops.training.candidates import check_feature_names

    with pytest.raises(ConfigError, match=r"lightgbm refuses .*Rename those columns"):
        check_feature_names(["linear", "lightgbm"], ["carat", name])
    check_feature_names(["linear", "catboost"], ["carat", name.replace("\n", " ")])


def test_a_linear_model_one_hot_encodes_many_levels_sparsely():
    """Flights' tail numbers (about 4,000 levels) made the linear family's one-hot columns
    dense: 7.7 GB per copy on 261,876 rows and the run's peak memory 15 GB. Mostly zeros, the
    encoding is sparse, and the model fits as well as a dense fit of the same data."""
    from scipy import sparse
    from sklearn.linear_model import Ridge

    from modelops.features import coercer
    from modelops.pipelines import encoder

    rng = np.random.default_rng(0)
    n = 3000
    df = pd.DataFrame(
        {
            "tail": rng.choice([f"N{i}" for i in range(400)], n),
            "distance": rng.uniform(100, 2000, n),
        }
    )
    y = df["distance"] / 8 + rng.normal(size=n)
    schema = infer_schema(df.assign(y=y), "y", "regression")
    Z = coercer(schema).fit_transform(df)
    onehot = encoder(schema, "onehot").fit(Z)
    X = onehot.transform(Z)
    assert sparse.issparse(X) and X.shape[1] > 300  # levels seen 5 times or more, and distance
    dense = Ridge().fit(X.toarray(), y).predict(X.toarray())
    fitted = Ridge().fit(X, y).predict(X)  # scikit-learn solves sparse data iteratively

    def rmse(pred: np.ndarray) -> float:
        return float(np.sqrt(np.mean((pred - y) ** 2)))

    assert rmse(fitted) == pytest.approx(rmse(dense), rel=0.01)
