"""JSON records -> a frame the model's pipeline scores, with the same contract as ScoreFlow.

A body that is not records, or records that all lack a required column, is the client's
mistake as a whole (HTTP 422, naming the column). A value that cannot be read as its column's
type is that row's problem only: the row is returned as rejected with its index and reason and
the other rows are scored, as a bad line in a batch file is. Values are read as the batch
reader reads CSV cells: numeric columns as float64 (numbers, or text that parses as one; not
inf/NaN), date columns as ISO-8601 text, every other column as trimmed text (blank is missing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelops.errors import DataError
from modelops.schema import NULL_TEXT, Schema, read_number, unparsable_dates


class RequestError(DataError):
    """The request as a whole does not follow the contract (HTTP 422)."""


@dataclass
class Rejected:
    index: int
    reason: str


@dataclass
class Batch:
    """Rows that can be scored (`frame`, with `index` giving each row's place in the request)
    and the rows that cannot (`rejected`); together they are every record of the request."""

    frame: pd.DataFrame
    index: list[int]
    rejected: list[Rejected] = field(default_factory=list)


def as_records(body: Any) -> list[dict[str, Any]]:
    """One record (an object) or many (an array of objects), or {"records": [...]}."""
    if isinstance(body, dict) and set(body) == {"records"}:
        body = body["records"]
    if isinstance(body, dict):
        return [body]
    if isinstance(body, list) and not body:
        raise RequestError("the body holds no records (an empty array): send at least one")
    if not isinstance(body, list):
        raise RequestError(
            "the body must be a JSON object (one record) or a non-empty array of objects "
            f"(records), not {_kind(body)}"
        )
    bad = [i for i, r in enumerate(body) if not isinstance(r, dict)]
    if bad:
        raise RequestError(
            f"the body must be an array of objects (records); items {bad[:10]} are not objects "
            f"(item {bad[0]} is {_kind(body[bad[0]])})"
        )
    return body


def _kind(v: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(v), "null" if v is None else "a number" if isinstance(v, int | float) else "?"
    )


def _number(v: Any) -> float | None:
    """A numeric cell: None for missing, a float, or ValueError with what is wrong."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise ValueError(f"{_kind(v)} is not a number")
    if isinstance(v, str):
        return read_number(v)  # the batch reader's rule
    else:
        try:
            x = float(v)
        except OverflowError:  # an integer with hundreds of digits
            raise ValueError(f"{str(v)[:20]}... is too large for a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{v!r} is not a finite number")
    return x


def _text(v: Any) -> str | None:
    """A categorical or date cell: trimmed text, None for missing; numbers as they are written."""
    if v is None:
        return None
    if isinstance(v, dict | list):
        raise ValueError(f"{_kind(v)} is not a scalar value")
    if isinstance(v, bool):
        text = "True" if v else "False"
    elif isinstance(v, float) and v.is_integer():
        text = str(int(v))
    else:
        text = str(v).strip()
    return None if text in NULL_TEXT else text


def _small_int(v: Any) -> bool:
    """An int a float can hold (one of 400 digits overflows, and is that row's problem)."""
    return type(v) is int and v.bit_length() < 1000


def _numbers(values: list[Any], col: str, problems: dict[int, list[str]]) -> np.ndarray:
    """A numeric column; JSON numbers and nulls (the usual request) are converted at once."""
    if all(v is None or type(v) is float or _small_int(v) for v in values):
        arr = np.array(values, dtype=float)  # None -> NaN (missing)
        bad = ~np.isfinite(arr) & np.array([v is not None for v in values])
        for i in np.flatnonzero(bad):  # NaN/Infinity literals, which Python's JSON accepts
            problems.setdefault(int(i), []).append(
                f"column {col!r}: {values[i]!r} is not a finite number"
            )
        return arr
    out = np.empty(len(values))
    for i, v in enumerate(values):
        try:
            x = _number(v)
        except ValueError as err:
            problems.setdefault(i, []).append(f"column {col!r}: {err}")
            x = None
        out[i] = np.nan if x is None else x
    return out


def _texts(values: list[Any], col: str, problems: dict[int, list[str]]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        try:
            out[i] = _text(v)
        except ValueError as err:
            problems.setdefault(i, []).append(f"column {col!r}: {err}")
    return out


def read_records(body: Any, schema: Schema) -> Batch:
    """Check and convert a request body; see the module docstring for the rules."""
    # keys trimmed as CSV headers are: " carat" is the carat column in both
    records = [{str(k).strip(): v for k, v in r.items()} for r in as_records(body)]
    present = set().union(*(r.keys() for r in records))
    missing = [c for c in schema.required if c not in present]
    if missing:
        raise RequestError(
            f"required column(s) {missing} are missing from every record; the model "
            f"expects {schema.feature_names}"
        )
    numeric = set(schema.numeric)
    problems: dict[int, list[str]] = {}
    columns = {}
    for col in schema.feature_names:  # column by column: one conversion per column, not cell
        values = [r.get(col) for r in records]
        read = _numbers if col in numeric else _texts
        columns[col] = read(values, col, problems)
    for col in schema.datetime:  # text that is not a date would be scored as a missing one
        for i in unparsable_dates(pd.Series(columns[col], dtype=object)):
            problems.setdefault(int(i), []).append(
                f"column {col!r}: {columns[col][i]!r} is not an ISO-8601 date"
            )
    frame = pd.DataFrame(columns)
    rejected = [Rejected(i, "; ".join(problems[i])) for i in sorted(problems)]
    if not problems:
        return Batch(frame, list(range(len(records))), rejected)
    index = [i for i in range(len(records)) if i not in problems]
    return Batch(frame.iloc[index].reset_index(drop=True), index, rejected)
