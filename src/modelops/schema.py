"""The model's input contract: shared by validation, features, the registry and scoring.

The schema is inferred from the training frame, stored with every registered model and
checked against every file the model scores, so that a model never silently sees columns
it was not trained on.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from modelops.errors import SchemaError

Kind = Literal["numeric", "categorical", "datetime"]
# What the model learns from a date column: numbers a tree can split on (timezones as UTC).
DATE_PARTS = ("year", "month", "day", "dayofweek", "hour")
Task = Literal["regression", "binary", "multiclass"]


@dataclass(frozen=True)
class Column:
    """One input column: its name, how the model treats it and what it saw in training."""

    name: str
    kind: Kind
    dtype: str
    categories: tuple[str, ...] = ()
    required: bool = True
    # a date column's parts that vary in training (empty: all of DATE_PARTS, as registered
    # before constant parts were left out)
    parts: tuple[str, ...] = ()

    @property
    def date_parts(self) -> tuple[str, ...]:
        return self.parts or DATE_PARTS


@dataclass(frozen=True)
class Schema:
    """Input columns, target and task of a model; serialisable to plain JSON."""

    columns: tuple[Column, ...]
    target: str
    task: Task
    classes: tuple[Any, ...] = ()
    ignored: tuple[str, ...] = ()  # training columns that are not features (IDs): carried only

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def numeric(self) -> list[str]:
        return [c.name for c in self.columns if c.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [c.name for c in self.columns if c.kind == "categorical"]

    @property
    def datetime(self) -> list[str]:
        return [c.name for c in self.columns if c.kind == "datetime"]

    @property
    def date_parts(self) -> list[str]:
        """The numeric features the pipeline derives from the datetime columns."""
        return [
            f"{c.name}_{part}"
            for c in self.columns
            if c.kind == "datetime"
            for part in c.date_parts
        ]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["columns"] = [
            asdict(c) | {"categories": list(c.categories), "parts": list(c.parts)}
            for c in self.columns
        ]
        d["classes"] = [_jsonable(c) for c in self.classes]
        d["ignored"] = list(self.ignored)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Schema:
        cols = tuple(
            Column(
                name=c["name"],
                kind=c["kind"],
                dtype=c["dtype"],
                categories=tuple(c.get("categories", ())),
                required=c.get("required", True),
                parts=tuple(c.get("parts", ())),
            )
            for c in d["columns"]
        )
        return cls(
            columns=cols,
            target=d["target"],
            task=d["task"],
            classes=tuple(d.get("classes", ())),
            ignored=tuple(d.get("ignored", ())),
        )

    def compatible_with(self, other: Schema) -> list[str]:
        """Why a model with schema `self` cannot score data of `other` (empty: it can)."""
        problems = []
        if self.task != other.task:
            problems.append(f"task {self.task!r} != {other.task!r}")
        if self.target != other.target:
            problems.append(f"target {self.target!r} != {other.target!r}")
        missing = [c for c in self.required if c not in other.feature_names]
        if missing:
            problems.append(f"columns {missing} are missing from the new data")
        return problems


# The columns scoring adds beside the input's: an input column of that name would be replaced.
OUTPUT_COLUMNS = ("prediction", "model_name", "model_version")
PROBA_PREFIX = "proba_"


def output_name_clashes(columns: Any) -> list[str]:
    """The given column names that scoring writes its own outputs under."""
    return [str(c) for c in columns if str(c) in OUTPUT_COLUMNS or str(c).startswith(PROBA_PREFIX)]


# Cells that mean "missing", in a CSV file and in a JSON record alike: pandas' defaults, which
# is how the training file was read (so "NA" is missing at scoring as it was in training).
NULL_TEXT = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
     "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)  # fmt: skip
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)


def read_number(text: str) -> float | None:
    """A numeric cell written as text, one rule for files and requests: trimmed; a NULL_TEXT
    token is missing; otherwise plain ASCII decimal notation (`1.5`, `-2`, `.5`, `1e3`) or a
    ValueError: no `1_000`, full-width digits, `0x10`, decimal commas or inf."""
    trimmed = text.strip()
    if trimmed in NULL_TEXT:
        return None
    if trimmed.lower().lstrip("+-") in ("inf", "infinity"):
        raise ValueError(f"{text!r} is not a finite number")
    if not _NUMBER.fullmatch(trimmed):
        raise ValueError(f"{text!r} is not a number")
    value = float(trimmed)
    if not np.isfinite(value):  # 1e999
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _jsonable(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def is_id_like(s: pd.Series, min_rows: int = 20) -> bool:
    """Text whose every value is different (an order number, a customer key): a category
    per row generalises to nothing and would store every training value in the schema."""
    values = s.dropna()
    return (
        not pd.api.types.is_numeric_dtype(s)
        and not pd.api.types.is_bool_dtype(s)
        and len(values) >= min_rows
        and values.nunique() == len(values)
    )


# `id`, `uuid`, `row_id`, `customer_id`, `order-no`, `CustomerID`, `accountKey`, `Unnamed: 0`
_ID_WORD = r"id|uuid|guid|key|idx|index|no|nr|num|number"
_ID_NAME = re.compile(rf"(^|[_\s.-])({_ID_WORD})$|^(row|rowid|unnamed: ?\d+)$", re.IGNORECASE)
_ID_CAMEL = re.compile(r"[a-z0-9](Id|ID|Uuid|UUID|Key|No|Nr|Num)$")


def looks_like_id_name(name: str) -> bool:
    """Names people give identifiers: `id`, `*_id`, `customerId`, `uuid`, `key`, `order_no`."""
    return bool(_ID_NAME.search(name.strip()) or _ID_CAMEL.search(name.strip()))


def numeric_id_reason(s: pd.Series, name: str, min_rows: int = 20) -> str | None:
    """Why a numeric column is an identifier rather than a measurement, or None.

    Integers that are (nearly) all different and either carry an identifier's name, run in
    sequence down the file, or fill their range like a shuffled row number. A model learns
    nothing from them that holds for the next row, and if rows were numbered after sorting by
    the label, they leak it (every family scored ROC AUC >= 0.9997 on a table with such a
    `respondent_id`).
    """
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return None
    values = s.dropna()
    n = len(values)
    if n < min_rows:
        return None
    as_float = values.to_numpy(dtype=float)
    if not np.all(np.isfinite(as_float)) or not np.all(np.mod(as_float, 1) == 0):
        return None
    distinct = values.nunique() / n
    if looks_like_id_name(name) and distinct >= 0.9:
        return f"named like an identifier, {distinct:.0%} distinct integers"
    if distinct < 1.0:
        return None
    if values.is_monotonic_increasing or values.is_monotonic_decreasing:
        return "every value different, in sequence down the file"
    if n >= 100 and as_float.max() - as_float.min() + 1 <= 1.1 * n:
        return (
            f"every value different, filling {as_float.min():.0f}..{as_float.max():.0f} "
            "like a row number"
        )
    return None


def id_columns(df: pd.DataFrame, target: str) -> dict[str, str]:
    """Every column (but the target) that looks like an identifier, with the reason."""
    out = {}
    for name in df.columns:
        if name == target:
            continue
        s = df[name]
        if is_datetime_like(s):  # timestamps are all different too, and are features
            continue
        if is_id_like(s):
            out[str(name)] = "text, every value different"
        elif reason := numeric_id_reason(s, str(name)):
            out[str(name)] = reason
    return out


def parse_datetimes(s: pd.Series) -> pd.Series:
    """ISO-8601 dates/times (any offset, as UTC); anything else is NaT."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return pd.to_datetime(s, utc=True)
    return pd.to_datetime(s.astype("string"), errors="coerce", format="ISO8601", utc=True)


