"""How a text table is written: its delimiter, decimal mark and quote, detected or given.

Training (`read_table`) and scoring (ScoreFlow's start) detect them the same way, so a
semicolon-separated European file with decimal commas, or a header quoted with apostrophes
(statsmodels' `anes96.csv`: `'popul'\t'TVnews'...`), is read as its writer meant, and say what
they detected.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

from modelops import storage
from modelops.errors import DataError
from modelops.storage import Location

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass(frozen=True)
class Dialect:
    """How a text table is written: its delimiter, decimal mark and quote character."""

    delimiter: str = ","
    decimal: str = "."
    quotechar: str = '"'

    def describe(self) -> str:
        mark = "decimal comma" if self.decimal == "," else "decimal point"
        text = f"{DELIMITERS.get(self.delimiter, repr(self.delimiter))}-separated, {mark}"
        return text + (f", quoted with {self.quotechar}" if self.quotechar != '"' else "")


_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")


def sniff_dialect(head: str, delimiter: str = "") -> Dialect:
    """The delimiter (comma, semicolon, tab or pipe: the one that splits the first lines into
    the same number of fields, most of them), whether numbers use a decimal comma (European
    CSV: `1,5;2,25`) and whether the header quotes its names with apostrophes (`'age'`: then
    `'` is the quote character, or every column name would keep its quotes and `--target age`
    would not be found). `delimiter` overrides the guess; the rest is still detected."""
    lines = [line for line in head.splitlines()[:50] if line.strip()]
    if len(lines) > 1 and not head.endswith("\n"):
        lines = lines[:-1]  # a line cut by the sample's end
    if not delimiter:
        best, best_fields = ",", 1
        for cand in DELIMITERS:
            counts = {len(next(csv.reader([line], delimiter=cand))) for line in lines}
            if len(counts) == 1 and (fields := counts.pop()) > best_fields:
                best, best_fields = cand, fields
        delimiter = best
    decimal = "."
    if delimiter != ",":
        cells = [
            c.strip() for line in lines[1:] for c in next(csv.reader([line], delimiter=delimiter))
        ]
        if any(_DECIMAL_COMMA.match(c) for c in cells) and not any(
            re.match(r"^-?\d+\.\d+$", c) for c in cells
        ):
            decimal = ","
    names = next(csv.reader(lines[:1], delimiter=delimiter), [])
    quoted = bool(names) and all(len(n) > 1 and n[0] == n[-1] == "'" for n in names)
    return Dialect(delimiter, decimal, "'" if quoted else '"')


def head_text(path: Location, size: int = 1 << 16) -> str:
    """The first `size` bytes of a (possibly compressed, possibly S3) text file, as text."""
    import pyarrow as pa

    codec = storage.compression(path)
    with storage.open_binary(path) as raw:
        stream = pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), codec) if codec else raw
        return stream.read(size).decode("utf-8-sig", errors="replace")


def parse_delimiter(delimiter: str) -> str:
    """`--delimiter '\\t'` or `tab` as typed in a shell, as the character."""
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    delimiter = named.get(delimiter.lower(), delimiter)
    if len(delimiter) > 1:
        raise DataError(
            f"--delimiter {delimiter!r}: one character (or tab, comma, semicolon, pipe)"
        )
    return delimiter


def normalise_csv(src: Location, dest: Location, dialect: Dialect) -> None:
    """Rewrite a CSV in `dialect` as a plain comma-separated, decimal-point file, line for line
    (a malformed row stays malformed, on its own line number, for the reader to reject), so the
    sharded reader reads it as any CSV. Only cells that are decimal-comma numbers change."""
    import io

    with (
        storage.open_binary(src) as raw,
        storage.atomic_output(dest) as tmp,
        open(tmp, "w", newline="", encoding="utf-8") as out,
    ):
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        writer = csv.writer(out, lineterminator="\n")
        for row in csv.reader(text, delimiter=dialect.delimiter, quotechar=dialect.quotechar):
            if dialect.decimal == ",":
                row = [c.replace(",", ".") if _DECIMAL_COMMA.match(c.strip()) else c for c in row]
            writer.writerow(row)
