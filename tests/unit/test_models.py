"""Candidates, training and evaluation on tiny frames: every family fits, scores and survives
unseen categories and missing values, and the grid search really picks the better point."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from modelops.errors import ConfigError
from modelops.metrics import evaluate, is_better, resolve_metric
from modelops.schema import infer_schema
from modelops.training.candidates import CANDIDATES, make_pipeline, parse_candidates
from modelops.training.config import TrainConfig
from modelops.training.data import split
from modelops.training.fit import CandidateSpec, train_candidate
from modelops.training.selection import leaderboard, rank

FAST = {"random_forest": {"n_estimators": 20}, "catboost": {"iterations": 60}}


@pytest.mark.parametrize("name", sorted(CANDIDATES))
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
    with pytest.raises(ConfigError, match=r"unknown candidate\(s\) \['xgb'\]"):
        parse_candidates("linear,xgb")
    with pytest.raises(ConfigError, match="empty"):
        parse_candidates(" , ")


def test_metrics_direction_and_resolution():
    assert resolve_metric("regression", "auto") == "rmse"
    assert resolve_metric("binary", "auto") == "roc_auc"
    assert resolve_metric("multiclass", "auto") == "log_loss"
    with pytest.raises(ConfigError, match="does not apply to regression"):
        resolve_metric("regression", "roc_auc")
    assert is_better("regression", "rmse", 1.0, 2.0)
    assert not is_better("regression", "rmse", 1.99, 2.0, min_improvement=0.01)
    assert is_better("binary", "roc_auc", 0.9, 0.8)


def test_evaluate_regression_matches_hand_computation(frame):
    df = frame()
    schema = infer_schema(df, "y", "regression")
    pipe = make_pipeline("linear", "regression", schema, {}, 0).fit(df.drop(columns="y"), df["y"])
    m = evaluate(pipe, df.drop(columns="y"), df["y"], "regression")
    resid = pipe.predict(df.drop(columns="y")) - df["y"]
    assert m["rmse"] == pytest.approx(float(np.sqrt(np.mean(resid**2))))
    assert m["r2"] > 0.9


def test_train_candidate_reports_cv_holdout_and_fit_time(frame):
    df = frame(n=300)
    schema = infer_schema(df, "y", "regression")
    data = split(df, "y", "regression", 0.2, 0)
    res = train_candidate(
        CandidateSpec("linear", "linear", {}), "regression", schema, data, cv_folds=3, seed=0
    )
    assert set(res.cv) == {"rmse", "mae", "r2"} and res.cv_std["rmse"] > 0
    assert res.holdout["r2"] > 0.9 and res.fit_seconds > 0
    expected = evaluate(res.pipeline, data.X_test, data.y_test, "regression")
    assert res.holdout == expected
    no_cv = train_candidate(
        CandidateSpec("linear", "linear", {}), "regression", schema, data, cv_folds=0, seed=0
    )
    assert no_cv.cv == {} and no_cv.holdout == expected


def test_grid_search_ranks_points_by_cv_not_holdout(frame):
    df = frame(n=300)
    schema = infer_schema(df, "y", "regression")
    data = split(df, "y", "regression", 0.2, 0)
    config = TrainConfig.from_mapping(
        {"candidates": {"linear": {"regression": {"alpha": 1e6}, "search": [{"alpha": 0.1}]}}}
    )
    specs = config.specs(["linear"], "regression")
    assert [(s.label, s.params) for s in specs] == [
        ("linear", {"alpha": 1e6}),
        ("linear-1", {"alpha": 0.1}),
    ]
    results = [train_candidate(s, "regression", schema, data, cv_folds=3, seed=0) for s in specs]
    ranked = rank(results, "regression", "rmse")
    assert ranked[0].label == "linear-1"
    # The ranking key is the CV score: make the holdout disagree and the order must not change.
    results[0].holdout = {"rmse": 0.0, "mae": 0.0, "r2": 1.0}
    assert rank(results, "regression", "rmse")[0].label == "linear-1"
    board = leaderboard(ranked)
    assert list(board["candidate"]) == ["linear-1", "linear"]
    assert board.loc[0, "cv_rmse"] < board.loc[1, "cv_rmse"]


def test_config_rejects_unknown_candidate():
    with pytest.raises(ConfigError, match="unknown candidate"):
        TrainConfig.from_mapping({"candidates": {"svm": {}}})
