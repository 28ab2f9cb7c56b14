"""Data drift: a pure function over two samples (Evidently), and a gate that decides.

The reference is the sample of training rows stored with the model version, never a sample
of the data being checked. Evidently is imported only here, and only when drift is computed
(its import alone takes several seconds).
"""

from __future__ import annotations

from collections.abc import Mapping
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
    # the model's reliance on each column (its share of permutation importance), and the
    # share of that reliance on drifted columns: what the verdict weighs when known
    weights: dict[str, float] = field(default_factory=dict)
    weighted_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def drifted_columns(self) -> list[str]:
        return [c for c, v in self.columns.items() if v["drifted"]]

    @property
    def unused_drifted(self) -> list[str]:
        """Drifted columns the model does not rely on: reported, not acted on."""
        if self.weighted_share is None:
            return []
        return [c for c in self.drifted_columns if self.weights.get(c, 0.0) <= 0.0]


def importance_weights(importance: Mapping[str, float] | None, columns: list[str]) -> dict:
    """Each tested column's share of the model's positive importance (empty when unknown)."""
    if not importance:
        return {}
    positive = {c: max(float(importance.get(c, 0.0)), 0.0) for c in columns}
    total = sum(positive.values())
    return {c: v / total for c, v in positive.items()} if total > 0 else {}


def column_pvalues(
    reference: pd.DataFrame, current: pd.DataFrame, numeric: list[str], categorical: list[str]
) -> dict[str, float]:
    """Two-sample test p-values per column: Kolmogorov-Smirnov for numbers, chi-square on the
    category counts (missing counted as a category) for categories."""
    from scipy import stats

    out: dict[str, float] = {}
    for c in numeric:
        a = pd.to_numeric(reference[c], errors="coerce").dropna().to_numpy(dtype=float)
        b = pd.to_numeric(current[c], errors="coerce").dropna().to_numpy(dtype=float)
        out[c] = float(stats.ks_2samp(a, b).pvalue) if len(a) and len(b) else 1.0
    for c in categorical:
        counts = pd.concat(
            [
                reference[c].astype("string").fillna("<missing>").value_counts(),
                current[c].astype("string").fillna("<missing>").value_counts(),
            ],
            axis=1,
        ).fillna(0)
        if len(counts) < 2:
            out[c] = 1.0
            continue
        out[c] = float(stats.chi2_contingency(counts.to_numpy(dtype=float).T).pvalue)
    return out


def benjamini_hochberg(pvalues: Mapping[str, float]) -> dict[str, float]:
    """Adjusted p-values (q-values): rejecting q <= alpha keeps the expected share of false
    alarms among the flagged columns at alpha, however many columns are tested."""
    if not pvalues:
        return {}
    names = sorted(pvalues, key=lambda c: pvalues[c])
    m = len(names)
    q, running = {}, 1.0
    for rank in range(m, 0, -1):
        c = names[rank - 1]
        running = min(running, pvalues[c] * m / rank)
        q[c] = min(running, 1.0)
    return q


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    schema: Schema,
    drift_share: float = 0.1,
    html_path: Path | None = None,
    num_method: str = "wasserstein",
    cat_method: str = "jensenshannon",
    min_rows: int = 200,
    importance: Mapping[str, float] | None = None,
    fdr: float = 0.01,
) -> DriftResult:
    """Evidently's DataDriftPreset over the model's input columns.

    The verdict is drift when at least `drift_share` of the columns drifted. Distances
    (normed Wasserstein for numbers, Jensen-Shannon for categories) are used at every sample
    size: Evidently's default switches to p-value tests below 1,000 rows, which flagged every
    categorical column of a fresh sample of the training data here (480 vs 1,000 rows).

    A column drifts when its distance passes Evidently's threshold (the shift is large enough
    to matter) *and* a two-sample test says it is more than sampling noise, with the
    Benjamini-Hochberg correction across columns at false discovery rate `fdr`. Distances
    alone are noise at a few hundred rows: on same-source batches of 200 rows of the breast
    cancer table, up to 26 of its 30 columns passed their distance threshold, and every batch
    was "drift" (benchmarks/drift_false_alarms.py).

    Below `min_rows` scored rows there is no verdict (`insufficient`): on 1-100 rows every
    column's distance is large (9 of 9 "drifted"), which would start a retrain on noise.

    With the model's `importance` (recorded at registration), the verdict weighs each drifted
    column by the model's reliance on it: drift when the drifted columns carry at least
    `drift_share` of it. A drifted column the model does not use is reported, not acted on,
    and one noisy column among many small ones no longer decides alone.
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
    qvalues = benjamini_hochberg(
        column_pvalues(
            reference,
            current,
            definition.numerical_columns or [],
            definition.categorical_columns or [],
        )
    )
    columns: dict[str, dict[str, Any]] = {}
    for test in result["tests"]:
        metric = configs.get(test["metric_config"]["metric_id"], {})
        params = test["metric_config"]["params"]
        if params.get("type", "").endswith("ValueDrift"):
            name = params["column"]
            beyond = str(test["status"]).upper().endswith("FAIL")
            q = qvalues.get(name, 1.0)
            columns[name] = {
                "score": float(metric.get("value", float("nan"))),
                "method": params.get("method"),
                "threshold": params.get("threshold"),
                "q_value": q,
                "beyond_threshold": beyond,
                "drifted": beyond and q <= fdr,
            }
    n_drifted = sum(v["drifted"] for v in columns.values())
    share = n_drifted / len(columns) if columns else 0.0
    if html_path is not None:
        snapshot.save_html(str(html_path))
    insufficient = len(current) < min_rows
    weights = importance_weights(importance, list(columns))
    weighted = sum(w for c, w in weights.items() if columns[c]["drifted"]) if weights else None
    decisive = share if weighted is None else weighted
    return DriftResult(
        drifted=bool(columns) and decisive >= drift_share and not insufficient,
        weights=weights,
        weighted_share=weighted,
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
