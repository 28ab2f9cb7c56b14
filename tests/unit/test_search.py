"""Model search on tiny frames: config validation, space scaling, budget, early stopping,
failed trials, greedy ensemble selection, the paired bootstrap and small-class handling."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline

from modelops.errors import ConfigError, DataError
from modelops.problem import Problem
from modelops.schema import infer_schema
from modelops.training.candidates import FAMILIES, make_pipeline
from modelops.training.config import DataProfile, TrainConfig, load_config
from modelops.training.data import split
from modelops.training.ensemble import greedy_selection, nested_scores
from modelops.training.families.hist_gradient_boosting import HGB_FIRST_ROUND
from modelops.training.fit import cross_validate, make_folds, refit
from modelops.training.promotion import paired_bootstrap
from modelops.training.search import search_family
from tests.conftest import ROOT

RMSE = Problem("regression", "rmse")


def _problem(task: str, metric: str, y: pd.Series) -> Problem:
    """The problem a run on `y` would have: its classes in the schema's order (`infer_schema`)."""
    return Problem(task, metric, () if task == "regression" else tuple(sorted(set(y), key=str)))


FAST = json.loads((ROOT / "tests" / "integration" / "fast_config.json").read_text())


def _config(**changes) -> TrainConfig:
    raw = json.loads(json.dumps(FAST))
    for path, value in changes.items():
        node = raw
        *parents, leaf = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return TrainConfig.from_mapping(raw)


def test_bundled_and_test_configs_validate():
    from modelops.training.config import load_config

    assert set(load_config().search.families) == set(FAMILIES)  # every family has its search
    assert _config().search.max_trials == 3


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"promotoin": {}}, "promotoin: Extra inputs are not permitted"),
        ({"thresholds": {"regression": {"roc_auc": 0.5}}}, "thresholds.regression.roc_auc"),
        ({"search": {"families": {"svm": {"share": 1}}}}, "search.families.svm"),
        ({"search": {"families": {"linear": {"share": 2}}}}, "search.families.linear.share"),
        ({"min_class_rows": "many"}, "min_class_rows"),
    ],
)
def test_config_errors_name_the_key_path(raw, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        TrainConfig.from_mapping(raw if "search" in raw else raw | {"search": FAST["search"]})


def test_unknown_estimator_parameter_is_named_before_fitting(frame):
    config = _config(
        search__families__catboost__space={"depht": {"type": "int", "low": 2, "high": 4}}
    )
    schema = infer_schema(frame(), "y", "regression")
    with pytest.raises(ConfigError, match=r"search\.families\.catboost\.space\.depht"):
        config.check_parameters(["catboost"], "regression", schema)
    typo = _config(search__families__lightgbm__portfolio=[{"num_leafs": 64}])
    with pytest.raises(ConfigError, match=r"search\.families\.lightgbm\.portfolio\.num_leafs"):
        typo.check_parameters(["lightgbm"], "regression", schema)
    config.check_parameters(["lightgbm", "xgboost", "linear"], "regression", schema)


def test_search_space_scales_with_the_data():
    from modelops.training.config import load_config

    config = load_config()
    small = DataProfile(rows=300, columns=8, max_cardinality=5)
    large = DataProfile(rows=500_000, columns=8, max_cardinality=5)
    leaves = {
        p: config.space("lightgbm", "regression", p).space["num_leaves"] for p in (small, large)
    }
    assert leaves[small].high == 32 and leaves[large].high == 1024
    mid = config.space(
        "lightgbm", "regression", DataProfile(rows=40_000, columns=8, max_cardinality=5)
    )
    assert mid.space["num_leaves"].high == 256  # no tier: the base space
    assert config.space("linear", "binary", small).space.keys() == {"C"}
    # small tables keep the logistic regression regularised; the override names the
    # classification parameter, so regression (alpha) runs pass it by
    assert config.space("linear", "binary", small).space["C"].high == 10
    assert config.space("linear", "multiclass", large).space["C"].high == 100
    assert config.space("linear", "regression", small).space.keys() == {"alpha"}
    raw = json.loads((ROOT / "configs" / "train.json").read_text())
    raw["search"]["families"]["linear"]["overrides"] = {"small": {"Cee": {"high": 10}}}
    typo = TrainConfig.from_mapping(raw)
    with pytest.raises(ConfigError, match="overrides.small.Cee: not in the space"):
        typo.space("linear", "binary", small)
    # a tier may set a fixed parameter too: small tables' CatBoost grows at most 1,000 trees
    assert config.space("catboost", "multiclass", small).fixed["iterations"] == 1000
    assert config.space("catboost", "multiclass", large).fixed["iterations"] == 4000
    raw["search"]["families"]["linear"]["overrides"] = {"small": {"C": {"value": 3}}}
    with pytest.raises(ConfigError, match="overrides.small.C.value: C is not one of linear's"):
        TrainConfig.from_mapping(raw).space("linear", "binary", small)
    # a parameter fixed for one task only: set there, passed by for the other task
    cat = raw["search"]["families"]["catboost"]
    cat["classification"]["fixed"] = {"border_count": 64}
    cat["overrides"]["small"]["border_count"] = {"value": 32}
    both = TrainConfig.from_mapping(raw)
    assert both.space("catboost", "binary", small).fixed["border_count"] == 32
    assert "border_count" not in both.space("catboost", "regression", small).fixed
    # the first trial (the config's defaults) moves inside a tier's bounds too
    hgb = config.space("hist_gradient_boosting", "regression", small)
    assert hgb.defaults["max_leaf_nodes"] == hgb.space["max_leaf_nodes"].high == 16
    # a tier may set the first trial's value: large tables start with more leaves, learning faster
    big = config.space("hist_gradient_boosting", "regression", large)
    assert big.defaults["max_leaf_nodes"] == 127 and big.defaults["learning_rate"] == 0.15
    assert big.space["max_leaf_nodes"].high == 512  # the bound moves as before
    plain = config.space(
        "hist_gradient_boosting",
        "regression",
        DataProfile(rows=40_000, columns=8, max_cardinality=5),
    )
    assert plain.defaults["max_leaf_nodes"] == 31 and plain.defaults["learning_rate"] == 0.1
    # a tier's default outside the bounds is clipped like any first trial
    raw = json.loads((ROOT / "configs" / "train.json").read_text())
    raw["search"]["families"]["hist_gradient_boosting"]["overrides"]["large"] = {
        "max_leaf_nodes": {"default": 4000}
    }
    clipped = TrainConfig.from_mapping(raw).space("hist_gradient_boosting", "regression", large)
    assert clipped.defaults["max_leaf_nodes"] == clipped.space["max_leaf_nodes"].high == 128


def test_portfolio_runs_after_the_defaults_in_order_inside_the_tier_bounds(frame):
    """The defaults, then each portfolio entry (over the defaults, clipped to a small table's
    bounds, a duplicate once), before the optimiser's own proposals; a parameter outside the
    space holds for its entry's trial only."""
    df = frame(n=200)
    schema = infer_schema(df, "y", "regression")
    data = split(df, "y", "regression", 0.25, 0)
    folds = make_folds(data.y_train, "regression", n_folds=2, repeats=1, seed=0)
    config = _config(
        search__families__random_forest__fixed={"n_estimators": 10},
        search__families__random_forest__defaults={"max_features": 1.0, "min_samples_leaf": 3},
        search__families__random_forest__portfolio=[
            {"min_samples_leaf": 1},  # below the space's low bound 2
            {"min_samples_leaf": 2},  # clipped onto the entry before: tried once
            {"max_features": 0.5, "max_depth": 4},  # max_depth is not searched
        ],
        search__families__random_forest__space={
            "max_features": {"type": "float", "low": 0.3, "high": 1.0},
            "min_samples_leaf": {"type": "int", "low": 2, "high": 20},
        },
        search__max_trials=5,
    )
    block = config.space("random_forest", "regression", DataProfile.of(schema, 150))
    result = search_family(
        name="random_forest",
        block=block,
        problem=RMSE,
        schema=schema,
        data=data,
        folds=folds,
        seconds=60,
        seed=0,
        n_jobs=1,
        max_trials=5,
        early_stopping_rounds=5,
    )
    params = [t.params for t in result.trials]
    assert len(params) == 5
    assert [(p["max_features"], p["min_samples_leaf"]) for p in params[:3]] == [
        (1.0, 3),
        (1.0, 2),
        (0.5, 3),
    ]
    assert params[2]["max_depth"] == 4
    assert all("max_depth" not in p for p in params[:2] + params[3:])  # its own trial only
    assert all(p["n_estimators"] == 10 for p in params)


def test_budget_is_split_by_share_and_too_small_a_budget_is_refused():
    config = _config()
    profile = DataProfile(rows=1000, columns=10, max_cardinality=3)
    limits = config.check_budget(
        ["linear", "catboost"], budget_seconds=100, profile=profile, fits=3
    )
    assert limits == {"linear": pytest.approx(30.0), "catboost": pytest.approx(100.0)}
    big = DataProfile(rows=10_000_000, columns=100, max_cardinality=3)
    with pytest.raises(ConfigError, match=r"search\.families\.catboost\.share.*--budget-minutes"):
        config.check_budget(["catboost"], budget_seconds=60, profile=big, fits=3)


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "catboost", "hist_gradient_boosting"])
@pytest.mark.parametrize("task", ["regression", "binary"])
def test_boosters_learn_their_iteration_count_on_validation_folds(frame, family, task):
    df = frame(n=300, task=task)
    schema = infer_schema(df, "y", task)
    X, y = df.drop(columns="y"), df["y"]
    cap = {"catboost": "iterations", "hist_gradient_boosting": "max_iter"}.get(
        family, "n_estimators"
    )
    params = {cap: 2000, "learning_rate": 0.3}
    pipe = make_pipeline(family, task, schema, params, seed=0, n_jobs=1)
    folds = make_folds(y, task, n_folds=3, repeats=1, seed=0)
    metric = "rmse" if task == "regression" else "log_loss"
    result = cross_validate(
        pipe, family, X, y, _problem(task, metric, y), folds, early_stopping_rounds=10
    )
    assert len(result.iterations) == 3 and all(0 < i < 2000 for i in result.iterations)
    assert result.oof.shape[0] == len(y) and np.isfinite(result.oof).all()
    model, learned = refit(pipe, family, X, y, result.iterations)
    assert learned[cap] == max(1, round(np.mean(result.iterations) * 1.1))
    assert len(model.predict(X.head(5))) == 5


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_stopping_rows_are_a_seeded_share_of_each_folds_training_rows(frame, task):
    y = frame(n=300, task=task)["y"]
    folds = make_folds(y, task, n_folds=5, repeats=2, seed=3, stopping=0.2)
    again = make_folds(y, task, n_folds=5, repeats=2, seed=3, stopping=0.2)
    assert len(folds.stopping) == len(folds.splits) == 10
    for (tr, va), stop, same in zip(folds.splits, folds.stopping, again.stopping, strict=True):
        assert np.isin(stop, tr).all() and not np.isin(stop, va).any()
        assert len(stop) == round(0.2 * len(tr))
        np.testing.assert_array_equal(stop, same)
        if task != "regression":  # stratified: every class, in about its share
            shares = y.iloc[stop].value_counts(normalize=True)
            expected = y.iloc[tr].value_counts(normalize=True)
            assert (shares.reindex(expected.index) - expected).abs().max() < 0.05
    assert len({tuple(s) for s in folds.stopping}) == 10
    assert make_folds(y, task, n_folds=5, repeats=2, seed=3).stopping == ()


