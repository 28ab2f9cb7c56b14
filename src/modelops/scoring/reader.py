"""Read a file to score in bounded chunks, keeping every row that cannot be used.

A production extract is read block by block (never whole), so memory stays flat whatever the
file size. Each block is parsed by pyarrow with the model's types; the rare block that fails
(an unparsable number, bytes that are not UTF-8) is parsed again as raw bytes and checked value
by value, so one bad row costs one block, not the file. Rows that cannot be scored become
`Reject`s with their physical line number and a reason; nothing is dropped silently.
Line numbers are physical lines: a record whose quoted field holds a newline is rejected, one
reject per line it spans, rather than read (see `_multiline_records`).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from modelops import storage
from modelops.errors import DataError
from modelops.schema import (
    NULL_TEXT,
    OUTPUT_COLUMNS,
    PROBA_PREFIX,
    Schema,
    check_columns,
    output_name_clashes,
    read_number,
    unparsable_dates,
)
from modelops.storage import Location

BLOCK_BYTES = 8 << 20  # ~100k diamonds rows per block


@dataclass
class Reject:
    line: int
    reason: str
    raw: str


@dataclass
class Chunk:
    """Parsed rows of one block (schema columns typed, others as text) and their line numbers."""

    frame: pd.DataFrame
    lines: np.ndarray
    rejects: list[Reject] = field(default_factory=list)


def read_header(path: Location) -> list[str]:
    """Column names, or a DataError that names the file and says what is wrong with it."""
    if not storage.exists(path):
        raise DataError(f"{path}: file not found")
    if storage.is_parquet(path):
        import pyarrow.parquet as pq

        try:
            with storage.open_binary(path) as f:
                return list(pq.ParquetFile(f).schema_arrow.names)
        except (pa.ArrowInvalid, OSError) as err:
            raise DataError(f"{path}: not a readable Parquet file: {err}") from err
    with storage.open_binary(path) as f:
        first = f.readline()
        if not first.strip():
            raise DataError(f"{path}: file is empty (no header)")
        try:
            text = first.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise DataError(f"{path}: header is not UTF-8 text; is this a CSV file?") from err
        if "\x00" in text:
            raise DataError(f"{path}: header contains NUL bytes; is this a CSV file?")
        header = next(csv.reader([text]))
        if not f.readline().strip():
            raise DataError(f"{path}: header only, no rows to score")
    return [h.strip() for h in header]


def check_input(path: Location, schema: Schema) -> list[str]:
    """File-level checks before any scoring: readable, has rows, has the model's columns."""
    header = read_header(path)
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise DataError(f"{path}: duplicate column names {dupes}")
    check_columns(pd.DataFrame(columns=header), schema, str(path))
    clashes = output_name_clashes(header)
    if clashes:
        raise DataError(
            f"{path}: column(s) {clashes} have the names scoring writes its outputs under "
            f"({', '.join(OUTPUT_COLUMNS)}, {PROBA_PREFIX}<class>), so their values would be "
            "lost; rename them (a file of earlier predictions: drop its output columns)"
        )
    return header


def _types(header: list[str], schema: Schema) -> dict[str, pa.DataType]:
    numeric = set(schema.numeric)
    return {c: pa.float64() if c in numeric else pa.string() for c in header}


@dataclass(frozen=True)
class Shard:
    """A byte range of whole lines of a CSV file, and the line number it starts at.

    Shards are the unit ScoreFlow's foreach fans out over; `end=None` means to the end.
    """

    index: int
    start: int
    end: int | None
    first_line: int


def plan_shards(path: Location, shard_bytes: int) -> list[Shard]:
    """Cut a CSV into ~`shard_bytes` ranges at line ends; count lines so numbers stay global.

    One pass over the file that only counts newlines; Parquet files are a single shard.
    """
    if storage.is_parquet(path):
        return [Shard(0, 0, None, 1)]
    size = storage.size(path)
    with storage.open_binary(path) as f:
        start = len(f.readline())
        shards, line = [], 2
        while start < size:
            f.seek(min(start + shard_bytes, size))
            if f.tell() < size:
                f.readline()  # move to the next line end
            end = f.tell()
            shards.append(Shard(len(shards), start, end, line))
            f.seek(start)
            remaining, count = end - start, 0
            while remaining > 0:
                data = f.read(min(remaining, 16 << 20))
                count += data.count(b"\n")
                remaining -= len(data)
            line += count
            start = end
    return shards or [Shard(0, start, None, 2)]


