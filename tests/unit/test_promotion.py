from __future__ import annotations

import pytest

from modelops.errors import ConfigError
from modelops.promotion import Champion, check_policy, decide, promote, threshold_failures
from modelops.registry import PRODUCTION, LocalRegistry

GOOD = {"rmse": 500.0, "mae": 300.0, "r2": 0.98}


def test_thresholds_use_metric_direction():
    assert threshold_failures("regression", GOOD, {"r2": 0.5, "rmse": 1000}) == []
    fails = threshold_failures("regression", GOOD, {"r2": 0.99, "rmse": 100})
    assert fails == [
        "holdout r2=0.98 fails the threshold >= 0.99",
        "holdout rmse=500 fails the threshold <= 100",
    ]
    with pytest.raises(ConfigError, match="roc_auc"):
        threshold_failures("regression", GOOD, {"roc_auc": 0.5})


def test_first_model_is_promoted_when_it_passes_thresholds():
    d = decide("auto", "regression", "rmse", GOOD, {"r2": 0.5}, Champion(None))
    assert d.promote and d.reasons == ["no production model yet"]
    d = decide("auto", "regression", "rmse", GOOD, {"r2": 0.99}, Champion(None))
    assert not d.promote


@pytest.mark.parametrize("champion_rmse, promoted", [(600.0, True), (400.0, False), (500.0, False)])
def test_challenger_must_beat_champion_on_same_holdout(champion_rmse, promoted):
    champ = Champion(3, {"rmse": champion_rmse, "mae": 1.0, "r2": 0.9})
    d = decide("auto", "regression", "rmse", GOOD, {}, champ)
    assert d.promote is promoted
    assert "production v3" in d.reasons[-1] and d.champion_version == 3


def test_min_improvement_margin():
    champ = Champion(0, {"rmse": 505.0})
    assert not decide("auto", "regression", "rmse", GOOD, {}, champ, min_improvement=0.02).promote
    assert decide("auto", "regression", "rmse", GOOD, {}, champ, min_improvement=0.0).promote


def test_incompatible_champion_is_reported_not_compared():
    champ = Champion(1, problem="columns ['carat'] are missing from the new data")
    d = decide("auto", "regression", "rmse", GOOD, {}, champ)
    assert d.promote and "not compared" in d.reasons[-1] and "carat" in d.reasons[-1]


def test_policies():
    champ = Champion(0, {"rmse": 1.0})
    assert not decide("never", "regression", "rmse", GOOD, {}, Champion(None)).promote
    assert decide("always", "regression", "rmse", GOOD, {}, champ).promote
    with pytest.raises(ConfigError, match="--promotion"):
        check_policy("sometimes")


def test_promote_recompares_after_a_concurrent_promotion(tmp_path):
    reg = LocalRegistry(tmp_path / "reg")
    src = tmp_path / "f"
    src.write_text("x")
    for _ in range(3):
        reg.register("m", {"model.joblib": src}, {})
    # We compared against "no champion", but v1 was promoted meanwhile and is better than us.
    stale = decide("auto", "regression", "rmse", GOOD, {}, Champion(None))
    reg.set_alias("m", PRODUCTION, 1)
    fresh_champ = Champion(1, {"rmse": 400.0})

    def recheck():
        return fresh_champ, decide("auto", "regression", "rmse", GOOD, {}, fresh_champ)

    final = promote(reg, "m", 2, stale, recheck)
    assert not final.promote and "re-decided after a concurrent promotion" in final.reasons
    assert reg.get("m", PRODUCTION).version == 1