def test_stopping_rows_are_drawn_unstratified_when_a_class_is_too_small_to_split():
    """A class with one training row in a fold cannot be in both parts; the rows are then
    drawn without stratification instead of refusing the table."""
    y = pd.Series(["a"] * 40 + ["b"] * 40 + ["c"] * 2)
    with pytest.warns(UserWarning, match="least populated class"):  # scikit-learn's, on c
        folds = make_folds(y, "multiclass", n_folds=3, repeats=1, seed=0, stopping=0.2)
    lone = [(y.iloc[tr] == "c").sum() == 1 for tr, _ in folds.splits]
    assert any(lone)  # a fold whose training rows hold one row of c
    for (tr, _), stop in zip(folds.splits, folds.stopping, strict=True):
        assert np.isin(stop, tr).all()
        # the share, less a lone row of c when it was drawn: it stays with the fitted rows
        assert round(0.2 * len(tr)) - 1 <= len(stop) <= round(0.2 * len(tr))
        assert set(y.iloc[stop]) <= set(y.iloc[np.setdiff1d(tr, stop)])


@pytest.mark.parametrize(
    "family", ["lightgbm", "xgboost", "catboost", "hist_gradient_boosting", "random_forest"]
)
def test_boosters_early_stop_on_the_stopping_rows_never_on_the_rows_they_are_scored_on(
    frame, family, monkeypatch
):
    """The fold's boosters are fitted without the stopping rows and stop on them; the other
    families fit on every training row of the fold."""
    from modelops.training import fit

    df = frame(n=200)
    df.index = df.index + 1000  # positions and labels differ
    X, y = df.drop(columns="y"), df["y"]
    seen: list[tuple[set, set]] = []
    real = fit.fit_fold

    def spy(pipeline, family, X_tr, y_tr, X_va, y_va, **kw):
        seen.append((set(X_tr.index), set(X_va.index)))
        return real(pipeline, family, X_tr, y_tr, X_va, y_va, **kw)

    monkeypatch.setattr(fit, "fit_fold", spy)
    folds = make_folds(y, "regression", n_folds=3, repeats=1, seed=0, stopping=0.25)
    pipe = make_pipeline(family, "regression", infer_schema(df, "y", "regression"), {}, 0, 1)
    result = cross_validate(pipe, family, X, y, RMSE, folds, early_stopping_rounds=10)
    assert np.isfinite(result.oof).all()
    for (tr, va), stop, (fitted, stopped) in zip(folds.splits, folds.stopping, seen, strict=True):
        assert not fitted & set(X.index[va])
        if FAMILIES[family].booster:
            assert stopped == set(X.index[stop]) and fitted == set(X.index[tr]) - stopped
            assert not stopped & set(X.index[va])
        else:
            assert fitted == set(X.index[tr])


def test_stopping_on_the_scored_rows_flatters_a_booster_and_the_stopping_rows_do_not(frame):
    """On a target of pure noise nothing beats the training mean. Early-stopped on the rows it
    is scored on, a booster's CV looks better than the mean's (it picks the iteration that fits
    that noise); stopped on rows set aside from training, it does not."""
    flattered, honest, mean = [], [], []
    for seed in range(4):
        df = frame(n=200, seed=seed)
        df["y"] = np.random.default_rng(seed + 100).normal(size=len(df))
        X, y = df.drop(columns="y"), df["y"]
        schema = infer_schema(df, "y", "regression")
        params = {"iterations": 500, "learning_rate": 0.3}
        pipe = make_pipeline("catboost", "regression", schema, params, 0, 1)
        for stopping, out in [(0.0, flattered), (0.2, honest)]:
            folds = make_folds(y, "regression", n_folds=5, repeats=1, seed=seed, stopping=stopping)
            kw = dict(early_stopping_rounds=10)
            out.append(cross_validate(pipe, "catboost", X, y, RMSE, folds, **kw).cv["rmse"])
        rmse = [np.sqrt(np.mean((y.iloc[va] - y.iloc[tr].mean()) ** 2)) for tr, va in folds.splits]
        mean.append(np.mean(rmse))
    assert all(f < h for f, h in zip(flattered, honest, strict=True))
    assert np.mean(flattered) < np.mean(mean) < np.mean(honest)


def test_a_boosters_fold_model_is_refitted_on_every_training_row_of_the_fold(frame, monkeypatch):
    """With stopping rows, the iteration count is learned on them and the fold's model, the
    one its OOF predictions come from, is then fitted on all the fold's training rows with
    that count (the refit's rule), so it learns from as many rows as the other families'."""
    from modelops.training import fit

    df = frame(n=200)
    X, y = df.drop(columns="y"), df["y"]
    refits: list[tuple[set, list[int]]] = []
    real = fit.refit

    def spy(pipeline, family, X_tr, y_tr, iterations, **kw):
        refits.append((set(X_tr.index), list(iterations)))
        return real(pipeline, family, X_tr, y_tr, iterations, **kw)

    monkeypatch.setattr(fit, "refit", spy)
    params = {"n_estimators": 2000, "learning_rate": 0.3}
    pipe = make_pipeline(
        "lightgbm", "regression", infer_schema(df, "y", "regression"), params, 0, 1
    )
    kw = dict(early_stopping_rounds=10)
    honest = make_folds(y, "regression", n_folds=3, repeats=1, seed=0, stopping=0.2)
    result = cross_validate(pipe, "lightgbm", X, y, RMSE, honest, **kw)
    assert [rows for rows, _ in refits] == [set(X.index[tr]) for tr, _ in honest.splits]
    assert [its for _, its in refits] == [[i] for i in result.iterations]
    assert all(0 < i < 2000 for i in result.iterations)
    refits.clear()
    cross_validate(
        pipe,
        "lightgbm",
        X,
        y,
        RMSE,
        make_folds(y, "regression", n_folds=3, repeats=1, seed=0),
        **kw,
    )
    assert refits == []  # stopped on the validation rows: the fold's model is final


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "catboost", "hist_gradient_boosting"])
def test_a_square_root_target_early_stops_and_answers_on_the_original_scale(frame, family):
    from modelops.estimators import TargetTransform

    df = frame(n=300)
    df["y"] = (df["y"] - df["y"].min() + 1.0) ** 2  # skewed, positive: what sqrt is for
    schema = infer_schema(df, "y", "regression")
    X, y = df.drop(columns="y"), df["y"]
    cap = {"catboost": "iterations", "hist_gradient_boosting": "max_iter"}.get(
        family, "n_estimators"
    )
    params = {cap: 2000, "learning_rate": 0.3}
    folds = make_folds(y, "regression", n_folds=3, repeats=1, seed=0)
    plain = make_pipeline(family, "regression", schema, params, seed=0, n_jobs=1)
    rooted = make_pipeline(
        family, "regression", schema, params | {"target_transform": "sqrt"}, seed=0, n_jobs=1
    )
    assert isinstance(rooted.steps[-1][1], TargetTransform)
    kw = dict(early_stopping_rounds=10)
    a = cross_validate(plain, family, X, y, RMSE, folds, **kw)
    b = cross_validate(rooted, family, X, y, RMSE, folds, **kw)
    # early stopping watched the square-root target (another curve, other iteration counts)
    # and the OOF predictions are back on the target's scale, as good as the plain ones
    assert all(0 < i < 2000 for i in b.iterations) and b.iterations != a.iterations
    assert b.cv["rmse"] < 2 * a.cv["rmse"] and np.corrcoef(b.oof, y)[0, 1] > 0.9
    model, learned = refit(rooted, family, X, y, b.iterations)
    inner = model.steps[-1][1].estimator_
    assert learned[cap] == max(1, round(np.mean(b.iterations) * 1.1))
    Z = Pipeline(model.steps[:-1]).transform(X)
    assert inner.predict(Z).max() < 1.5 * np.sqrt(y.max())  # the booster learnt sqrt(y)
    np.testing.assert_allclose(model.predict(X).mean(), y.mean(), rtol=0.05)


