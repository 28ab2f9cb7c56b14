"""Data drift: a pure function over two samples (Evidently), and a gate that decides.

The reference is the sample of training rows stored with the model version, never a sample
of the data being checked. Evidently is imported only here, and only when drift is computed
(its import alone takes several seconds).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from modelops.schema import Schema


@dataclass
class DriftResult:
    """Share of drifted columns, per-column score/method/threshold/verdict, and the verdict."""

    drifted: bool
    share: float
    n_drifted: int
    n_columns: int
    drift_share: float
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    reference_rows: int = 0
    current_rows: int = 0
    html: str | None = None
    insufficient: bool = False  # too few rows for a verdict: never drift, never "no drift"
    unseen_categories: dict[str, int] = field(default_factory=dict)  # rows, per column

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def drifted_columns(self) -> list[str]:
        return [c for c, v in self.columns.items() if v["drifted"]]


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    schema: Schema,
    drift_share: float = 0.1,
    html_path: Path | None = None,
    num_method: str = "wasserstein",
    cat_method: str = "jensenshannon",
    min_rows: int = 200,
) -> DriftResult:
    """Evidently's DataDriftPreset over the model's input columns.

    The verdict is drift when at least `drift_share` of the columns drifted. Distances
    (normed Wasserstein for numbers, Jensen-Shannon for categories) are used at every sample
    size: Evidently's default switches to p-value tests below 1,000 rows, which flagged every
    categorical column of a fresh sample of the training data here (480 vs 1,000 rows).

    Below `min_rows` scored rows there is no verdict (`insufficient`): on 1-100 rows every
    column's distance is large (9 of 9 "drifted"), which would start a retrain on noise.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    features = schema.numeric + schema.categorical  # date columns: new dates are not drift
    cols = [c for c in features if c in reference.columns and c in current.columns]
    definition = DataDefinition(
        numerical_columns=[c for c in schema.numeric if c in cols],
        categorical_columns=[c for c in schema.categorical if c in cols],
    )

    def dataset(df: pd.DataFrame) -> Any:
        frame = df[cols].copy()
        for c in definition.categorical_columns or []:
            frame[c] = frame[c].astype("string")
        return Dataset.from_pandas(frame, data_definition=definition)

    preset = DataDriftPreset(drift_share=drift_share, num_method=num_method, cat_method=cat_method)
    report = Report([preset], include_tests=True)
    snapshot = report.run(dataset(current), dataset(reference))
    result = snapshot.dict()
    configs = {m["id"]: m for m in result["metrics"]}
    columns: dict[str, dict[str, Any]] = {}
    for test in result["tests"]:
        metric = configs.get(test["metric_config"]["metric_id"], {})
        params = test["metric_config"]["params"]
        if params.get("type", "").endswith("ValueDrift"):
            columns[params["column"]] = {
                "score": float(metric.get("value", float("nan"))),
                "method": params.get("method"),
                "threshold": params.get("threshold"),
                "drifted": str(test["status"]).upper().endswith("FAIL"),
            }
    n_drifted = sum(v["drifted"] for v in columns.values())
    share = n_drifted / len(columns) if columns else 0.0
    if html_path is not None:
        snapshot.save_html(str(html_path))
    insufficient = len(current) < min_rows
    return DriftResult(
        drifted=bool(columns) and share >= drift_share and not insufficient,
        share=share,
        n_drifted=n_drifted,
        n_columns=len(columns),
        drift_share=drift_share,
        columns=columns,
        reference_rows=len(reference),
        current_rows=len(current),
        html=str(html_path) if html_path is not None else None,
        insufficient=insufficient,
    )