def iter_chunks(
    path: Location, schema: Schema, block_bytes: int = BLOCK_BYTES, shard: Shard | None = None
) -> Iterator[Chunk]:
    """Chunks of the file (or one shard of it) in order; rows and rejects cover every line."""
    header = check_input(path, schema)
    if storage.is_parquet(path):
        yield from _parquet_chunks(path, header, schema)
        return
    for start_line, block in _blocks(path, block_bytes, shard):
        chunk = _trim_categories(_parse_block(block, start_line, header, schema), schema)
        yield _reject_unusable_values(chunk, schema, partial(_raw_line, block, start_line, chunk))


def _trim_categories(chunk: Chunk, schema: Schema) -> Chunk:
    """`" Very Good"` -> `"Very Good"` in the model's categorical columns, as numbers are
    trimmed: a stray space must not make a known category unseen and change the prediction.
    The model's coercer trims too, so training and scoring agree; blank cells are missing."""
    frame = chunk.frame
    for c in schema.categorical:
        if c in frame.columns and frame[c].dtype == object:
            s = frame[c]
            text = s.map(lambda v: v.strip() if isinstance(v, str) else v)
            frame[c] = text.where(text != "", None)
    return chunk


def _raw_line(block: bytes, start_line: int, chunk: Chunk, row: int) -> str:
    line = int(chunk.lines[row]) - start_line
    return block.split(b"\n")[line].decode("utf-8", "backslashreplace").rstrip("\r")


def _reject_unusable_values(chunk: Chunk, schema: Schema, raw: Callable[[int], str]) -> Chunk:
    """Rows with inf/-inf in a numeric column, or text that is not a date in a date column,
    are rejected with the reason: a model cannot score them meaningfully (a bad date would be
    scored as a missing one), and the drift step after publishing would fail on infinities.
    `raw(row)` gives a rejected row's original text."""
    if chunk.frame.empty:
        return chunk
    problems: dict[int, list[str]] = {}
    numeric = [c for c in schema.numeric if c in chunk.frame.columns]
    if numeric:
        values = chunk.frame[numeric].to_numpy(dtype=float)
        for i, j in zip(*np.nonzero(np.isinf(values)), strict=True):
            problems.setdefault(int(i), []).append(
                f"column {numeric[j]!r}: {values[i, j]} is not a finite number"
            )
    for c in schema.datetime:
        if c in chunk.frame.columns:
            s = chunk.frame[c]
            for i in unparsable_dates(s):
                problems.setdefault(int(i), []).append(
                    f"column {c!r}: {s.iloc[i]!r} is not an ISO-8601 date"
                )
    if not problems:
        return chunk
    rows = sorted(problems)
    rejects = [Reject(int(chunk.lines[i]), "; ".join(problems[i]), raw(i)) for i in rows]
    keep = np.ones(len(chunk.frame), dtype=bool)
    keep[rows] = False
    return Chunk(
        chunk.frame[keep].reset_index(drop=True),
        chunk.lines[keep],
        _sorted(chunk.rejects + rejects),
    )


def _blocks(path: Location, block_bytes: int, shard: Shard | None) -> Iterator[tuple[int, bytes]]:
    """(line number of the block's first line, bytes of whole lines), header skipped."""
    with storage.open_binary(path) as f:
        if shard is None:
            f.readline()
            line, end = 2, None
        else:
            f.seek(shard.start)
            line, end = shard.first_line, shard.end
        rest = b""
        while True:
            want = block_bytes if end is None else min(block_bytes, end - f.tell())
            data = f.read(want) if want > 0 else b""
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            block, rest = data[:cut], data[cut:]
            yield line, block
            line += block.count(b"\n")
        if rest:
            yield line, rest


def _ragged_handler(rejects: list[tuple[int, str, str]]):
    def handler(row: pacsv.InvalidRow) -> str:
        kind = "too many" if row.actual_columns > row.expected_columns else "too few"
        reason = f"{kind} fields: {row.actual_columns}, expected {row.expected_columns}"
        rejects.append((row.number, reason, row.text))
        return "skip"

    return handler


