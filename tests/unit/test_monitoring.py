"""Drift on the bundled diamonds data: a scaled column is drift, a fresh sample is not."""

from __future__ import annotations

import pandas as pd
import pytest

from modelops.data import BUNDLED
from modelops.monitoring import DriftDetected, compute_drift, drift_gate
from modelops.schema import infer_schema


@pytest.fixture(scope="module")
def diamonds():
    df = pd.read_csv(BUNDLED["diamonds"][0])
    return df.drop(columns="price"), infer_schema(df, "price", "regression")


def test_scaled_carat_is_drift_and_fresh_sample_is_not(diamonds, tmp_path):
    X, schema = diamonds
    reference = X.sample(4000, random_state=1)
    fresh = X.sample(4000, random_state=2)
    same = compute_drift(reference, fresh, schema)
    assert not same.drifted and same.n_drifted == 0 and same.n_columns == 9
    shifted = compute_drift(
        reference, fresh.assign(carat=fresh["carat"] * 1.5), schema, html_path=tmp_path / "r.html"
    )
    assert shifted.drifted and shifted.drifted_columns == ["carat"]
    assert shifted.columns["carat"]["score"] > shifted.columns["carat"]["threshold"]
    assert "<html" in (tmp_path / "r.html").read_text()[:2000].lower()
    with pytest.raises(DriftDetected, match=r"1 of 9 columns \(carat\)"):
        drift_gate(shifted, fail_on_drift=True)
    drift_gate(shifted, fail_on_drift=False)  # reported, not enforced
    drift_gate(same, fail_on_drift=True)
