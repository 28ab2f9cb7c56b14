"""Drift on the bundled diamonds data: a scaled column is drift, a fresh sample is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelops.errors import DataError
from modelops.monitoring.drift import compute_drift
from modelops.monitoring.performance import compute_performance
from modelops.monitoring.policy import DriftDetected, drift_gate
from modelops.schema import infer_schema
from modelops.training.data import bundled_path


@pytest.fixture(scope="module")
def diamonds():
    df = pd.read_csv(bundled_path("diamonds"))
    return df.drop(columns="price"), infer_schema(df, "price", "regression")


def test_scaled_carat_is_drift_and_fresh_sample_is_not(diamonds, tmp_path):
    X, schema = diamonds
    reference = X.sample(4000, random_state=1)
    fresh = X.sample(4000, random_state=2)
    same = compute_drift(reference, fresh, schema)
    assert not same.drifted and same.n_drifted == 0 and same.n_columns == 9
    shifted = compute_drift(
        reference, fresh.assign(carat=fresh["carat"] * 1.5), schema, html_path=tmp_path / "r.html"
    )
    assert shifted.drifted and shifted.drifted_columns == ["carat"]
    assert shifted.columns["carat"]["score"] > shifted.columns["carat"]["threshold"]
    assert "<html" in (tmp_path / "r.html").read_text()[:2000].lower()
    with pytest.raises(DriftDetected, match=r"1 of 9 columns \(carat\)"):
        drift_gate(shifted, fail_on_drift=True)
    drift_gate(shifted, fail_on_drift=False)  # reported, not enforced
    drift_gate(same, fail_on_drift=True)


def test_realised_performance_from_labels(diamonds, tmp_path):
    X, schema = diamonds
    df = pd.read_csv(bundled_path("diamonds")).head(2000)
    scored = pd.DataFrame({"price": df["price"], "prediction": df["price"] * 1.1})
    scored.loc[0, "price"] = None  # unlabelled rows are ignored
    perf = compute_performance(scored, "price", schema, {"rmse": 500.0}, tmp_path / "p.html")
    expected = float(np.sqrt(np.mean((0.1 * df["price"].iloc[1:]) ** 2)))
    assert perf.rows == 1999 and perf.realised["rmse"] == pytest.approx(expected)
    assert perf.training == {"rmse": 500.0}
    assert (tmp_path / "p.html").stat().st_size > 1000
    with pytest.raises(DataError, match="labels column 'nope'"):
        compute_performance(scored, "nope", schema, {})


def test_realised_performance_binary(tmp_path):
    frame = pd.DataFrame({"a": [0.0, 1.0] * 50, "y": ["no", "yes"] * 50})
    schema = infer_schema(frame, "y", "binary")
    scored = pd.DataFrame(
        {"y": ["no", "yes"] * 50, "prediction": ["no", "yes"] * 49 + ["yes", "no"],
         "proba_no": [0.9, 0.1] * 49 + [0.4, 0.6], "proba_yes": [0.1, 0.9] * 49 + [0.6, 0.4]}
    )  # fmt: skip
    perf = compute_performance(scored, "y", schema, {}, tmp_path / "p.html")
    assert perf.realised["accuracy"] == pytest.approx(0.98)
    assert (tmp_path / "p.html").exists()


def test_a_tiny_file_gets_no_drift_verdict(diamonds):
    """On 50 rows every column's distance looks large; that is not drift, and not 'no drift'."""
    X, schema = diamonds
    tiny = compute_drift(X.sample(4000, random_state=1), X.sample(50, random_state=2), schema)
    assert tiny.insufficient and not tiny.drifted and tiny.current_rows == 50
    enough = compute_drift(X.sample(4000, random_state=1), X.sample(500, random_state=2), schema)
    assert not enough.insufficient


