"""Load, validate and split training data.

Validation happens before any model is fitted, so a bad file costs seconds, not a training
run, and the error says which file, which column and what was expected.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from modelops import paths
from modelops.dialect import Dialect, head_text, parse_delimiter, sniff_dialect
from modelops.errors import DataError
from modelops.schema import OUTPUT_COLUMNS, PROBA_PREFIX, Task, output_name_clashes

log = logging.getLogger(__name__)

# name -> (file in the project's data folder, target)
BUNDLED = {
    "diamonds": ("diamonds.csv.gz", "price"),
    "breast_cancer": ("breast_cancer.csv", "diagnosis"),
}


def bundled_path(name: str) -> Path:
    """The file of a bundled dataset (see `modelops.paths`)."""
    return paths.data_dir() / BUNDLED[name][0]


def resolve_dataset(data: str, target: str | None) -> tuple[Path, str]:
    """Map a bundled dataset name (or a path) and an optional target to (path, target)."""
    if data in BUNDLED:
        return bundled_path(data), target or BUNDLED[data][1]
    if not target:
        raise DataError(f"{data}: --target is required for a dataset that is not bundled")
    return Path(data), target


def read_table(
    path: Path | str, delimiter: str = "", notes: list[str] | None = None
) -> pd.DataFrame:
    """Read CSV (optionally compressed; comma, semicolon, tab or pipe separated, decimal point
    or comma, detected unless `delimiter` is given) or Parquet, turning every failure into a
    DataError. What was detected is added to `notes`."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    suffixes = [s.lower() for s in path.suffixes]
    try:
        if ".parquet" in suffixes or ".pq" in suffixes:
            _refuse_nested(path)
            return pd.read_parquet(path)
        dialect = sniff_dialect(head_text(path), parse_delimiter(delimiter))
        if dialect != Dialect() and notes is not None:
            notes.append(
                f"{path.name}: read as {dialect.describe()} (--delimiter to choose another)"
            )
        return pd.read_csv(
            path, sep=dialect.delimiter, decimal=dialect.decimal, quotechar=dialect.quotechar
        )
    except pd.errors.EmptyDataError as err:
        raise DataError(f"{path}: file is empty (no header, no rows)") from err
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as err:
        raise DataError(f"{path}: cannot be read as CSV or Parquet: {err}") from err