def _read(block: bytes, header: list[str], types: dict[str, pa.DataType], bad: list) -> pa.Table:
    return pacsv.read_csv(
        io.BytesIO(block),
        # one pyarrow block per block of ours: its default (1 MB) fails on longer rows
        read_options=pacsv.ReadOptions(
            column_names=header, use_threads=False, block_size=max(1 << 20, len(block) + 1)
        ),
        parse_options=pacsv.ParseOptions(
            invalid_row_handler=_ragged_handler(bad), ignore_empty_lines=False
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, null_values=sorted(NULL_TEXT)
        ),
    )


def _kept_lines(n_lines: int, start_line: int, rejected_numbers: list[int]) -> np.ndarray:
    keep = np.ones(n_lines, dtype=bool)
    keep[np.asarray(rejected_numbers, dtype=int) - 1] = False
    return np.arange(start_line, start_line + n_lines)[keep]


def _multiline_records(block: bytes) -> list[tuple[int, int]]:
    """(first, last) physical line indexes of records whose quoted field holds a newline.

    Only a line with an odd number of quotes can open or close such a field, so most blocks
    cost one scan; the rest are read by the csv module, which, like pyarrow, treats a quote
    inside an unquoted field (`5" screen`) as text. A field still open at the end of the block
    spans to its end (the rest, in the next block, fails to parse and is rejected there).
    """
    if b'"' not in block:
        return []
    lines = block.split(b"\n")
    if block.endswith(b"\n"):
        lines.pop()
    if not any(line.count(b'"') % 2 for line in lines):
        return []
    if csv.field_size_limit() <= len(block):  # the module's limit (128 KB) is process-wide
        csv.field_size_limit(len(block) + 1)
    end = "\0end-of-block\n"  # swallowed by a quoted field still open at the end
    reader = csv.reader(itertools.chain((line.decode("latin-1") + "\n" for line in lines), [end]))
    spans, first = [], 0
    for row in reader:
        if reader.line_num > len(lines):
            if row != [end.strip("\n")]:
                spans.append((first, len(lines) - 1))
            break
        if reader.line_num - first > 1:
            spans.append((first, reader.line_num - 1))
        first = reader.line_num
    return spans


def _blank_out(block: bytes, spans: list[tuple[int, int]], start_line: int):
    """The block with multi-line records' lines emptied (so pyarrow sees one row per line)
    and a reject for each of those lines, with its own text."""
    lines = block.split(b"\n")
    rejects = {}
    for first, last in spans:
        for i in range(first, last + 1):
            what = (
                f"a quoted field holds a newline: the record spans lines {start_line + first}-"
                f"{start_line + last}; remove line breaks inside values"
                if i == first
                else f"part of the record that starts on line {start_line + first} (a quoted "
                "field holds a newline)"
            )
            raw = lines[i].decode("utf-8", "backslashreplace").rstrip("\r")
            rejects[start_line + i] = Reject(start_line + i, what, raw)
            lines[i] = b""
    return b"\n".join(lines), rejects


def _parse_block(block: bytes, start_line: int, header: list[str], schema: Schema) -> Chunk:
    multiline: dict[int, Reject] = {}
    spans = _multiline_records(block)
    if spans:
        block, multiline = _blank_out(block, spans, start_line)
    chunk = _parse_lines(block, start_line, header, schema)
    blank = []
    if b"\n\n" in block or b"\n\r\n" in block or block[:1] in (b"\n", b"\r"):
        # pyarrow reads a blank line as a row of nulls; it is not a row, so reject it by name.
        blank = [start_line + i for i, raw in enumerate(block.split(b"\n")[:-1]) if not raw.strip()]
    if not blank and not multiline:
        return chunk
    drop = np.isin(chunk.lines, blank + list(multiline))
    rejects = [r for r in chunk.rejects if r.line not in multiline] + list(multiline.values())
    rejects += [Reject(n, "blank line", "") for n in blank if n not in multiline]
    return Chunk(chunk.frame[~drop].reset_index(drop=True), chunk.lines[~drop], _sorted(rejects))


def _parse_lines(block: bytes, start_line: int, header: list[str], schema: Schema) -> Chunk:
    n_lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
    bad: list[tuple[int, str, str]] = []
    try:
        table = _read(block, header, _types(header, schema), bad)
        frame = table.to_pandas()
    except pa.ArrowInvalid:  # a value that does not parse, or bytes that are not UTF-8
        bad = []
        table = _read(block, header, {c: pa.binary() for c in header}, bad)
        lines = _kept_lines(n_lines, start_line, [b[0] for b in bad])
        frame, value_rejects = _check_values(table, lines, schema, block, start_line)
        rejects = [Reject(start_line + n - 1, r, t) for n, r, t in bad] + value_rejects
        kept = ~np.isin(lines, [r.line for r in value_rejects])
        return Chunk(frame[kept].reset_index(drop=True), lines[kept], _sorted(rejects))
    lines = _kept_lines(n_lines, start_line, [b[0] for b in bad])
    rejects = [Reject(start_line + n - 1, r, t) for n, r, t in bad]
    return Chunk(frame, lines, rejects)


