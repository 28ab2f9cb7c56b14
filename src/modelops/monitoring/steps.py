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
    importance: dict[str, float] | None = None,
) -> DriftResult:
    """Compare the scored rows with the model's training reference (drifted columns weighed by
    the model's recorded `importance`); log the summary to W&B."""
    html = sibling(result.output, ".drift.html")
    with storage.atomic_output(html) as local:
        drift = compute_drift(
            reference, result.sample, schema, drift_share, local, importance=importance
        )
    drift.html = str(html)
    drift.unseen_categories = {c: n for c, n in result.accounting.unseen_categories.items() if n}
    storage.write_json(sibling(result.output, ".drift.json"), drift.to_dict())  # for automation
    tracking.log_scoring(result, drift, model_ref=model_ref, group=group)
    return drift


def describe_drift(d: DriftResult) -> str:
    """The verdict in one line: what drifted, what the model relies on, what is only noted."""
    if d.insufficient:
        return (
            f"no verdict: {d.current_rows} rows are too few for a drift test "
            f"({d.n_drifted}/{d.n_columns} columns over their threshold, not acted on)"
        )
    verdict = "DRIFT" if d.drifted else "no drift"
    line = f"{verdict}: {d.n_drifted}/{d.n_columns} columns drifted {d.drifted_columns}"
    if d.weighted_share is not None:
        line += (
            f", carrying {d.weighted_share:.0%} of the model's importance (drift at "
            f">= {d.drift_share:.0%})"
        )
        if d.unused_drifted:
            line += f"; {d.unused_drifted} are not used by the model: reported, not acted on"
    else:
        line += f" (share {d.share:.0%}; drift at >= {d.drift_share:.0%})"
    return line


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