@pytest.mark.parametrize("family", ["catboost", "lightgbm", "xgboost", "random_forest"])
@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_a_refit_with_several_seeds_averages_one_fit_per_seed(frame, family, task):
    """`refit(seeds=...)` is the mean of the same configuration fitted with each seed, behind
    encoders fitted once; a seed bag of one seed is that seed's own model."""
    import pickle

    from modelops.estimators import SeedBag

    df = frame(n=240, task=task)
    schema = infer_schema(df, "y", task)
    X, y = df.drop(columns="y"), df["y"]
    # randomness each family draws from its seed: bootstrap rows, row or column subsamples
    params = {
        "catboost": {"iterations": 60},
        "lightgbm": {"n_estimators": 40, "subsample": 0.6, "subsample_freq": 1},
        "xgboost": {"n_estimators": 40, "subsample": 0.6},
        "random_forest": {"n_estimators": 10},
    }[family]
    pipe = make_pipeline(family, task, schema, params, seed=5, n_jobs=1)
    bag, learned = refit(pipe, family, X, y, [], seeds=(5, 6, 7))
    assert learned["refit_seeds"] == 3 and isinstance(bag.steps[-1][1], SeedBag)
    assert [type(s) for _, s in bag.steps[:-1]] == [type(s) for _, s in pipe.steps[:-1]]
    alone = [
        refit(make_pipeline(family, task, schema, params, seed=s, n_jobs=1), family, X, y, [])[0]
        for s in (5, 6, 7)
    ]
    method = "predict" if task == "regression" else "predict_proba"
    each = [getattr(m, method)(X) for m in alone]
    assert not np.allclose(each[0], each[1])  # the seeds made different models
    np.testing.assert_allclose(getattr(bag, method)(X), np.mean(each, axis=0), rtol=1e-6)
    if task != "regression":
        assert list(bag.classes_) == list(alone[0].classes_)
        assert set(bag.predict(X)) <= set(y)
        # the class of highest averaged probability, not a vote of the fits' labels
        voted = np.asarray(alone[0].classes_)[np.argmax(np.mean(each, axis=0), axis=1)]
        np.testing.assert_array_equal(bag.predict(X), voted)
    again = pickle.loads(pickle.dumps(bag))
    np.testing.assert_array_equal(getattr(again, method)(X), getattr(bag, method)(X))
    one, learned_one = refit(pipe, family, X, y, [], seeds=(5,))
    assert "refit_seeds" not in learned_one
    np.testing.assert_allclose(getattr(one, method)(X), each[0], rtol=1e-6)


def test_a_seed_bag_reseeds_through_wrappers():
    import catboost
    import xgboost

    from modelops.estimators import EncodedLabels, SeedBagRegressor, TargetTransform, reseeded

    booster = catboost.CatBoostRegressor(random_seed=1)
    assert reseeded(TargetTransform(booster), 9).get_params()["estimator__random_seed"] == 9
    assert booster.get_params()["random_seed"] == 1  # the original is left alone
    wrapped = EncodedLabels(xgboost.XGBClassifier(random_state=1))
    assert reseeded(wrapped, 4).get_params()["estimator__random_state"] == 4
    with pytest.raises(ValueError, match="at least one seed"):
        SeedBagRegressor(booster, ()).fit(np.zeros((4, 1)), np.arange(4.0))


def test_search_refits_its_best_trial_with_the_configured_seeds(frame):
    """The configured seeds are averaged, unless the defaults' trial (which always finishes)
    ran past the family's time: then one fit, so a slow first trial is not stretched further."""
    from modelops.estimators import SeedBag

    df = frame(n=200)
    schema = infer_schema(df, "y", "regression")
    data = split(df, "y", "regression", test_size=0.2, seed=0)
    config = _config(search__families__catboost__refit_seeds=2)
    assert config.family("catboost").refit_seeds == 2
    folds = make_folds(data.y_train, "regression", n_folds=3, repeats=1, seed=0)

    def search(seconds: float):
        return search_family(
            name="catboost",
            block=config.space("catboost", "regression", DataProfile.of(schema, 160)),
            problem=RMSE,
            schema=schema,
            data=data,
            folds=folds,
            seconds=seconds,
            seed=0,
            n_jobs=1,
            max_trials=1,
            early_stopping_rounds=10,
            refit_seeds=config.family("catboost").refit_seeds,
        )

    result = search(30)
    bag = result.pipeline.steps[-1][1]
    assert isinstance(bag, SeedBag) and bag.seeds == (0, 1) and len(bag.estimators_) == 2
    assert result.params["refit_seeds"] == 2
    late = search(0.001)
    assert not isinstance(late.pipeline.steps[-1][1], SeedBag)
    assert "refit_seeds" not in late.params and len(late.trials) == 1
    with pytest.raises(ConfigError, match="refit_seeds"):
        _config(search__families__catboost__refit_seeds=0)


def test_a_classifier_problem_without_its_classes_is_refused():
    """Probabilities are aligned to the Problem's classes: a classifier built without them
    would score every prediction as zero columns instead of failing."""
    with pytest.raises(ValueError, match="binary Problem needs its classes"):
        Problem("binary", "roc_auc")
    assert Problem("binary", "roc_auc", ("no", "yes")).better(0.9, 0.8)
    assert RMSE.better(1.0, float("inf"))  # the greedy starts from infinity


def _catboost_search(frame, *, n_folds: int, seed: int, refit_seeds: int):
    """A CatBoost search's state before any trial: 100 s, a 60-row regression table."""
    from modelops.training.search import _Search

    df = frame(n=60)
    schema = infer_schema(df, "y", "regression")
    return _Search(
        name="catboost",
        block=_config().space("catboost", "regression", DataProfile.of(schema, 60)),
        problem=RMSE, schema=schema, X=df.drop(columns="y"), y=df["y"],
        folds=make_folds(df["y"], "regression", n_folds=n_folds, repeats=1, seed=0),
        seconds=100.0, seed=seed, n_jobs=1, max_trials=5, early_stopping_rounds=5,
        refit_seeds=refit_seeds, patience=0, first_trial_grace=1.0, on_trial=None,
    )  # fmt: skip


def test_the_refit_gets_as_many_seeds_as_the_time_left_holds(frame):
    """Each seed's fit costs about a fold's on k/(k-1) of its rows (here 10 s x 3/2 = 15 s):
    three seeds with 50 s left, two with 40 s, a plain fit with 10 s or past the deadline
    (full diamonds: CatBoost's first trial ended 16 s before its deadline and its three-seed
    refit took 34 s)."""
    from types import SimpleNamespace

    search = _catboost_search(frame, n_folds=3, seed=7, refit_seeds=3)
    cv = SimpleNamespace(cv={"rmse": 1.0}, fold_seconds=[10.0, 10.0, 10.0])
    search.cv_results = {0: ({}, cv, 30.0)}
    assert search.refit_reserve() == pytest.approx(45.0)
    for left, seeds in [(50.0, (7, 8, 9)), (40.0, (7, 8)), (10.0, ()), (-5.0, ())]:
        search.deadline = time.perf_counter() + left
        assert search.refit_seeds_in_time() == seeds


@pytest.mark.parametrize("n_folds", [2, 3, 5])
def test_a_first_trial_cut_fold_by_fold_leaves_its_refit_the_time_it_takes(
    frame, monkeypatch, n_folds
):
    """A first trial whose every fold runs to its deadline ends with the time its refit
    costs still left in the share: k/(k-1) of a fold's rows, 10% more trees (on a 54-class
    table a refit counted as one fold ran 17 s past CatBoost's share)."""
    from modelops.training import search as search_module

    clock = {"now": 1000.0}
    monkeypatch.setattr(search_module.time, "perf_counter", lambda: clock["now"])
    search = _catboost_search(frame, n_folds=n_folds, seed=0, refit_seeds=1)
    spent = []
    for i in range(n_folds):  # every fold is cut at its deadline
        until = search.first_fold_deadline(i)
        spent.append(until - clock["now"])
        clock["now"] = until
    refit = np.mean(spent) * n_folds / (n_folds - 1) * 1.1
    assert clock["now"] + refit == pytest.approx(search.deadline)