def _sorted(rejects: list[Reject]) -> list[Reject]:
    return sorted(rejects, key=lambda r: r.line)


def _check_values(
    table: pa.Table, lines: np.ndarray, schema: Schema, block: bytes, start_line: int
) -> tuple[pd.DataFrame, list[Reject]]:
    """Value-by-value decoding and number parsing for a block pyarrow could not type."""
    raw_lines = block.split(b"\n")
    problems: dict[int, list[str]] = {}
    columns = {}
    numeric = set(schema.numeric)
    for name in table.column_names:
        values = table.column(name).to_pylist()
        decoded = []
        for i, v in enumerate(values):
            if v is None:
                decoded.append(None)
                continue
            try:
                decoded.append(v.decode("utf-8"))
            except UnicodeDecodeError:
                decoded.append(None)
                problems.setdefault(i, []).append(f"column {name!r}: bytes are not valid UTF-8")
        s = pd.Series(decoded, dtype=object)
        if name in numeric:  # the rule of every numeric cell, requests included
            num = np.full(len(s), np.nan)
            for i, cell in enumerate(s):
                if cell is None:
                    continue
                try:
                    value = read_number(cell)
                except ValueError as err:
                    problems.setdefault(i, []).append(f"column {name!r}: {err}")
                    continue
                num[i] = np.nan if value is None else value
            columns[name] = pd.Series(num)
        else:
            columns[name] = s.where(~s.isin(NULL_TEXT), None)
    frame = pd.DataFrame(columns)
    rejects = []
    for i, reasons in sorted(problems.items()):
        line = int(lines[i])
        raw = raw_lines[line - start_line].decode("utf-8", errors="backslashreplace")
        rejects.append(Reject(line, "; ".join(reasons), raw.rstrip("\r")))
    return frame, rejects


def _parquet_chunks(path: Location, header: list[str], schema: Schema) -> Iterator[Chunk]:
    """Parquet is typed already; values of the wrong type are checked like CSV text."""
    with storage.open_binary(path) as f:
        yield from _parquet_batches(f, schema)


def _parquet_batches(f: IO[bytes], schema: Schema) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    row = 1
    for batch in pq.ParquetFile(f).iter_batches(batch_size=100_000):
        frame = _nested_as_json(batch).to_pandas()
        lines = np.arange(row, row + len(frame))
        row += len(frame)
        problems: dict[int, list[str]] = {}
        for name in schema.numeric:
            s = frame[name]
            if pd.api.types.is_numeric_dtype(s):
                continue
            num = pd.to_numeric(s, errors="coerce")
            for i in np.flatnonzero(s.notna().to_numpy() & num.isna().to_numpy()):
                problems.setdefault(int(i), []).append(
                    f"column {name!r}: {s.iloc[i]!r} is not a number"
                )
            frame[name] = num
        rejects = [
            Reject(int(lines[i]), "; ".join(r), frame.iloc[i].to_json())
            for i, r in problems.items()
        ]
        keep = np.ones(len(frame), dtype=bool)
        keep[list(problems)] = False
        chunk = _trim_categories(
            Chunk(frame[keep].reset_index(drop=True), lines[keep], rejects), schema
        )
        yield _reject_unusable_values(chunk, schema, partial(_row_json, chunk.frame))


def _nested_as_json(batch: pa.RecordBatch) -> pa.RecordBatch:
    """List, struct and map columns become JSON text: carried through to CSV or Parquet
    output as one readable value each (CSV cannot hold them), and never a model feature."""
    nested = [i for i, f in enumerate(batch.schema) if pa.types.is_nested(f.type)]
    if not nested:
        return batch
    arrays = list(batch.columns)
    for i in nested:
        arrays[i] = pa.array(
            [None if v is None else json.dumps(v, default=str) for v in arrays[i].to_pylist()],
            pa.string(),
        )
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _row_json(frame: pd.DataFrame, row: int) -> str:
    return frame.iloc[row].to_json()