@pytest.mark.parametrize(
    "labels, predictions",
    [
        ([0, 1] * 50, [0, 1] * 49 + [1, 0]),  # what a CSV reader makes of "0"/"1"
        (["0.0", "1.0"] * 50, ["0", "1"] * 49 + ["1", "0"]),  # text, written two ways
        ([0.0, 1.0] * 50, [0.0, 1.0] * 49 + [1.0, 0.0]),  # the training values themselves
    ],
)
def test_realised_performance_matches_numeric_classes_however_they_were_read(
    labels, predictions, tmp_path
):
    """A 0/1 target trained as floats (0.0, 1.0) is scored into a CSV that prints them `0`
    and `1`; read back, the labels are ints or text. They are the same classes."""
    frame = pd.DataFrame({"a": [0.0, 1.0] * 50, "y": [0.0, 1.0] * 50})
    schema = infer_schema(frame, "y", "binary")
    assert list(schema.classes) == [0.0, 1.0]
    scored = pd.DataFrame(
        {"y": labels, "prediction": predictions,
         "proba_0.0": [0.9, 0.1] * 49 + [0.4, 0.6], "proba_1.0": [0.1, 0.9] * 49 + [0.6, 0.4]}
    )  # fmt: skip
    perf = compute_performance(scored, "y", schema, {}, tmp_path / "p.html")
    assert perf.realised["accuracy"] == pytest.approx(0.98)
    assert perf.realised["log_loss"] == pytest.approx(-(98 * np.log(0.9) + 2 * np.log(0.4)) / 100)
    assert (tmp_path / "p.html").exists()


def test_realised_performance_names_labels_the_model_does_not_know(tmp_path):
    frame = pd.DataFrame({"a": [0.0, 1.0] * 50, "y": ["no", "yes"] * 50})
    schema = infer_schema(frame, "y", "binary")
    scored = pd.DataFrame(
        {"y": ["no", "yes"] * 49 + ["maybe", "Yes"], "prediction": ["no", "yes"] * 50,
         "proba_no": [0.9, 0.1] * 50, "proba_yes": [0.1, 0.9] * 50}
    )  # fmt: skip
    with pytest.raises(DataError, match=r"labels column 'y'.*'Yes', 'maybe'.*2 rows.*'no', 'yes'"):
        compute_performance(scored, "y", schema, {})


def test_drift_is_weighed_by_what_the_model_relies_on(diamonds):
    from modelops.monitoring.policy import retrain_decision
    from modelops.monitoring.steps import describe_drift

    X, schema = diamonds
    reference = X.sample(4000, random_state=1)
    fresh = X.sample(4000, random_state=2)
    importance = {"carat": 0.5, "y": 0.3, "clarity": 0.15, "color": 0.05, "depth": -0.001}
    # a column the model does not use drifts: reported, not acted on
    unused = compute_drift(
        reference, fresh.assign(depth=fresh["depth"] * 1.5), schema, importance=importance
    )
    assert unused.drifted_columns == ["depth"] and not unused.drifted
    assert unused.weighted_share == 0.0 and unused.unused_drifted == ["depth"]
    assert "['depth'] are not used by the model: reported, not acted on" in describe_drift(unused)
    decision = retrain_decision(unused.to_dict())
    assert not decision.retrain and "no drift that matters" in decision.reason
    # without importance the same batch would retrain (1 of 9 columns >= 10%)
    assert compute_drift(reference, fresh.assign(depth=fresh["depth"] * 1.5), schema).drifted
    # the column the model relies on most drifts: drift, and a retrain
    used = compute_drift(
        reference, fresh.assign(carat=fresh["carat"] * 1.5), schema, importance=importance
    )
    assert used.drifted and used.weighted_share == pytest.approx(0.5, abs=1e-9)
    assert retrain_decision(used.to_dict()).retrain


def test_too_few_rows_is_no_verdict_not_drift(diamonds):
    from modelops.monitoring.policy import retrain_decision
    from modelops.monitoring.steps import describe_drift

    X, schema = diamonds
    tiny = compute_drift(X.sample(2000, random_state=1), X.sample(50, random_state=2), schema)
    assert tiny.insufficient and not tiny.drifted
    assert describe_drift(tiny).startswith("no verdict: 50 rows are too few")
    assert not retrain_decision(tiny.to_dict()).retrain