def test_temper_rescales_confidence_and_keeps_each_rows_class():
    from modelops.estimators import temper

    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    np.testing.assert_allclose(temper(p, 1.0), p)
    sharp, soft = temper(p, 0.5), temper(p, 2.0)
    for q in (sharp, soft):
        np.testing.assert_allclose(q.sum(axis=1), 1.0)
        assert (q.argmax(axis=1) == p.argmax(axis=1)).all()
    assert (sharp.max(axis=1) > p.max(axis=1)).all() and (soft.max(axis=1) < p.max(axis=1)).all()
    np.testing.assert_allclose(temper(temper(p, 0.5), 2.0), p)  # temperatures multiply


def test_the_fitted_temperature_undoes_a_known_miscalibration():
    """Labels drawn from known probabilities; a model that reports them over-confident
    (temperature 0.5) needs 2 to be calibrated again, one reporting them shy (2) needs 0.5."""
    from modelops.estimators import temper
    from modelops.training.fit import fit_temperature

    rng = np.random.default_rng(0)
    true = rng.dirichlet([1.0, 1.0, 1.0], size=20_000)
    classes = ["a", "b", "c"]
    y = pd.Series([classes[rng.choice(3, p=row)] for row in true])
    for reported, wanted in [(0.5, 2.0), (2.0, 0.5), (1.0, 1.0)]:
        oof_by_repeat = temper(true, reported)[None, :, :]
        assert fit_temperature(oof_by_repeat, y, classes) == pytest.approx(wanted, rel=0.05)


@pytest.mark.parametrize("metric", ["log_loss", "accuracy"])
def test_a_log_loss_search_tempers_its_model_and_scores_another_metric_is_left_alone(frame, metric):
    """Ranked by log loss, the family's model, OOF predictions and CV are at the fitted
    temperature (CV no worse than without it, the same classes predicted); ranked by another
    metric, nothing changes."""
    from modelops.estimators import Tempered, temper

    df = frame(n=300, task="multiclass")
    schema = infer_schema(df, "y", "multiclass")
    data = split(df, "y", "multiclass", test_size=0.2, seed=0)
    folds = make_folds(data.y_train, "multiclass", n_folds=3, repeats=2, seed=0)
    config = _config()

    def search(temperature: bool):
        return search_family(
            name="lightgbm",
            block=config.space("lightgbm", "multiclass", DataProfile.of(schema, 240)),
            problem=_problem("multiclass", metric, data.y_train), schema=schema, data=data,
            folds=folds,
            seconds=30, seed=0, n_jobs=1, max_trials=1, early_stopping_rounds=10,
            temperature=temperature,
        )  # fmt: skip

    plain, scaled = search(False), search(True)
    last = scaled.pipeline.steps[-1][1]
    if metric != "log_loss":
        assert "temperature" not in scaled.params and not isinstance(last, Tempered)
        assert scaled.cv == plain.cv
        return
    assert isinstance(last, Tempered) and scaled.params["temperature"] == round(last.temperature, 4)
    t = last.temperature
    assert t != pytest.approx(1.0, abs=1e-3)
    Z = Pipeline(scaled.pipeline.steps[:-1]).transform(data.X_test)
    np.testing.assert_allclose(
        scaled.pipeline.predict_proba(data.X_test), temper(last.estimator_.predict_proba(Z), t)
    )
    assert (scaled.pipeline.predict(data.X_test) == plain.pipeline.predict(data.X_test)).all()
    np.testing.assert_allclose(scaled.oof_by_repeat, temper(plain.oof_by_repeat, t), rtol=1e-6)
    assert scaled.cv["log_loss"] <= plain.cv["log_loss"] + 1e-9
    assert scaled.cv["accuracy"] == pytest.approx(plain.cv["accuracy"])
    assert scaled.holdout["log_loss"] == pytest.approx(
        log_loss(data.y_test, scaled.holdout_pred, labels=sorted(data.y_train.unique()))
    )


def test_square_root_target_answers_the_mean_not_the_squared_mean_root():
    """Squaring a predicted sqrt(y) undershoots the mean of a noisy target (Jensen); the
    smearing estimate over the residuals does not, and so scores better on RMSE."""
    from sklearn.linear_model import LinearRegression

    from modelops.estimators import TargetTransform

    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 2))
    y = rng.poisson(np.exp(0.6 * X[:, 0] + 0.5))  # counts: many zeros, a long tail
    model = TargetTransform(LinearRegression(), "sqrt").fit(X, y)
    pred = model.predict(X)
    naive = np.square(np.maximum(model.estimator_.predict(X), 0))
    assert abs(pred.mean() / y.mean() - 1) < 0.03 and naive.mean() < 0.85 * y.mean()
    assert np.mean((pred - y) ** 2) < np.mean((naive - y) ** 2) and pred.min() >= 0


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "catboost", "hist_gradient_boosting"])
def test_a_fold_past_the_search_deadline_is_stopped(frame, family):
    from modelops.training.clock import OutOfTime
    from modelops.training.fit import fit_fold

    df = frame(n=200)
    schema = infer_schema(df, "y", "regression")
    X, y = df.drop(columns="y"), df["y"]
    pipe = make_pipeline(family, "regression", schema, {}, seed=0, n_jobs=1)
    with pytest.raises(OutOfTime):
        fit_fold(pipe, family, X[:150], y[:150], X[150:], y[150:], early_stopping_rounds=10,
                 stop_at=time.perf_counter() - 1)  # fmt: skip
    model, best = fit_fold(
        pipe, family, X[:150], y[:150], X[150:], y[150:], early_stopping_rounds=10, stop_at=None
    )
    assert best > 1


@pytest.mark.parametrize("family", sorted(n for n, f in FAMILIES.items() if f.booster))
def test_a_truncated_fold_keeps_its_booster_instead_of_failing(frame, family):
    """A family's first trial must give a result: past its time, the booster stops at its
    best iteration so far and the fold's model is kept and predicts."""
    from modelops.training.fit import fit_fold

    df = frame(n=200)
    schema = infer_schema(df, "y", "regression")
    X, y = df.drop(columns="y"), df["y"]
    pipe = make_pipeline(family, "regression", schema, {}, seed=0, n_jobs=1)
    model, best = fit_fold(pipe, family, X[:150], y[:150], X[150:], y[150:],
                           early_stopping_rounds=10, stop_at=time.perf_counter() - 1,
                           truncate=True)  # fmt: skip
    # HistGradientBoosting, which has no callback, stops after its first round of trees
    assert 1 <= best <= (HGB_FIRST_ROUND if family == "hist_gradient_boosting" else 2)
    assert np.isfinite(model.predict(X[150:])).all()


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_hist_gradient_boosting_under_the_clock_grows_the_trees_of_one_fit(frame, task):
    """Grown in rounds so that the clock can stop it, HistGradientBoosting early-stops where
    one fit does and predicts the same; its settings are left as they were."""
    from sklearn.base import clone

    from modelops.training.families.hist_gradient_boosting import hist_gradient_boosting_until

    df = frame(n=600)
    if task != "regression":
        df["y"] = np.where(df["y"] > df["y"].median(), "high", "low")
    schema = infer_schema(df, "y", task)
    X, y = df.drop(columns="y"), df["y"]
    pipe = make_pipeline("hist_gradient_boosting", task, schema, {}, seed=0, n_jobs=1)
    Z = Pipeline(pipe.steps[:-1]).fit_transform(X, y)
    est = clone(pipe.steps[-1][1]).set_params(
        max_iter=400, early_stopping=True, n_iter_no_change=10, learning_rate=0.05
    )
    one = clone(est).fit(Z[:450], y[:450], X_val=Z[450:], y_val=y[450:])
    rounds = hist_gradient_boosting_until(
        clone(est), Z[:450], y[:450], Z[450:], y[450:], time.perf_counter() + 600
    )
    assert HGB_FIRST_ROUND < one.n_iter_ < 400  # early stopping ended it, after a round
    assert rounds.n_iter_ == one.n_iter_
    method = "predict" if task == "regression" else "predict_proba"
    np.testing.assert_allclose(getattr(rounds, method)(Z), getattr(one, method)(Z))
    assert rounds.get_params() == est.get_params()


