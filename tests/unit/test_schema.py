from __future__ import annotations

import pytest

from modelops.errors import SchemaError
from modelops.schema import Schema, check_columns, infer_schema


def test_infer_schema_kinds_and_categories(frame):
    s = infer_schema(frame(), "y", "regression")
    assert s.numeric == ["num_a", "num_b"]
    assert s.categorical == ["colour"]
    assert s.columns[2].categories == ("blue", "green", "red")
    assert "y" not in s.feature_names


def test_schema_round_trips_through_json(frame):
    s = infer_schema(frame(task="binary"), "y", "binary")
    assert Schema.from_dict(s.to_dict()) == s
    assert s.classes == ("no", "yes")


def test_check_columns_names_missing_and_allows_extra(frame):
    s = infer_schema(frame(), "y", "regression")
    df = frame().drop(columns=["y", "num_b", "colour"]).assign(id=1)
    with pytest.raises(SchemaError) as err:
        check_columns(df, s, "new.csv")
    msg = str(err.value)
    assert "new.csv" in msg and "['num_b', 'colour']" in msg
    check_columns(frame().assign(id=1), s, "new.csv")  # extra columns are fine


def test_compatible_with(frame):
    a = infer_schema(frame(), "y", "regression")
    b = infer_schema(frame().drop(columns="colour"), "y", "regression")
    assert a.compatible_with(a) == []
    assert "columns ['colour'] are missing" in a.compatible_with(b)[0]
    c = infer_schema(frame(task="binary"), "y", "binary")
    assert any("task" in p for p in a.compatible_with(c))
