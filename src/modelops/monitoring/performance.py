"""Realised performance once labels arrive: the metrics training reported, on new rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from modelops.errors import DataError
from modelops.metrics import score_predictions
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
        realised = score_predictions(task, y, frame["prediction"].astype(float))
    else:
        classes = [str(c) for c in schema.classes]
        proba = frame[[f"proba_{c}" for c in classes]].to_numpy(dtype=float)
        y = frame[labels].astype(str)
        realised = score_predictions(task, y, frame["prediction"].astype(str), proba, classes)
    if html_path is not None:
        _performance_report(frame.assign(**{labels: y}), labels, schema, html_path)
    return PerformanceResult(
        len(frame), realised, training, str(html_path) if html_path is not None else None
    )


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