@pytest.mark.parametrize("family", ["random_forest", "extra_trees"])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_a_forest_under_the_clock_grows_the_trees_of_one_fit(frame, family, task):
    """Grown in rounds so that the clock can stop it, a forest with time to spare is the
    forest of one fit, tree for tree; past its time it stops after a round (a first trial,
    `truncate`) or gives up (`OutOfTime`)."""
    from sklearn.base import clone

    from modelops.training.clock import OutOfTime
    from modelops.training.families.base import Stopping
    from modelops.training.families.forests import FOREST_ROUNDS, grow_until

    df = frame(n=300)
    if task != "regression":
        df["y"] = np.where(df["y"] > df["y"].median(), "high", "low")
    schema = infer_schema(df, "y", task)
    X, y = df.drop(columns="y"), df["y"]
    pipe = make_pipeline(family, task, schema, {"n_estimators": 25}, seed=3, n_jobs=1)
    Z = Pipeline(pipe.steps[:-1]).fit_transform(X, y)
    est = pipe.steps[-1][1]
    one = clone(est).fit(Z, y)
    rounds = clone(est)
    assert grow_until(rounds, Z, y, Stopping(50, time.perf_counter() + 600)) == 25
    method = "predict" if task == "regression" else "predict_proba"
    np.testing.assert_array_equal(getattr(rounds, method)(Z), getattr(one, method)(Z))
    assert rounds.get_params() == est.get_params()  # warm_start off again, 25 trees
    late = time.perf_counter() - 1
    cut = clone(est)
    grown = grow_until(cut, Z, y, Stopping(50, late, truncate=True))
    assert grown == len(cut.estimators_) == cut.n_estimators == -(-25 // FOREST_ROUNDS)
    assert not cut.warm_start and np.isfinite(getattr(cut, method)(Z)).all()
    with pytest.raises(OutOfTime):
        grow_until(clone(est), Z, y, Stopping(50, late))


@pytest.mark.parametrize("family", ["random_forest", "extra_trees"])
def test_a_forest_first_trial_past_its_share_is_cut_and_refitted_with_its_trees(
    frame, caplog, family
):
    """A forest's one trial cannot be stopped by a pruner; on a table too large for its share
    its trees are cut fold by fold, the refit grows the count the folds reached (no more: more
    rows do not call for more trees in a forest), and the log says so."""
    df = frame(n=400)
    schema = infer_schema(df, "y", "regression")
    data = split(df, "y", "regression", 0.25, 0)
    folds = make_folds(data.y_train, "regression", n_folds=2, repeats=1, seed=0)
    slow = _config(**{f"search__families__{family}__fixed": {"n_estimators": 20_000}})
    block = slow.space(family, "regression", DataProfile.of(schema, 300))
    with caplog.at_level("WARNING", logger="modelops.training.search"):
        result = search_family(
            name=family, block=block, problem=RMSE, schema=schema, data=data,
            folds=folds, seconds=1.0, seed=0, n_jobs=1, max_trials=1,
            early_stopping_rounds=50,
        )  # fmt: skip
    assert result.trials[0].state == "complete"
    trees = result.params["n_estimators"]
    assert 1 <= trees < 20_000
    assert len(result.pipeline.steps[-1][1].estimators_) == trees
    assert "first trial's trees were cut in 2 of 2 folds" in caplog.text


def test_a_forest_the_clock_never_cut_is_refitted_with_the_trees_it_was_given(frame):
    """Counting trees changes nothing for a forest with time enough: the folds' count is the
    configured one, and the refit is not given 10% more as a booster's is."""
    df = frame(n=300)
    schema = infer_schema(df, "y", "regression")
    X, y = df.drop(columns="y"), df["y"]
    pipe = make_pipeline("extra_trees", "regression", schema, {"n_estimators": 20}, 0, 1)
    model, learned = refit(pipe, "extra_trees", X, y, [20, 20, 20])
    assert learned == {"n_estimators": 20} and len(model.steps[-1][1].estimators_) == 20
    model, learned = refit(pipe, "extra_trees", X, y, [0, 0])  # no clock: as configured
    assert learned == {} and len(model.steps[-1][1].estimators_) == 20


@pytest.mark.parametrize("grace", [1.0, 2.0])
def test_a_first_trial_far_past_its_share_is_cut_short_not_waited_for(frame, caplog, grace):
    """The defaults' trial always finishes, but a slow one (CatBoost's MultiClass on 54
    classes ran for minutes of a 90 s share) has its boosting stopped at `first_trial_grace`
    times the share (once by default), fold by fold, and the family still returns a refitted
    model and says what happened."""
    df = frame(n=300)
    schema = infer_schema(df, "y", "regression")
    data = split(df, "y", "regression", 0.25, 0)
    folds = make_folds(data.y_train, "regression", n_folds=2, repeats=1, seed=0)
    slow = _config(  # a learning rate this small would take thousands of trees on every fold
        search__families__catboost__fixed={"iterations": 100_000},
        search__families__catboost__defaults={"learning_rate": 0.0001, "depth": 6},
    )
    block = slow.space("catboost", "regression", DataProfile.of(schema, 225))
    with caplog.at_level("WARNING", logger="modelops.training.search"):
        result = search_family(
            name="catboost", block=block, problem=RMSE, schema=schema, data=data,
            folds=folds, seconds=1.0, seed=0, n_jobs=1, max_trials=1,
            early_stopping_rounds=100_000, first_trial_grace=grace,
        )  # fmt: skip
    assert result.pipeline is not None and result.trials[0].state == "complete"
    assert result.params["iterations"] < 100_000  # the refit learnt the truncated count
    assert "first trial's trees were cut in 2 of 2 folds" in caplog.text
    assert f"at {grace:g} times its share" in caplog.text


def test_deadline_callbacks_end_each_boosters_training():
    """The callbacks stop training itself (not only the check after the fit)."""
    import catboost
    import lightgbm
    import xgboost

    from modelops.training.clock import OutOfTime
    from modelops.training.families.catboost import CatBoostDeadline
    from modelops.training.families.lightgbm import LightGBMDeadline
    from modelops.training.families.xgboost import xgboost_deadline

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 3)), rng.normal(size=200)
    past = time.perf_counter() - 1
    with pytest.raises(OutOfTime):
        lightgbm.LGBMRegressor(n_estimators=500, verbose=-1).fit(
            X, y, callbacks=[LightGBMDeadline(past)]
        )
    xgb = xgboost.XGBRegressor(n_estimators=500, callbacks=[xgboost_deadline(past)]).fit(X, y)
    assert xgb.get_booster().num_boosted_rounds() == 1
    cb = catboost.CatBoostRegressor(iterations=500, verbose=0, allow_writing_files=False)
    cb.fit(X, y, callbacks=[CatBoostDeadline(past)])
    assert cb.tree_count_ == 1
    ahead = time.perf_counter() + 600
    cb.fit(X, y, callbacks=[CatBoostDeadline(ahead)])
    assert cb.tree_count_ == 500


def test_signed_square_root_takes_any_target_and_only_regressors(frame):
    from modelops.estimators import TargetTransform

    y = np.array([-9.0, -0.25, 0.0, 4.0, 1e6])
    t = TargetTransform(None, "sqrt")
    np.testing.assert_allclose(t.forward(y), [-3.0, -0.5, 0.0, 2.0, 1e3])
    np.testing.assert_allclose(t.inverse(t.forward(y)), y)
    schema = infer_schema(frame(task="binary"), "y", "binary")
    for family in ("lightgbm", "xgboost"):
        with pytest.raises(ConfigError, match="target_transform 'sqrt': regression only"):
            make_pipeline(family, "binary", schema, {"target_transform": "sqrt"}, seed=0)
    config = _config(search__families__lightgbm__defaults={"target_transform": "sqrt"})
    with pytest.raises(ConfigError, match=r"search\.families\.lightgbm\.defaults\.target_tr"):
        config.check_parameters(["lightgbm"], "binary", schema)
    config.check_parameters(["lightgbm"], "regression", infer_schema(frame(), "y", "regression"))


def test_failed_trials_are_recorded_and_a_fully_failed_family_is_reported(frame):
    df = frame(n=200)
    schema = infer_schema(df, "y", "regression")
    data = split(df, "y", "regression", 0.25, 0)
    folds = make_folds(data.y_train, "regression", n_folds=2, repeats=1, seed=0)
    bad = _config(search__families__random_forest__fixed={"n_estimators": -3})
    block = bad.space("random_forest", "regression", DataProfile.of(schema, 150))
    common = dict(
        problem=RMSE, schema=schema, data=data, folds=folds, seconds=20,
        seed=0, n_jobs=1, max_trials=3, early_stopping_rounds=5,
    )  # fmt: skip
    failed = search_family(name="random_forest", block=block, **common)
    assert failed.failed and failed.pipeline is None
    assert [t.state for t in failed.trials] == ["failed"] * 3
    good = search_family(
        name="linear", block=_config().space("linear", "regression", DataProfile.of(schema, 150)),
        **common,
    )  # fmt: skip
    assert not good.failed and len(good.trials) == 3 and good.pipeline is not None
    assert good.trials[0].params["alpha"] == 1.0  # the config's defaults are the first trial


def test_greedy_ensemble_weights_and_never_worse_than_its_best_member():
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    a = y + rng.normal(scale=1.0, size=500)  # independent errors: averaging helps
    b = y + rng.normal(scale=1.0, size=500)
    bad = y + rng.normal(scale=5.0, size=500)
    chosen = greedy_selection({"a": a, "b": b, "bad": bad}, y, RMSE)
    assert set(chosen.weights) == {"a", "b"} and sum(chosen.weights.values()) == pytest.approx(1)
    assert 0.3 <= chosen.weights["a"] <= 0.7
    best_single = min(np.sqrt(np.mean((p - y) ** 2)) for p in (a, b, bad))
    assert chosen.score <= best_single
    # identical members: the tie goes to the first (better-ranked) one, alone
    tie = greedy_selection({"first": a, "second": a.copy()}, y, RMSE)
    assert tie.weights == {"first": 1.0}


def test_greedy_ensemble_averages_probabilities_for_classifiers():
    y = np.array(["no", "yes"] * 100, dtype=object)
    good = np.where(y == "yes", 0.8, 0.2)
    noisy = np.clip(good + np.random.default_rng(1).normal(scale=0.3, size=200), 0.01, 0.99)
    oof = {m: np.column_stack([1 - p, p]) for m, p in (("good", good), ("noisy", noisy))}
    chosen = greedy_selection(oof, y, Problem("binary", "log_loss", ("no", "yes")))
    assert chosen.weights["good"] >= 0.5
    blended = sum(w * oof[m] for m, w in chosen.weights.items())
    assert chosen.score == pytest.approx(log_loss(y, blended[:, 1], labels=["no", "yes"]))
    assert chosen.score <= log_loss(y, good, labels=["no", "yes"])


