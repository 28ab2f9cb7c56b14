"""Where ScoreFlow writes: the predictions file and the files named after it."""

from __future__ import annotations

from modelops import storage
from modelops.errors import DataError
from modelops.storage import Location


def default_output(input_path: Location) -> Location:
    """`new.csv` -> `new.predictions.csv`, next to the input (local or S3)."""
    return storage.with_name(
        input_path, f"{storage.name(input_path).split('.')[0]}.predictions.csv"
    )


def sibling(output: Location, suffix: str) -> Location:
    """A file next to the output named after it: `x.predictions.csv` -> `x.predictions<suffix>`.

    Rejects, the drift report and the performance report all live beside the predictions.
    """
    return storage.with_name(output, storage.name(output).rsplit(".", 1)[0] + suffix)


def rejects_path(output: Location) -> Location:
    """`x.predictions.csv` -> `x.predictions.rejects.csv`, next to the output."""
    return sibling(output, ".rejects.csv")


def check_output(dest: Location, overwrite: bool) -> None:
    if storage.exists(dest) and not overwrite:
        raise DataError(f"{dest}: output exists; pass --overwrite to replace it")
