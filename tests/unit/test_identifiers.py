"""A user's own table: identifier columns are found and left out, with a say for the user, and
a column that carries a near-perfect score alone is named as a possible leak."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelops.errors import ConfigError
from modelops.schema import id_columns, infer_schema, looks_like_id_name
from modelops.training.selection import leakage_warning
from modelops.training.steps import left_out_columns


@pytest.mark.parametrize(
    "name", ["id", "ID", "respondent_id", "CustomerID", "customerId", "uuid", "order-no",
             "account_key", "Unnamed: 0", "row"],
)  # fmt: skip
def test_identifier_names(name):
    assert looks_like_id_name(name)


@pytest.mark.parametrize(
    "name", ["carat", "number_of_rooms", "video", "idle", "kid", "valid", "monkey", "noise"]
)
def test_names_that_are_not_identifiers(name):
    assert not looks_like_id_name(name)


def _table(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "respondent_id": rng.permutation(n) + 10_000,  # named, shuffled
            "seq": np.arange(n) * 2 + 7,  # unnamed, in file order
            "slot": rng.permutation(n),  # fills its range
            "income": rng.integers(1_000, 1_000_000, n),  # distinct-ish integers, a feature
            "age": rng.integers(18, 90, n),
            "store_id": rng.integers(0, 12, n),  # an ID by name, but a real grouping
            "x": rng.normal(size=n),
            "when": pd.date_range("2024-01-01", periods=n, freq="h").astype(str),
            "y": rng.normal(size=n),
        }
    )


def test_numeric_identifiers_are_found_and_measurements_are_not():
    found = id_columns(_table(), "y")
    assert set(found) == {"respondent_id", "seq", "slot"}
    assert "named like an identifier" in found["respondent_id"]
    assert "in sequence" in found["seq"] and "like a row number" in found["slot"]


def test_a_target_and_tiny_tables_are_never_identifiers():
    df = _table(15)
    assert id_columns(df, "y") == {}
    assert "respondent_id" not in id_columns(_table().rename(columns={"respondent_id": "t"}), "t")


def test_left_out_columns_detect_ignore_and_keep_with_notes():
    df, notes = _table(), []
    left = left_out_columns(
        df, target="y", source="t.csv", ignore=["age"], keep=["seq"], notes=notes
    )
    assert left == {"respondent_id", "slot", "age"}
    text = " ".join(notes)
    assert "['respondent_id', 'slot'] look like identifiers" in text
    assert "['seq'] look like identifiers but are kept (--keep-columns)" in text
    assert "['age'] left out of the features (--ignore-columns)" in text
    schema = infer_schema(df, "y", "regression", ignore=left)
    assert set(schema.ignored) == left and "seq" in schema.numeric


@pytest.mark.parametrize(
    "ignore, keep, message",
    [
        (["nope"], [], r"--ignore-columns: \['nope'\] are not feature columns of t.csv"),
        ([], ["y"], r"--keep-columns: \['y'\] are not feature columns"),
        (["x"], ["x"], r"\['x'\] are both in --ignore-columns and --keep-columns"),
    ],
)
def test_wrong_column_lists_are_refused(ignore, keep, message):
    with pytest.raises(ConfigError, match=message):
        left_out_columns(_table(), target="y", source="t.csv", ignore=ignore, keep=keep, notes=[])


def test_the_default_schema_leaves_identifiers_out():
    schema = infer_schema(_table(), "y", "regression")
    assert set(schema.ignored) == {"respondent_id", "seq", "slot"}
    assert schema.datetime == ["when"]  # timestamps are all different too, and are features


def test_a_dominant_column_with_a_near_perfect_score_is_named():
    importance = pd.Series({"respondent_id": 0.40, "age": 0.01, "x": -0.002})
    warning = leakage_warning({"roc_auc": 0.9999, "accuracy": 0.97}, importance)
    assert "possible leak: column 'respondent_id' carries 98%" in warning
    assert "roc_auc 0.9999" in warning and "--ignore-columns respondent_id" in warning
    # an easy table with several useful columns, or a good but not perfect score: no warning
    spread = pd.Series({"a": 0.3, "b": 0.3, "c": 0.3})
    assert leakage_warning({"r2": 0.999}, spread) is None
    assert leakage_warning({"r2": 0.95}, importance) is None