def test_members_below_min_weight_are_dropped_and_the_weights_chosen_again():
    """A member picked a few times adds its whole model for nothing measurable: below
    `min_weight` it goes, and the weights are the greedy's own over the members kept."""
    rng = np.random.default_rng(3)
    y = rng.normal(size=400)
    oof = {  # two strong members with independent errors and a weak third that helps a little
        "a": y + rng.normal(size=400),
        "b": y + rng.normal(size=400),
        "c": y + rng.normal(scale=2.5, size=400),
    }
    free = greedy_selection(oof, y, RMSE, bags=10, seed=0)
    assert 0 < min(free.weights.values()) < 0.15  # the case exists: a light member
    pruned = greedy_selection(oof, y, RMSE, bags=10, seed=0, min_weight=0.15)
    assert min(pruned.weights.values()) >= 0.15
    assert sum(pruned.weights.values()) == pytest.approx(1.0)
    kept = {m: oof[m] for m in pruned.weights}
    assert pruned == greedy_selection(kept, y, RMSE, bags=10, seed=0)
    # a bar no member reaches keeps the heaviest alone, never none
    alone = greedy_selection(oof, y, RMSE, bags=10, seed=0, min_weight=0.9)
    assert alone.weights == {max(free.weights, key=free.weights.__getitem__): 1.0}


def _level_pair(n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Two members with independent errors of the same size: either may look best on n rows."""
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    return {m: y + rng.normal(size=n) for m in ("a", "b")}, y


def test_bagged_selection_hedges_where_one_run_follows_noise():
    """Two members that differ by noise: one greedy run keeps whichever scored better on these
    rows, alone (blending the near-copies does not help it); bootstrap resamples disagree on
    which that is, so the bagged weights keep both."""
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    a = y + rng.normal(size=200)
    oof = {"a": a, "b": a + rng.normal(scale=0.01, size=200)}
    one = greedy_selection(oof, y, RMSE)
    bagged = greedy_selection(oof, y, RMSE, bags=40, seed=1)
    assert len(one.weights) == 1
    assert sum(bagged.weights.values()) == pytest.approx(1.0)
    assert min(bagged.weights.get(m, 0.0) for m in oof) > 0.2


def test_bagged_selection_is_one_run_where_the_ranking_is_clear():
    rng = np.random.default_rng(0)
    y = rng.normal(size=5000)
    oof = {"good": y + rng.normal(scale=0.5, size=5000), "bad": y + rng.normal(size=5000) * 3}
    bagged = greedy_selection(oof, y, RMSE, bags=10, seed=0)
    one = greedy_selection(oof, y, RMSE)
    assert set(bagged.weights) == set(one.weights)
    assert bagged.weights == pytest.approx(one.weights, abs=0.01)
    assert bagged.weights["good"] > 0.9


def test_bagged_selection_is_seeded():
    oof, y = _level_pair(60, 2)
    runs = [greedy_selection(oof, y, RMSE, bags=8, seed=s) for s in (5, 5, 6)]
    assert runs[0] == runs[1]
    assert runs[0].weights != runs[2].weights


def test_one_greedy_step_scores_picking_the_best_member_on_the_other_folds():
    """`nested_scores(iterations=1)` is the honest score of choosing one family by CV."""
    rng = np.random.default_rng(4)
    y = rng.normal(size=90)
    oof = {m: y + rng.normal(scale=s, size=90) for m, s in (("a", 1.0), ("b", 1.05), ("c", 3))}
    validation = [va for _, va in KFold(3, shuffle=True, random_state=0).split(y)]
    nested = nested_scores(oof, y, RMSE, validation, iterations=1)
    for va, got in zip(validation, nested, strict=True):
        rest = np.setdiff1d(np.arange(90), va)
        pick = min(oof, key=lambda m: np.sqrt(np.mean((oof[m][rest] - y[rest]) ** 2)))
        assert got["rmse"] == pytest.approx(np.sqrt(np.mean((oof[pick][va] - y[va]) ** 2)))


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_the_selection_metric_alone_is_the_one_every_metric_computes(task):
    """Greedy selection scores one metric per blend; it must be the leaderboard's number."""
    from modelops.metrics import METRICS
    from modelops.training.predictions import metric_of, metrics_of, scorer

    rng = np.random.default_rng(3)
    if task == "regression":
        classes, y = [], rng.normal(size=200)
        pred = y + rng.normal(size=200)
    else:
        classes = ["a", "b"] if task == "binary" else ["a", "b", "c"]
        y = rng.choice(np.array(classes, dtype=object), size=200)
        pred = rng.dirichlet(np.ones(len(classes)), size=200)
    problems = {m: Problem(task, m, tuple(classes)) for m in METRICS[task]}
    any_one = next(iter(problems.values()))  # every metric, whichever ranks
    every = metrics_of(any_one, y, pred)
    assert {m: metric_of(p, y, pred) for m, p in problems.items()} == every
    # and greedy selection's own scorers, with y encoded once, give the same numbers
    fast = {m: scorer(p, y)(pred) for m, p in problems.items()}
    assert fast == pytest.approx(every, rel=1e-12, abs=1e-15)
    if task != "regression":  # confident probabilities of 0 and 1 are clipped as sklearn does
        hard = np.eye(len(classes))[rng.integers(0, len(classes), size=200)]
        fast = {m: scorer(p, y)(hard) for m, p in problems.items()}
        assert fast == pytest.approx(metrics_of(any_one, y, hard), rel=1e-12)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_classes_coded_as_numbers_score_as_classes_named_by_text(task):
    """Metrics score labels by their position in the classes: 0/1 (int or float, as read from
    a CSV) gives the numbers that 'no'/'yes' gives."""
    from modelops.training.predictions import metrics_of

    rng = np.random.default_rng(5)
    k = 2 if task == "binary" else 3
    codes = rng.integers(0, k, size=120)
    proba = rng.dirichlet(np.ones(k), size=120)
    named = [f"c{i}" for i in range(k)]
    expected = metrics_of(
        Problem(task, "", tuple(named)), np.array(named, dtype=object)[codes], proba
    )
    for classes in (list(range(k)), [float(i) for i in range(k)]):
        got = metrics_of(Problem(task, "", tuple(classes)), np.asarray(classes)[codes], proba)
        assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "classes, labels, expected",
    [
        ([0.0, 1.0], [1, 0, 1.0, True], [1, 0, 1, 1]),  # by value: 1, 1.0 and True alike
        ([0.0, 1.0], ["1", "0.0", "1.00", " 0"], [1, 0, 1, 0]),  # text read back, as numbers
        ([0, 1, 2], ["2", 2.0, "2.0"], [2, 2, 2]),
        (["no", "yes"], ["yes", "Yes", "no ", None], [1, -1, -1, -1]),  # text stays exact
        (["01", "1"], ["1", 1, "01"], [1, 1, 0]),  # text classes that are equal as numbers
        ([0.0, 1.0], [2, "maybe", np.nan, None], [-1, -1, -1, -1]),
    ],
)
def test_class_positions_match_labels_however_a_reader_typed_them(classes, labels, expected):
    from modelops.metrics import class_positions

    assert class_positions(labels, classes).tolist() == expected


def _rmse_by_fold(pred, y, validation):
    return np.mean([np.sqrt(np.mean((pred[va] - y[va]) ** 2)) for va in validation])


@pytest.mark.parametrize("seed", range(4))
def test_nested_ensemble_score_sees_through_weights_fitted_to_noise(seed):
    """60 rows, one model and six noisy copies of it: mixing them cannot help, yet the weights
    chosen on all OOF rows look better than the model alone. The nested score does not."""
    rng = np.random.default_rng(seed)
    y = rng.normal(size=60)
    good = y + rng.normal(size=60)
    oof = {"good": good} | {f"copy{i}": good + rng.normal(scale=0.5, size=60) for i in range(6)}
    validation = [va for _, va in KFold(3, shuffle=True, random_state=0).split(y)]
    in_sample = greedy_selection(oof, y, RMSE)
    fitted = sum(w * oof[n] for n, w in in_sample.weights.items())
    single = _rmse_by_fold(good, y, validation)
    assert _rmse_by_fold(fitted, y, validation) < single  # the optimism the nested score removes
    nested = nested_scores(oof, y, RMSE, validation)
    assert len(nested) == 3 and np.mean([s["rmse"] for s in nested]) > single


def test_nested_ensemble_score_keeps_a_real_gain():
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    oof = {m: y + rng.normal(size=300) for m in ("a", "b", "c")}  # independent errors
    validation = [va for _, va in KFold(3, shuffle=True, random_state=0).split(y)]
    nested = np.mean([s["rmse"] for s in nested_scores(oof, y, RMSE, validation)])
    assert nested < min(_rmse_by_fold(p, y, validation) for p in oof.values()) * 0.9