def _refuse_nested(path: Path) -> None:
    """List, struct and map columns are not features a model can use: say which, up front."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    dupes = sorted({n for n in schema.names if schema.names.count(n) > 1})
    if dupes:
        raise DataError(f"{path}: duplicate column names {dupes}; rename them before training")
    nested = [f"{f.name!r} ({f.type})" for f in schema if pa.types.is_nested(f.type)]
    if nested:
        raise DataError(
            f"{path}: column(s) {', '.join(nested)} hold nested values (lists, structs or "
            "maps), which a model cannot use as features; flatten them into scalar columns or "
            "drop them before training"
        )


def infer_task(y: pd.Series) -> Task:
    """Regression for a many-valued or fractional numeric target, classification otherwise."""
    return explain_task(y)[0]


def explain_task(y: pd.Series) -> tuple[Task, str]:
    """The task `--task auto` infers from the target, and why (printed and in the card)."""
    n_unique = y.nunique(dropna=True)
    if pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y):
        task: Task = "binary" if n_unique == 2 else "multiclass"
        return task, f"the target is text/boolean with {n_unique} distinct values"
    is_integral = bool(np.all(np.mod(y.dropna().to_numpy(dtype=float), 1) == 0))
    if not is_integral:  # 3.7 and 5.2 are measurements, even when a tiny file has only two
        return "regression", f"the target is fractional numbers ({n_unique} distinct values)"
    if n_unique == 2:
        return "binary", "the target is integers with 2 distinct values"
    if n_unique <= 20 and n_unique < 0.05 * len(y):
        return "multiclass", f"the target is integers with only {n_unique} distinct values"
    return "regression", f"the target is integers with {n_unique} distinct values"


def _rows(index: pd.Index, shown: int = 10) -> str:
    """Which rows, as a user finds them in the file: positions count data rows from 0 below the
    header (a CSV's line number is the position + 2); a new user looked for them by line."""
    first = ", ".join(str(i) for i in index[:shown].tolist())
    more = f" and {len(index) - shown} more" if len(index) > shown else ""
    return f"data rows {first}{more}, counted from 0 below the header"


def validate_training_data(df: pd.DataFrame, target: str, task: str, source: str) -> Task:
    """Check the frame can train a model for `task`; return the concrete task ('auto' resolved)."""
    if df.empty or len(df.columns) == 0:
        raise DataError(f"{source}: no rows to train on (header only or empty file)")
    if target not in df.columns:
        raise DataError(
            f"{source}: target column {target!r} not found; "
            f"columns are {list(map(str, df.columns))}"
        )
    if len(df.columns) < 2:
        raise DataError(f"{source}: only the target column {target!r}; no feature columns")
    clashes = output_name_clashes(c for c in df.columns if c != target)
    if clashes:
        raise DataError(
            f"{source}: column(s) {clashes} have the names scoring writes its outputs under "
            f"({', '.join(OUTPUT_COLUMNS)}, {PROBA_PREFIX}<class>); rename them, or every "
            "predictions file would lose their values"
        )
    y = df[target]
    missing = int(y.isna().sum())
    if missing:
        raise DataError(
            f"{source}: target column {target!r} has {missing} missing value(s) "
            f"({_rows(y.index[y.isna()])}); drop or fill them before training"
        )
    numeric = df.select_dtypes("number")
    infinite = np.isinf(numeric.to_numpy(dtype=float))
    if infinite.any():
        cols = [str(c) for c, n in zip(numeric.columns, infinite.sum(axis=0), strict=True) if n]
        rows = _rows(numeric.index[infinite.any(axis=1)])
        raise DataError(
            f"{source}: column(s) {cols} hold inf/-inf values ({rows}); no model can "
            "learn from them: drop those rows or replace the values (for example with empty "
            "cells, which every family treats as missing)"
        )
    if y.nunique() < 2:
        raise DataError(
            f"{source}: target column {target!r} is constant ({y.iloc[0]!r}); nothing to learn"
        )
    resolved: Task = infer_task(y) if task == "auto" else task  # type: ignore[assignment]
    if resolved not in ("regression", "binary", "multiclass"):
        raise DataError(f"--task must be auto, regression, binary or multiclass, not {task!r}")
    if resolved == "regression":
        if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            bad = y[pd.to_numeric(y, errors="coerce").isna()]
            if bad.empty:  # every value reads as a number: they are stored as text
                raise DataError(
                    f"{source}: regression needs a numeric target, but column {target!r} holds "
                    f"numbers stored as text (such as {y.head(3).tolist()}); convert the column "
                    "to numbers (for example pd.to_numeric) before training"
                )
            raise DataError(
                f"{source}: regression needs a numeric target, but column {target!r} has "
                f"non-numeric values such as {bad.head(3).tolist()} ({_rows(bad.index, 5)})"
            )
    else:
        counts = y.value_counts()
        small = counts[counts < 3]
        if not small.empty and len(small) > max(10, len(counts) // 2):
            raise DataError(
                f"{source}: {len(small)} of the {len(counts)} values of target {target!r} occur "
                f"fewer than 3 times (such as {list(small.index[:5])}): a target with a "
                "different value on almost every row (a date, an ID, a measurement) is not a "
                "class label; use --task regression for numbers, or choose another target"
            )
        if not small.empty:
            raise DataError(
                f"{source}: class(es) {small.to_dict()} of target {target!r} have fewer than 3 "
                "rows; a class needs rows in the holdout and in at least two training folds "
                "(add rows of those classes, merge them, or drop them)"
            )
    return resolved


@dataclass
class Split:
    """Train and holdout frames; the holdout is fixed by the seed so runs compare."""

    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series


def split(
    df: pd.DataFrame,
    target: str,
    task: Task,
    test_size: float,
    seed: int,
    source: str = "data",
    *,
    time_column: str = "",
    group_column: str = "",
) -> Split:
    """Hold out `test_size` of the rows: stratified for classification; with `time_column`,
    the latest rows (the training rows come first, in time order); with `group_column`, whole
    groups, so no group is on both sides."""
    X = df.drop(columns=[target])
    y = df[target]
    n_test = math.ceil(test_size * len(df))
    classes = y.nunique() if task != "regression" else 0
    need = max(2, classes)  # a metric needs two rows; a stratified holdout one per class
    if n_test < need or len(df) - n_test < need:
        low = need / len(df)
        raise DataError(
            f"{source}: --test-size {test_size:g} of {len(df)} rows holds out {n_test} and "
            f"trains on {len(df) - n_test}; each side needs at least {need} rows"
            + (f" (one per class: {classes})" if classes else "")
            + f"; use a --test-size from {low:.2f} to {1 - low:.2f}, or add rows"
        )
    if time_column:
        order = np.argsort(time_order(df[time_column], time_column, source), kind="stable")
        train, test = order[: len(df) - n_test], order[len(df) - n_test :]
        return Split(X.iloc[train], y.iloc[train], X.iloc[test], y.iloc[test])
    if group_column:
        from sklearn.model_selection import GroupShuffleSplit

        groups = df[group_column].astype("string").fillna("<missing>")
        if groups.nunique() < 4:
            raise DataError(
                f"{source}: --group-column {group_column!r} has {groups.nunique()} groups; a "
                "grouped holdout and grouped folds need at least 4"
            )
        gss = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        train, test = next(gss.split(X, y, groups))
        return Split(X.iloc[train], y.iloc[train], X.iloc[test], y.iloc[test])
    X_tr, X_te, y_tr, y_te = train_test_split(
        X,
        y,
        test_size=test_size,
        random_state=seed,
        stratify=y if task != "regression" else None,
    )
    return Split(X_tr, y_tr, X_te, y_te)


def time_order(s: pd.Series, column: str, source: str) -> np.ndarray:
    """Sortable values of a time column: dates (ISO text or datetimes) or numbers."""
    from modelops.schema import parse_datetimes

    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        values = s.to_numpy(dtype=float)
    else:
        when = parse_datetimes(s)
        if when.isna().mean() > 0.5:
            raise DataError(
                f"{source}: --time-column {column!r} holds neither dates nor numbers (such as "
                f"{s.dropna().astype(str).head(3).tolist()})"
            )
        values = when.astype("int64").to_numpy(dtype=float)
        values[when.isna().to_numpy()] = np.nan
    missing = np.isnan(values)
    if missing.any():
        raise DataError(
            f"{source}: --time-column {column!r} is missing or unreadable in "
            f"{int(missing.sum())} rows ({_rows(s.index[missing], 5)}); every row needs a time"
        )
    return values


def sample_rows(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """A reproducible subset for fast runs (0 keeps everything)."""
    if n <= 0 or n >= len(df):
        return df
    return df.sample(n=n, random_state=seed).reset_index(drop=True)


def frame_digest(df: pd.DataFrame) -> str:
    """SHA-256 of the frame's content, so a model records exactly which data trained it."""
    h = hashlib.sha256()
    h.update(",".join(map(str, df.columns)).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()
