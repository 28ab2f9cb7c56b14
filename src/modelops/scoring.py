"""Batch scoring with a registered model: check the input against its contract, predict, write.

The fitted pipeline does all preprocessing, so scoring is `pipeline.predict` on the input
frame; extra input columns (ids) are carried through to the output untouched.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modelops.data import read_table
from modelops.errors import DataError
from modelops.packaging import LoadedModel
from modelops.schema import check_columns


def default_output(input_path: Path | str) -> Path:
    """`new.csv` -> `new.predictions.csv`, next to the input."""
    p = Path(input_path)
    stem = p.name.split(".")[0]
    return p.with_name(f"{stem}.predictions.csv")


def predict_frame(model: LoadedModel, df: pd.DataFrame) -> pd.DataFrame:
    """Prediction columns for `df`: `prediction`, plus `proba_<class>` for classifiers."""
    pipe = model.pipeline
    out = pd.DataFrame(index=df.index)
    out["prediction"] = pipe.predict(df)
    if model.schema.task != "regression":
        out["prediction"] = np.asarray(out["prediction"]).ravel()
        proba = pipe.predict_proba(df)
        for i, cls in enumerate(pipe.classes_):
            out[f"proba_{cls}"] = proba[:, i]
    out["model_name"] = model.version.name
    out["model_version"] = f"v{model.version.version}"
    return out


def write_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class ScoreResult:
    input: str
    output: str
    model_name: str
    model_version: int
    rows: int
    task: str
    prediction_summary: dict[str, float]


def score_file(
    model: LoadedModel, input_path: Path | str, output_path: Path | str | None
) -> ScoreResult:
    """Read `input_path`, check it against the model's schema, predict and write atomically."""
    src = Path(input_path)
    df = read_table(src)
    if df.empty:
        raise DataError(f"{src}: no rows to score (header only)")
    check_columns(df, model.schema, str(src))
    preds = predict_frame(model, df)
    extra = [c for c in preds.columns if c in df.columns]
    out = pd.concat([df.drop(columns=extra), preds], axis=1)
    dest = Path(output_path) if output_path else default_output(src)
    write_atomic(out, dest)
    summary = (
        out["prediction"].describe().to_dict()
        if model.schema.task == "regression"
        else out["prediction"].value_counts().to_dict()
    )
    return ScoreResult(
        str(src), str(dest), model.version.name, model.version.version, len(out),
        model.schema.task, {str(k): float(v) for k, v in summary.items()},
    )  # fmt: skip