def test_paired_bootstrap_separates_a_real_gain_from_noise():
    rng = np.random.default_rng(0)
    y = rng.normal(size=2000)
    champion = y + rng.normal(scale=1.0, size=2000)
    better = y + rng.normal(scale=0.7, size=2000)
    same = champion + rng.normal(scale=0.01, size=2000)
    kw = dict(resamples=300, confidence=0.9, seed=3)
    gain = paired_bootstrap(RMSE, y, better, champion, **kw)
    assert gain.low > 0 and gain.resamples == 300 and gain.seed == 3
    noise = paired_bootstrap(RMSE, y, same, champion, **kw)
    assert noise.low < 0 < noise.high


def test_a_small_class_trains_with_fewer_folds_and_a_note(tmp_path):
    """A 214-row, 6-class table whose smallest class has 9 rows (the glass data's shape)."""
    from modelops.training.steps import prepare_training

    rng = np.random.default_rng(0)
    sizes = {"a": 70, "b": 76, "c": 17, "d": 13, "e": 29, "f": 9}
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=214),
            "x2": rng.normal(size=214),
            "kind": np.repeat(list(sizes), list(sizes.values())),
        }
    )
    path = tmp_path / "glass.csv"
    df.to_csv(path, index=False)
    prep = prepare_training(
        data=str(path), target="kind", task="auto", candidates="linear", metric="auto",
        test_size=0.2, cv_folds=10, budget_minutes=1, seed=0, sample=0, model_name="",
        config=_config(cv={"small_rows": 1000, "small_repeats": 3}),
    )  # fmt: skip
    assert prep.task == "multiclass" and prep.folds.n_folds == 7 and prep.folds.repeats == 3
    assert any("smallest class" in n for n in prep.notes)
    # boosters early-stop on a fifth of each fold's training rows, and the card says so
    assert [len(s) for s in prep.folds.stopping] == [
        round(0.2 * len(tr)) for tr, _ in prep.folds.splits
    ]
    assert any("early-stop on 20% of each fold's training rows" in n for n in prep.notes)
    df.loc[len(df)] = [0.0, 0.0, "g"]  # a class of one row cannot be in train and holdout
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match="fewer than 3"):
        prepare_training(
            data=str(path), target="kind", task="auto", candidates="linear", metric="auto",
            test_size=0.2, cv_folds=3, budget_minutes=1, seed=0, sample=0, model_name="",
            config=_config(),
        )  # fmt: skip


def test_a_search_that_has_converged_stops_before_its_budget(frame):
    """On a small linear problem the portfolio already finds the best the family can do: the
    search stops `patience` trials later instead of spending its whole share."""
    df = frame(n=200)
    schema = infer_schema(df, "y", "regression")
    data = split(df, "y", "regression", 0.25, 0)
    folds = make_folds(data.y_train, "regression", n_folds=3, repeats=1, seed=0)
    config = _config()
    block = config.space("linear", "regression", DataProfile.of(schema, 150))
    common = dict(
        name="linear", block=block, problem=RMSE, schema=schema, data=data, folds=folds,
        seconds=120, seed=0, n_jobs=1, max_trials=200, early_stopping_rounds=5,
    )  # fmt: skip
    result = search_family(**common, patience=4)
    assert result.stopped == "converged"
    assert len(result.trials) == len(block.first_trials()) + 4 < 200
    assert result.cv_seconds < 60  # time went back to the user
    assert result.summary()["stopped"] == "converged"
    capped = search_family(**(common | {"max_trials": 3}), patience=0)
    assert capped.stopped == "trial cap" and len(capped.trials) == 3


def test_the_automatic_budget_grows_with_the_table():
    from modelops.training.config import load_config

    auto = load_config().search.budget
    small = auto.minutes(DataProfile(rows=400, columns=8, max_cardinality=3), classes=2)
    medium = auto.minutes(DataProfile(rows=20_000, columns=10, max_cardinality=3), classes=2)
    diamonds = auto.minutes(DataProfile(rows=43_152, columns=9, max_cardinality=8), classes=1)
    many = auto.minutes(DataProfile(rows=20_000, columns=10, max_cardinality=3), classes=6)
    assert small == pytest.approx(auto.min_minutes, abs=0.01)
    assert small < medium < diamonds <= auto.max_minutes
    assert many > medium  # more classes, more work per trial
    # diamonds' 70 s of search keep the champion's quality (holdout RMSE 509.1-509.3, as at 88 s)
    # and its whole run near AutoGluon medium's 92 s (BENCHMARKS.md, sessions 26-27)
    assert diamonds == pytest.approx(1.17, abs=0.01)


def test_an_automatic_budget_leaves_out_a_family_that_cannot_fit_one_trial():
    from modelops.training.config import load_config

    config = load_config()
    profile = DataProfile(rows=100_000, columns=20, max_cardinality=3)
    notes: list[str] = []
    limits = config.check_budget(
        ["linear", "random_forest"], budget_seconds=60, profile=profile, fits=3, notes=notes
    )
    assert "random_forest" not in limits and "linear" in limits
    assert notes and notes[0].startswith("random_forest left out")
    with pytest.raises(ConfigError, match="raise --budget-minutes"):  # the user's own budget
        config.check_budget(["linear", "random_forest"], budget_seconds=60, profile=profile, fits=3)


def test_the_fast_roc_auc_is_scikit_learns_with_ties():
    """The greedy's ROC AUC counts pairs, ties at half: equal to scikit-learn's on scores
    that are mostly ties, on a single distinct score, and on continuous ones."""
    from sklearn.metrics import roc_auc_score

    from modelops.training.predictions import scorer

    rng = np.random.default_rng(0)
    y = rng.choice(np.array(["no", "yes"], dtype=object), size=500)
    for p in (
        rng.random(500),
        rng.integers(0, 5, size=500) / 4,  # mostly ties
        np.full(500, 0.5),
    ):
        auc = Problem("binary", "roc_auc", ("no", "yes"))
        got = scorer(auc, y)(np.column_stack([1 - p, p]))
        assert got == pytest.approx(roc_auc_score(y == "yes", p), rel=1e-12)


def test_side_by_side_returns_what_one_after_another_does(monkeypatch):
    """The ensemble's greedy runs in forked workers: the same results, in the jobs' order."""
    from modelops.training import ensemble
    from modelops.training.ensemble import greedy_selection, side_by_side

    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    oof = {f"m{i}": y + rng.normal(scale=1 + i, size=300) for i in range(4)}
    jobs = [(greedy_selection, (oof, y, RMSE), {"bags": 5, "seed": s}) for s in range(5)]
    monkeypatch.setattr(ensemble, "cores", lambda: 2)
    parallel = side_by_side(jobs)
    monkeypatch.setattr(ensemble, "cores", lambda: 1)
    assert parallel == side_by_side(jobs)
    assert len({tuple(sorted(r.weights.items())) for r in parallel}) > 1  # seeds differ


def _three_alike(n: int = 2000) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Three members with independent errors of one size: each one the blend loses costs
    the same (RMSE about 0.58 with all three, 0.71 with two, 1.0 with one)."""
    rng = np.random.default_rng(5)
    y = rng.normal(size=n)
    return {m: y + rng.normal(size=n) for m in ("a", "b", "c")}, y


def test_members_are_pruned_for_speed_while_the_blend_stays_within_the_tolerance():
    """The most expensive member whose removal loses no more than `tolerance` goes first, the
    weights chosen again among the rest; the loss is counted from the full blend, so pruning
    stops before it adds up; with no tolerance a member that helps is never dropped."""
    oof, y = _three_alike()
    costs = {"a": 1.0, "b": 5.0, "c": 2.0}
    full = greedy_selection(oof, y, RMSE)
    assert set(full.weights) == {"a", "b", "c"}
    assert greedy_selection(oof, y, RMSE, costs=costs) == full
    pruned = greedy_selection(oof, y, RMSE, costs=costs, tolerance=0.2)
    assert set(pruned.weights) == {"a", "c"}  # b was the dearest; one more would lose ~0.4
    again = greedy_selection({m: oof[m] for m in ("a", "c")}, y, RMSE)
    assert (pruned.weights, pruned.score) == (again.weights, again.score)
    assert 0 < pruned.score - full.score <= 0.2


def test_an_infer_limit_prunes_until_the_members_cost_fits_losing_least_per_ms():
    """Over the limit, the member whose removal loses least per millisecond saved goes, even
    beyond the tolerance, until the summed cost is within the limit; nested scores prune the
    same way on each fold's other rows."""
    oof, y = _three_alike()
    costs = {"a": 1.0, "b": 5.0, "c": 2.0}
    kwargs = {"costs": costs, "limit": 2.5}
    assert greedy_selection(oof, y, RMSE, **kwargs).weights == {"a": 1.0}
    within = greedy_selection(oof, y, RMSE, costs=costs, limit=3.0)
    assert set(within.weights) == {"a", "c"}
    validation = [np.arange(0, 1000), np.arange(1000, 2000)]
    nested = nested_scores(oof, y, RMSE, validation, **kwargs)
    alone = [np.sqrt(np.mean((oof["a"][va] - y[va]) ** 2)) for va in validation]
    assert [s["rmse"] for s in nested] == pytest.approx(alone)


def test_the_selection_says_which_members_pruning_took_out():
    oof, y = _three_alike()
    costs = {"a": 1.0, "b": 5.0, "c": 2.0}
    pruned = greedy_selection(oof, y, RMSE, costs=costs, tolerance=0.2)
    assert pruned.pruned == ("b",)
    assert greedy_selection(oof, y, RMSE).pruned == ()


