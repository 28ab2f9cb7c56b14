"""Where ScoreFlow writes: the predictions file and the files named after it."""

from __future__ import annotations

import errno
import shutil
import time
from pathlib import Path

import pandas as pd

from modelops import storage
from modelops.errors import DataError
from modelops.storage import Location

OUTPUT_SUFFIXES = (".csv", ".parquet", ".pq")
_INPUT_SUFFIXES = (".gz", ".bz2", ".zst", ".csv", ".tsv", ".txt", ".parquet", ".pq")


def default_output(input_path: Location) -> Location:
    """`new.csv` -> `new.predictions.csv`, next to the input (local or S3).

    The whole stem is kept: `batch.2024-01.csv` and `batch.2024-02.csv` must not both become
    `batch.predictions.csv` (the second run would replace the first month's predictions).
    """
    stem = storage.name(input_path)
    while stem.lower().endswith(_INPUT_SUFFIXES) and "." in stem:
        stem = stem.rsplit(".", 1)[0]
    return storage.with_name(input_path, f"{stem}.predictions.csv")


def sibling(output: Location, suffix: str) -> Location:
    """A file next to the output named after it: `x.predictions.csv` -> `x.predictions<suffix>`.

    Rejects, the drift report and the performance report all live beside the predictions.
    """
    return storage.with_name(output, storage.name(output).rsplit(".", 1)[0] + suffix)


def rejects_path(output: Location) -> Location:
    """`x.predictions.csv` -> `x.predictions.rejects.csv`, next to the output."""
    return sibling(output, ".rejects.csv")


def check_output(dest: Location, overwrite: bool, source: Location | None = None) -> None:
    """Refuse to replace an existing output without --overwrite, and the input at all; an
    output must be named for what is written (CSV or Parquet), never `.json` holding CSV."""
    if storage.suffix(dest) not in OUTPUT_SUFFIXES:
        raise DataError(
            f"{dest}: predictions are written as CSV or Parquet; name the output "
            f"{' or '.join(OUTPUT_SUFFIXES)}"
        )
    if source is not None and _same_place(dest, source):
        raise DataError(
            f"{dest}: the output is the input file; choose another --output (scoring would "
            "replace the rows it reads)"
        )
    if storage.exists(dest) and not overwrite:
        raise DataError(f"{dest}: output exists; pass --overwrite to replace it")
    if not storage.is_s3(dest):
        check_writable(Path(dest).parent, dest)


def check_writable(folder: Path, dest: Location) -> None:
    """Fail before scoring, not after it, when the output's folder cannot be written."""
    try:
        storage.ensure_writable(folder, f"{storage.name(dest)}.")
    except OSError as err:
        raise DataError(f"{dest}: cannot write the output there: {describe_os_error(err)}") from err


def describe_os_error(err: OSError) -> str:
    """The plain reason for an OS error: 'disk full', 'a file is in the way', ..."""
    if err.errno == errno.ENOSPC:
        return "the disk is full"
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"a part of the path is a file, not a folder ({err.filename})"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write ({err.filename})"
    return err.strerror or str(err)


STALE_SECONDS = 3600.0  # nothing running writes to a part or staging file this long unseen


def remove_stale(dest: Location, keep: Location, now: float | None = None) -> list[Path]:
    """Remove what killed or failed runs left beside `dest`: hidden staging files
    (`.x.predictions.csv.*.tmp`) and shard-part folders (`.x.predictions.csv.parts-<run>`)
    untouched for an hour, except `keep` (this run's parts, which a resume reuses).

    A failed run keeps its parts so `resume` can merge them without scoring again; the next
    run for the same output removes them once they are stale. S3 parts live under the run's
    own prefix with its other data, so only local folders are swept.
    """
    if storage.is_s3(dest):
        return []
    folder, stem = Path(dest).parent, storage.name(dest).rsplit(".", 1)[0]
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for path in folder.glob(f".{stem}*"):
        if path == Path(keep) or not (path.name.endswith(".tmp") or ".parts-" in path.name):
            continue
        try:
            newest = max(
                [path.stat().st_mtime]
                + ([f.stat().st_mtime for f in path.rglob("*")] if path.is_dir() else [])
            )
        except FileNotFoundError:  # another run's cleanup got there first
            continue
        if now - newest < STALE_SECONDS:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _same_place(a: Location, b: Location) -> bool:
    """The same file: resolved local paths (symlinks, `..`), or the same S3 URL."""
    if storage.is_s3(str(a)) or storage.is_s3(str(b)):
        return str(a).rstrip("/") == str(b).rstrip("/")
    return Path(a).resolve() == Path(b).resolve()


# Cells a spreadsheet would run as a formula (OWASP's CSV injection list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_text(value: str) -> str:
    """`=HYPERLINK(...)` -> `'=HYPERLINK(...)`: shown as text when the CSV is opened."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text cell and column name that starts like a formula, prefixed with `'` (numbers
    are untouched): a header cell is a cell too when the file is opened."""
    out = frame.copy()
    out.columns = [neutralise_text(str(c)) for c in out.columns]
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if col.dtype == object or pd.api.types.is_string_dtype(col):
            text = col.where(col.notna(), None)
            risky = text.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS))
            if risky.any():
                out.isetitem(i, col.mask(risky, "'" + col.astype(str)))
    return out
