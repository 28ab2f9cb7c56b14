"""Realised performance once labels arrive: the metrics training reported, on new rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelops.errors import DataError
from modelops.metrics import class_positions, score_predictions
from modelops.schema import Schema


@dataclass
class PerformanceResult:
    """Realised metrics on labelled rows next to the metrics the model was promoted with."""

    rows: int
    realised: dict[str, float]
    training: dict[str, float]
    html: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute_performance(
    scored: pd.DataFrame,
    labels: str,
    schema: Schema,
    training: dict[str, float],
    html_path: Path | None = None,
) -> PerformanceResult:
    """Metrics of predictions against labels that arrived later, plus Evidently's preset report.

    `scored` is the ScoreFlow output (or any frame with `prediction`, `proba_<class>` columns
    and the label column). Rows without a label are ignored.
    """
    if labels not in scored.columns:
        raise DataError(f"labels column {labels!r} not in the scored file")
    frame = scored[scored[labels].notna()].reset_index(drop=True)
    if frame.empty:
        raise DataError(f"labels column {labels!r} has no values")
    task = schema.task
    if task == "regression":
        y = pd.to_numeric(frame[labels], errors="coerce")
        pred = frame["prediction"].astype(float)
        realised = score_predictions(task, y, pred)
    else:
        classes = [str(c) for c in schema.classes]
        proba = frame[[f"proba_{c}" for c in classes]].to_numpy(dtype=float)
        y = _as_classes(frame[labels], classes, f"labels column {labels!r}")
        pred = _as_classes(frame["prediction"], classes, "prediction column")
        realised = score_predictions(task, y, pred, proba, classes)
    if html_path is not None:
        _performance_report(
            frame.assign(**{labels: y, "prediction": pred}), labels, schema, html_path
        )
    return PerformanceResult(
        len(frame), realised, training, str(html_path) if html_path is not None else None
    )


def _as_classes(values: pd.Series, classes: list[str], what: str) -> pd.Series:
    """`values` as the model's class names (the text of `schema.classes`), however the file's
    reader typed them; an error naming the values that are no class of the model."""
    pos = class_positions(values, classes)
    if (pos < 0).any():
        unknown = values[pos < 0]
        shown = sorted({str(v) for v in unknown})
        raise DataError(
            f"{what} holds values the model has no class for: {shown[:10]} "
            f"({len(unknown)} rows); its classes: {classes}"
        )
    return pd.Series(np.asarray(classes, dtype=object)[pos], index=values.index)


def _performance_report(frame: pd.DataFrame, labels: str, schema: Schema, path: Path) -> None:
    from evidently import DataDefinition, Dataset, Report

    if schema.task == "regression":
        from evidently import Regression
        from evidently.presets import RegressionPreset

        definition = DataDefinition(regression=[Regression(target=labels, prediction="prediction")])
        preset = RegressionPreset()
        data = frame[[labels, "prediction"]]
    else:
        from evidently import BinaryClassification, MulticlassClassification
        from evidently.presets import ClassificationPreset

        data = frame[[labels, "prediction"]].astype(str)
        if schema.task == "binary":
            positive = str(schema.classes[1])
            spec = BinaryClassification(
                target=labels, prediction_labels="prediction", pos_label=positive
            )
        else:
            spec = MulticlassClassification(target=labels, prediction_labels="prediction")
        definition = DataDefinition(classification=[spec])
        preset = ClassificationPreset()
    Report([preset]).run(Dataset.from_pandas(data, data_definition=definition), None).save_html(
        str(path)
    )
