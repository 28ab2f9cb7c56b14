"""ScoreFlow's monitoring step bodies: drift against the model's reference, realised metrics.

Both publish their Evidently HTML beside the predictions through `storage.atomic_output`.
"""

from __future__ import annotations

import pandas as pd

from modelops import storage, tracking
from modelops.monitoring.drift import DriftResult, compute_drift
from modelops.monitoring.performance import PerformanceResult, compute_performance
from modelops.schema import Schema
from modelops.scoring.batch import ScoreResult
from modelops.scoring.outputs import sibling


def drift_step(
    *,
    result: ScoreResult,
    reference: pd.DataFrame,
    schema: Schema,
    model_ref: str,
    drift_share: float,
    group: str,
) -> DriftResult:
    """Compare the scored rows with the model's training reference; log the summary to W&B."""
    html = sibling(result.output, ".drift.html")
    with storage.atomic_output(html) as local:
        drift = compute_drift(reference, result.sample, schema, drift_share, local)
    drift.html = str(html)
    drift.unseen_categories = {c: n for c, n in result.accounting.unseen_categories.items() if n}
    storage.write_json(sibling(result.output, ".drift.json"), drift.to_dict())  # for automation
    tracking.log_scoring(result, drift, model_ref=model_ref, group=group)
    return drift


def performance_step(
    *, result: ScoreResult, labels: str, schema: Schema, training: dict[str, float]
) -> PerformanceResult:
    """Realised metrics once labels arrive: the output's `labels` column vs its predictions.

    Reads only the label and prediction columns of the output, so memory stays small.
    """
    html = sibling(result.output, ".performance.html")
    wanted = [labels, "prediction"] + [f"proba_{c}" for c in schema.classes]
    with storage.fetch(result.output) as out:
        frame = _read_columns(out, wanted)
    with storage.atomic_output(html) as local:
        perf = compute_performance(frame, labels, schema, training, local)
    perf.html = str(html)
    return perf


def _read_columns(path, wanted: list[str]) -> pd.DataFrame:
    """Only the named columns (those present) of a CSV or Parquet file."""
    if storage.is_parquet(path):
        import pyarrow.parquet as pq

        names = set(pq.ParquetFile(path).schema_arrow.names)
        return pd.read_parquet(path, columns=[c for c in wanted if c in names])
    return pd.read_csv(path, usecols=lambda c: c in wanted)
