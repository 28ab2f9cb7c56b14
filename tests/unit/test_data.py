from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelops.errors import DataError
from modelops.training.data import (
    bundled_path,
    frame_digest,
    infer_task,
    read_table,
    resolve_dataset,
    split,
    validate_training_data,
)
from tests.conftest import load_example


@pytest.mark.parametrize(
    "values, expected",
    [
        ([1.5, 2.25, 3.125, 4.0625] * 10, "regression"),
        (["a", "b"] * 10, "binary"),
        ([0, 1] * 10, "binary"),
        (["a", "b", "c"] * 10, "multiclass"),
        ([0, 1, 2] * 100, "multiclass"),
        (list(range(100)), "regression"),
        ([3.7, 5.2] * 5, "regression"),  # two measurements in a tiny file are not two classes
        ([1.0, 0.0] * 5, "binary"),
    ],
)
def test_infer_task(values, expected):
    assert infer_task(pd.Series(values)) == expected


def test_validate_resolves_auto(frame):
    assert validate_training_data(frame(), "y", "auto", "f.csv") == "regression"
    assert validate_training_data(frame(task="binary"), "y", "auto", "f.csv") == "binary"


@pytest.mark.parametrize(
    "mutate, task, message",
    [
        (lambda df: df.drop(columns="y"), "auto", "target column 'y' not found"),
        (lambda df: df.iloc[0:0], "auto", "no rows to train on"),
        (lambda df: df.assign(y=5.0), "auto", "is constant"),
        (
            lambda df: df.assign(y=["x", "z"] * (len(df) // 2)),
            "regression",
            "needs a numeric target",
        ),
        (lambda df: df.assign(y=[None] + [1.0] * (len(df) - 1)), "auto", "missing value"),
        (lambda df: df[["y"]], "auto", "no feature columns"),
    ],
)
def test_validate_rejects_bad_data(frame, mutate, task, message):
    with pytest.raises(DataError, match=message) as err:
        validate_training_data(mutate(frame()), "y", task, "some/file.csv")
    assert "some/file.csv" in str(err.value)


def test_validate_rejects_rare_class(frame):
    df = frame(task="binary")
    df.loc[df.index[:2], "y"] = "rare"
    with pytest.raises(DataError, match=r"\{'rare': 2\}.*fewer than 3"):
        validate_training_data(df, "y", "auto", "f.csv")
    df.loc[df.index[2], "y"] = "rare"  # three rows: trained (with fewer folds, see test_search)
    assert validate_training_data(df, "y", "auto", "f.csv") == "multiclass"


def test_read_table_errors(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty.csv: file is empty"):
        read_table(empty)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"this is not parquet")
    with pytest.raises(DataError, match="bad.parquet: cannot be read"):
        read_table(bad)


def test_read_table_csv_and_parquet_agree(tmp_path, frame):
    df = frame()
    df.to_csv(tmp_path / "d.csv", index=False)
    df.to_parquet(tmp_path / "d.parquet", index=False)
    a, b = read_table(tmp_path / "d.csv"), read_table(tmp_path / "d.parquet")
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_resolve_dataset():
    path, target = resolve_dataset("diamonds", "")
    assert path.exists() and target == "price"
    with pytest.raises(DataError, match="--target is required"):
        resolve_dataset("mine.csv", "")


def test_split_is_fixed_by_seed_and_stratified(frame):
    df = frame(n=300, task="binary")
    a = split(df, "y", "binary", 0.2, seed=1)
    b = split(df, "y", "binary", 0.2, seed=1)
    c = split(df, "y", "binary", 0.2, seed=2)
    assert list(a.X_test.index) == list(b.X_test.index)
    assert list(a.X_test.index) != list(c.X_test.index)
    share = df["y"].value_counts(normalize=True)
    test_share = a.y_test.value_counts(normalize=True)
    assert (share - test_share).abs().max() < 0.02


def test_frame_digest_tracks_content(frame):
    df = frame()
    assert frame_digest(df) == frame_digest(df.copy())
    changed = df.copy()
    changed.loc[changed.index[0], "num_a"] += 1
    assert frame_digest(df) != frame_digest(changed)


def test_demo_periods_drift_apart_and_hide_the_target(tmp_path):
    make_periods = load_example("demo_data").make_periods

    frame = pd.read_csv(bundled_path("diamonds")).head(4000)
    data = make_periods(frame, tmp_path, rows=500, seed=1)
    old, labelled, recent = (pd.read_csv(p) for p in (data.old, data.recent_labelled, data.recent))
    assert len(old) == len(labelled) == len(recent) == 500
    assert old["carat"].max() < 1.0 < labelled["carat"].max()
    assert "price" in labelled and "price" not in recent


@pytest.mark.parametrize("column", ["x", "y"])
def test_infinite_values_stop_training_in_start_naming_the_column(column):
    from modelops.training.data import validate_training_data

    df = pd.DataFrame({"x": np.arange(40.0), "y": np.arange(40.0) * 2})
    df.loc[7, column] = -np.inf
    with pytest.raises(
        DataError, match=rf"f.csv: column\(s\) \[.{column}.\] hold inf.*data rows 7,"
    ):
        validate_training_data(df, "y", "auto", "f.csv")


def test_a_user_error_ends_a_step_with_its_message_and_a_bug_keeps_its_traceback():
    from modelops.errors import user_errors

    @user_errors
    def start(kind):
        if kind == "user":
            raise DataError("data/x.csv: target column 'price' not found")
        raise KeyError("a bug")

    with pytest.raises(SystemExit, match=r"^error: data/x.csv: target column 'price' not found$"):
        start("user")
    with pytest.raises(KeyError):
        start("bug")
    assert start.__name__ == "start"  # Metaflow finds steps by name


def test_nested_parquet_columns_are_refused_for_training_by_name(tmp_path, frame):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modelops.training.data import read_table

    table = pa.Table.from_pandas(frame(n=20), preserve_index=False)
    table = table.append_column("tags", pa.array([[i] for i in range(20)]))
    pq.write_table(table, tmp_path / "t.parquet")
    with pytest.raises(DataError, match=r"'tags' \(list<.*nested values"):
        read_table(tmp_path / "t.parquet")


def test_bad_rows_are_named_so_that_a_user_finds_them_in_the_file(tmp_path, frame):
    """A new user looked for 'row 1136' at line 1136 of the CSV: the message says how rows
    count, and by that count the named rows are the bad lines of the file."""
    df = frame(30)
    df.loc[[3, 7], "y"] = None
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match="missing value") as err:
        validate_training_data(read_table(path), "y", "auto", str(path))
    message = str(err.value)
    assert "data rows 3, 7, counted from 0 below the header" in message
    lines = path.read_text().splitlines()
    for row in (3, 7):  # the line number is the row + 2 (1-based, after the header)
        assert lines[row + 1].split(",")[list(df.columns).index("y")] == ""
    many = frame(30).assign(y=None)
    with pytest.raises(DataError, match=r"data rows 0, 1, .*, 9 and 20 more"):
        validate_training_data(many, "y", "auto", "f.csv")


@pytest.mark.parametrize("name", ["prediction", "model_version", "proba_1"])
def test_training_refuses_feature_names_that_scoring_writes(frame, name):
    df = frame().rename(columns={"num_a": name})
    with pytest.raises(DataError, match=rf"\['{name}'\] have the names scoring writes"):
        validate_training_data(df, "y", "regression", "t.csv")


@pytest.mark.parametrize("task, size", [("regression", 0.05), ("binary", 0.05), ("binary", 0.95)])
def test_a_holdout_too_small_for_the_table_is_a_clear_error(frame, task, size):
    df = frame(20, task)
    with pytest.raises(DataError, match=r"t.csv: --test-size .* of 20 rows holds out .*use a"):
        split(df, "y", task, size, 0, "t.csv")
    assert len(split(df, "y", task, 0.2, 0, "t.csv").y_test) == 4


@pytest.mark.parametrize(
    "text, delimiter, decimal, quote",
    [
        ("a,b,y\n1.5,x,2\n2.5,y,3\n", ",", ".", '"'),
        ("a;b;y\n1,5;x;2\n2,5;y;3\n", ";", ",", '"'),
        ("a;b;y\n1.5;x;2\n2.5;y;3\n", ";", ".", '"'),
        ("a\tb\ty\n1.5\tx\t2\n2.5\ty\t3\n", "\t", ".", '"'),
        ("a|b|y\n1,5|x|2\n2,5|y|3\n", "|", ",", '"'),
        # statsmodels' anes96.csv: a tab-separated header quoted with apostrophes
        ("'a'\t'b'\t'y'\n1.5\t'x'\t2\n2.5\ty\t3\n", "\t", ".", "'"),
        ('"a","b","y"\n1.5,"x",2\n2.5,"y",3\n', ",", ".", '"'),
    ],
)
def test_delimiter_decimal_comma_and_quote_are_detected(tmp_path, text, delimiter, decimal, quote):
    from modelops.training.data import sniff_dialect

    assert sniff_dialect(text) == (d := sniff_dialect(text, delimiter))
    assert (d.delimiter, d.decimal, d.quotechar) == (delimiter, decimal, quote)
    path = tmp_path / "t.csv"
    path.write_text(text)
    notes: list[str] = []
    df = read_table(path, notes=notes)
    assert list(df.columns) == ["a", "b", "y"] and df["a"].tolist() == [1.5, 2.5]
    assert df["b"].tolist() == ["x", "y"]
    assert bool(notes) == ((delimiter, decimal, quote) != (",", ".", '"'))


def test_the_delimiter_can_be_forced(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("a;b\tc\n1;2\t3\n4;5\t6\n")
    assert list(read_table(path, delimiter="tab").columns) == ["a;b", "c"]
    assert list(read_table(path, delimiter=";").columns) == ["a", "b\tc"]
    with pytest.raises(DataError, match="--delimiter 'ab': one character"):
        read_table(path, delimiter="ab")


@pytest.mark.parametrize(
    "y, task, message",
    [
        ([str(i * 1.5) for i in range(30)], "regression", r"numbers stored as text \(such as"),
        ([f"2024-01-{i + 1:02d}" for i in range(30)], "auto", r"30 of the 30 values .* not a"),
        ([f"id{i}" for i in range(30)], "binary", r"such as \['id0', 'id1', 'id10'|such as"),
    ],
)
def test_target_mistakes_get_a_short_message_that_says_what_to_do(y, task, message):
    df = pd.DataFrame({"a": range(30), "y": y})
    with pytest.raises(DataError, match=message) as err:
        validate_training_data(df, "y", task, "t.csv")
    assert len(str(err.value)) < 400


def test_a_parquet_file_with_a_duplicated_column_is_named(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table([pa.array([1, 2]), pa.array([3, 4]), pa.array([5, 6])], names=["a", "a", "y"])
    pq.write_table(table, tmp_path / "t.parquet")
    with pytest.raises(DataError, match=r"t.parquet: duplicate column names \['a'\]"):
        read_table(tmp_path / "t.parquet")


def _dated(frame, n=200, task="regression"):
    df = frame(n, task)
    rng = np.random.default_rng(1)
    df["when"] = (
        pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.permutation(n), unit="D")
    ).strftime("%Y-%m-%d")
    df["store"] = [f"s{i % 10}" for i in range(n)]
    return df


def test_a_time_column_holds_out_the_latest_rows(frame):
    df = _dated(frame)
    parts = split(df, "y", "regression", 0.2, 0, "t.csv", time_column="when")
    assert len(parts.X_test) == 40
    assert parts.X_train["when"].max() < parts.X_test["when"].min()  # nothing from the future
    assert parts.X_train["when"].is_monotonic_increasing  # training rows in time order


def test_a_group_column_never_puts_a_group_on_both_sides(frame):
    df = _dated(frame)
    parts = split(df, "y", "regression", 0.3, 0, "t.csv", group_column="store")
    assert not set(parts.X_train["store"]) & set(parts.X_test["store"])
    with pytest.raises(DataError, match="has 2 groups"):
        split(
            df.assign(store=["a", "b"] * 100),
            "y",
            "regression",
            0.3,
            0,
            "t.csv",
            group_column="store",
        )


def test_time_and_group_folds(frame):
    from modelops.training.fit import make_folds

    df = _dated(frame, task="binary")
    parts = split(df, "y", "binary", 0.2, 0, "t.csv", group_column="store")
    folds = make_folds(
        parts.y_train, "binary", n_folds=3, repeats=2, seed=0, groups=parts.X_train["store"]
    )
    assert folds.description == "2x3-fold grouped" and len(folds.splits) == 6
    stores = parts.X_train["store"].to_numpy()
    for tr, va in folds.splits:
        assert not set(stores[tr]) & set(stores[va])
    timed = split(df, "y", "binary", 0.2, 0, "t.csv", time_column="when")
    folds = make_folds(timed.y_train, "binary", n_folds=4, repeats=3, seed=0, ordered=True)
    assert folds.description == "4-fold forward-chaining"  # no repeats: nothing to reshuffle
    for tr, va in folds.splits:
        assert list(va) == list(range(va[0], va[-1] + 1))  # one contiguous block of time
        assert tr.max() < va.min() and list(tr) == list(range(va[0]))  # fitted on the past only
    first = folds.splits[0][0]
    assert not set(first) & set(folds.scored)  # the first block is only trained on
    assert len(folds.scored) == len(timed.y_train) - len(first)


def test_a_time_column_that_is_not_a_time_is_refused(frame):
    df = _dated(frame).assign(when="soon")
    with pytest.raises(DataError, match="--time-column 'when' holds neither dates nor numbers"):
        split(df, "y", "regression", 0.2, 0, "t.csv", time_column="when")


def test_stopping_rows_never_take_a_class_away_from_the_rows_a_booster_fits():
    """A class with one row in a fold's training rows (a forward-chaining fold's early block)
    stays in the fitted rows: boosters refuse a stopping set with a class they never saw."""
    from modelops.training.fit import _stopping_rows

    y = pd.Series(["a"] * 30 + ["b"] * 30 + ["fog"])
    tr = np.arange(len(y))
    for seed in range(40):
        rows = _stopping_rows(y, "multiclass", tr, 0.2, seed)
        fitted = set(y.iloc[np.setdiff1d(tr, rows)])
        assert set(y.iloc[rows]) <= fitted and len(rows) > 0
    one = _stopping_rows(pd.Series(["a", "a", "fog"]), "multiclass", np.arange(3), 0.2, 0)
    assert list(one) != [2]