def test_a_small_table_searches_its_families_in_one_task_per_core():
    """Seven tasks starting at once on two cores spent longer starting than searching: below
    `group_below_mcells` the families form one group per core, balanced by share, each group
    in order of share (the boosters last, to get what the others left)."""
    from modelops.training.config import DataProfile

    config = load_config()
    names = list(FAMILIES)
    small = DataProfile(rows=5000, columns=8, max_cardinality=0)
    groups = config.family_groups(names, small, lanes=2)
    assert len(groups) == 2 and sorted(n for g in groups for n in g) == sorted(names)
    totals = [sum(config.family(n).share for n in g) for g in groups]
    assert max(totals) - min(totals) <= max(config.family(n).share for n in names)
    for g in groups:
        assert [config.family(n).share for n in g] == sorted(config.family(n).share for n in g)
    # a large table, as many cores as families, or grouping off: a task per family
    large = DataProfile(rows=43152, columns=9, max_cardinality=0)
    assert config.family_groups(names, large, lanes=2) == [[n] for n in names]
    assert config.family_groups(names, small, lanes=7) == [[n] for n in names]
    off = config.model_copy(
        update={"search": config.search.model_copy(update={"group_below_mcells": 0.0})}
    )
    assert off.family_groups(names, small, lanes=2) == [[n] for n in names]


def test_a_group_gives_each_family_its_share_of_what_is_left(monkeypatch):
    """In a group the task has the budget's wall; a family's time is its share of what is
    left among the families left, so what one did not use goes to the next."""
    from types import SimpleNamespace

    from modelops.training import steps

    clock = {"now": 0.0}
    given = {}

    def fake_search(*, name, seconds, **_):
        given[name] = seconds
        clock["now"] += {"extra_trees": 2.0, "xgboost": 30.0}.get(name, seconds)  # ET converged
        return name

    monkeypatch.setattr(steps, "search_logged", fake_search)
    monkeypatch.setattr(steps.time, "perf_counter", lambda: clock["now"])
    config = load_config()
    wall = 60.0
    prep = SimpleNamespace(
        limits={n: wall * config.family(n).share for n in ("extra_trees", "xgboost", "catboost")}
    )
    names = ["extra_trees", "xgboost", "catboost"]  # shares 0.4, 1, 1
    assert steps.search_group(names=names, prep=prep, config=config, seed=0, group="g") == names
    assert given["extra_trees"] == pytest.approx(60 * 0.4 / 2.4)
    assert given["xgboost"] == pytest.approx((60 - 2) / 2)  # ET's unused time is shared on
    assert given["catboost"] == pytest.approx(60 - 2 - 30)
    # a family that ran over (a first trial may take twice its share) does not starve the
    # next: it still gets its share of the task's wall, and the task runs longer
    clock["now"], given = 0.0, {}
    monkeypatch.setattr(
        steps, "search_logged",
        lambda *, name, seconds, **_: given.__setitem__(name, seconds)
        or clock.__setitem__("now", clock["now"] + {"xgboost": 55.0}.get(name, 2.0)),
    )  # fmt: skip
    steps.search_group(names=names, prep=prep, config=config, seed=0, group="g")
    assert given["catboost"] == pytest.approx(60 * 1 / 2.4)


def test_a_tasks_own_start_counts_in_its_time_up_to_half(monkeypatch):
    """Seven tasks starting at once on two cores spent ~12 s before their clocks started and
    the search step ran that much past the budget: the time since the task's process started
    comes off its family's time (a group's wall), never more than half of it."""
    from types import SimpleNamespace

    from modelops.training import steps

    clock = {"now": 100.0}
    given = {}

    def fake_search(*, name, seconds, **_):
        given[name] = seconds
        clock["now"] += 1.0
        return name

    monkeypatch.setattr(steps, "search_logged", fake_search)
    monkeypatch.setattr(steps.time, "perf_counter", lambda: clock["now"])
    config = load_config()
    prep = SimpleNamespace(limits={"xgboost": 60.0, "extra_trees": 24.0, "catboost": 60.0})
    run = dict(prep=prep, config=config, seed=0, group="g")
    steps.search_group(names=["xgboost"], started=88.0, **run)
    assert given["xgboost"] == pytest.approx(60 - 12)
    steps.search_group(names=["xgboost"], started=0.0, **run)  # 100 s starting: half is left
    assert given["xgboost"] == pytest.approx(30)
    steps.search_group(names=["xgboost"], **run)  # modelops.fit's workers: no start counted
    assert given["xgboost"] == pytest.approx(60)
    steps.search_group(names=["extra_trees", "catboost"], started=clock["now"] - 12, **run)
    assert given["extra_trees"] == pytest.approx((60 - 12) * 0.4 / 1.4)  # of the wall left
    assert given["catboost"] == pytest.approx(60 - 12 - 1)


def test_process_started_is_when_the_process_began():
    import subprocess
    import sys

    code = (
        "import time; time.sleep(1.0)\n"
        "from modelops.training.clock import process_started\n"
        "print(time.perf_counter() - process_started())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 1.0 <= float(out.stdout) < 5.0


def test_pruning_a_classifier_keeps_probabilities_that_rescaled_weights_push_past_one():
    """Wine, multiclass: greedy weights 0.1/0.1/0.8 without the 0.8 member rescale (by
    1 - 0.8) to a sum of 1 + 2e-16, a blend of certain probabilities went past 1 and
    scikit-learn's log loss refused it: select failed. Rescaled by the others' own sum and
    scored within [0, 1], the member is judged."""
    from modelops.training.ensemble import _cheaper

    classes = ["a", "b", "c"]
    y = np.array(["a", "b", "c"] * 20, dtype=object)
    certain = np.eye(3)[[0, 1, 2] * 20]
    oof = {"m1": certain, "m2": certain.copy(), "m3": np.full((60, 3), 1 / 3)}
    weights = {"m1": 0.1, "m2": 0.1, "m3": 0.8}

    def choose(members):
        return {n: 1 / len(members) for n in members}

    costs = {"m1": 1.0, "m2": 1.0, "m3": 5.0}
    problem = Problem("multiclass", "log_loss", tuple(classes))
    kept = _cheaper(oof, weights, choose, y, problem, costs, 0.0, None)
    assert "m3" not in kept  # the uninformative member goes: the blend improves


def test_pruning_chooses_the_weights_again_once_per_pass_not_once_per_member():
    """Removals are judged on rescaled weights; the greedy (a bagged run per fold, the dear
    part of `select`) chooses again only when no more can go, and a blend it chooses that
    loses more than the tolerance gets the member last taken out back."""
    from modelops.training.ensemble import _cheaper

    rng = np.random.default_rng(5)
    y = rng.normal(size=4000)
    oof = {m: y + rng.normal(size=4000) for m in "abcdef"}
    costs = dict(zip("abcdef", [1.0, 6.0, 5.0, 4.0, 3.0, 2.0], strict=True))
    calls = []

    def choose(members):
        calls.append(list(members))
        return {n: 1 / len(members) for n in members}

    weights = {n: 1 / 6 for n in oof}
    # six alike members: RMSE about 0.41 with six, 0.45 with five, 0.5 with four
    kept = _cheaper(oof, weights, choose, y, RMSE, costs, 0.1, None)
    assert set(kept) == {"a", "d", "e", "f"}  # the two dearest went
    assert calls == [["a", "d", "e", "f"]]  # one choice for two removals

    def worse(members):  # a choice that puts all weight on one member: it loses too much
        calls.append(list(members))
        return {next(iter(members)): 1.0} if len(members) < 6 else choose(members)

    calls.clear()
    kept = _cheaper(oof, weights, worse, y, RMSE, costs, 0.1, None)
    # both members came back, the last taken out first, until the tolerance held again
    assert calls[0] == ["a", "d", "e", "f"] and calls[1] == ["a", "c", "d", "e", "f"]
    assert set(kept) == set(oof)


@pytest.mark.parametrize(("seconds_a_timing", "timings"), [(0.01, 3), (0.8, 2), (1.5, 1)])
def test_predict_cost_stops_timing_a_slow_model_after_a_second(
    monkeypatch: pytest.MonkeyPatch, seconds_a_timing: float, timings: int
) -> None:
    """A fast model is timed three times (best of three); a slow one only until a second has
    gone on timing it, so measuring never costs a search task seconds."""
    from modelops.training import search

    clock = {"now": 0.0, "calls": 0}

    class Model:
        def predict(self, X: pd.DataFrame) -> np.ndarray:
            clock["now"] += seconds_a_timing * (0.5 if clock["calls"] else 1.0)
            clock["calls"] += 1
            return np.zeros(len(X))

    monkeypatch.setattr(search.time, "process_time", lambda: clock["now"])
    X = pd.DataFrame({"x": [1.0, 2.0]})
    ms = search.predict_cost(Model(), X, RMSE)
    assert clock["calls"] == timings
    # the best timing (every one after the first is half as long) per 1,000 of 10,000 rows
    best = seconds_a_timing * (0.5 if timings > 1 else 1.0)
    assert ms == pytest.approx(best * 1000 * 1000 / 10_000)
