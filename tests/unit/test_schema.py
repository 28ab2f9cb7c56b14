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


def test_constant_date_parts_are_left_out_and_old_schemas_keep_every_part():
    import pandas as pd

    from modelops.features import coercer
    from modelops.schema import DATE_PARTS, Schema, infer_schema

    df = pd.DataFrame(
        {"day": pd.date_range("2024-01-01", periods=40).strftime("%Y-%m-%d"), "y": range(40)}
    )
    schema = infer_schema(df, "y", "regression")
    (col,) = schema.columns
    assert col.date_parts == ("month", "day", "dayofweek")  # one year, no hours
    assert Schema.from_dict(schema.to_dict()) == schema
    out = coercer(schema).fit(df).transform(df)
    assert list(out.columns) == ["day_month", "day_day", "day_dayofweek"]
    old = schema.to_dict()
    del old["columns"][0]["parts"]  # a schema registered before parts were recorded
    assert Schema.from_dict(old).date_parts == [f"day_{p}" for p in DATE_PARTS]