def unparsable_dates(s: pd.Series) -> np.ndarray:
    """Positions of cells that hold text but no ISO-8601 date. Blank and missing cells are
    missing (the model has learned from missing dates); 'not a date' is a wrong value, which
    would otherwise be scored as a missing one without a word."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return np.array([], dtype=int)
    text = s.astype("string").str.strip()
    given = (text.notna() & (text != "")).fillna(False).to_numpy(dtype=bool)
    return np.flatnonzero(given & parse_datetimes(s).isna().to_numpy())


def varying_parts(s: pd.Series) -> tuple[str, ...]:
    """The date parts that take more than one value in `s` (a date-only column has no hour;
    a constant feature only costs fitting time). At least the year, so the column counts."""
    when = parse_datetimes(s)
    parts = tuple(p for p in DATE_PARTS if getattr(when.dt, p).nunique(dropna=True) > 1)
    return parts or ("year",)


def is_datetime_like(s: pd.Series, sample: int = 1000) -> bool:
    """A datetime column, or text of which 95% are ISO-8601 dates ('2024-01-31', with or
    without a time): as categories they would be one per day and unseen after training."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return True
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return False
    values = s.dropna().astype(str).head(sample)
    if len(values) < 5 or not values.str.contains(r"^\d{4}-\d{2}-\d{2}", regex=True).all():
        return False
    return bool(parse_datetimes(values).notna().mean() >= 0.95)


def infer_schema(
    df: pd.DataFrame, target: str, task: Task, ignore: Collection[str] | None = None
) -> Schema:
    """The contract of a training frame: numeric columns stay numeric, ISO dates become date
    parts, other text is categories. Columns in `ignore` are not features (`ignored`, carried
    through at scoring); by default those that look like identifiers (`id_columns`)."""
    ignore = id_columns(df, target) if ignore is None else ignore
    cols, ignored = [], []
    for name in df.columns:
        if name == target:
            continue
        s = df[name]
        if str(name) in ignore:
            ignored.append(str(name))
            continue
        if is_datetime_like(s):
            cols.append(Column(str(name), "datetime", str(s.dtype), parts=varying_parts(s)))
            continue
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            cats = tuple(sorted({str(v).strip() for v in s.dropna().unique()} - {""}))
            cols.append(Column(str(name), "categorical", str(s.dtype), cats))
        else:
            cols.append(Column(str(name), "numeric", str(s.dtype)))
    classes: tuple[Any, ...] = ()
    if task != "regression":
        classes = tuple(_jsonable(c) for c in sorted(df[target].dropna().unique(), key=str))
    return Schema(
        columns=tuple(cols), target=target, task=task, classes=classes, ignored=tuple(ignored)
    )


def check_columns(df: pd.DataFrame, schema: Schema, source: str) -> None:
    """Fail before scoring when a required column is missing; extra columns are allowed."""
    missing = [c for c in schema.required if c not in df.columns]
    if missing:
        raise SchemaError(
            f"{source}: missing required column(s) {missing}; the model needs {schema.required} "
            f"(found {list(map(str, df.columns))})"
        )
