from __future__ import annotations

import numpy as np
import pytest

from modelops.errors import ConfigError
from modelops.problem import Problem
from modelops.registry import PRODUCTION, LocalRegistry
from modelops.training.promotion import Champion, check_policy, decide, promote, threshold_failures

GOOD = {"rmse": 500.0, "mae": 300.0, "r2": 0.98}
RMSE = Problem("regression", "rmse")


def _decide(champion: Champion, thresholds=None, policy="auto", **kwargs):
    """The decision for the GOOD regression challenger (rmse) against `champion`."""
    return decide(
        policy=policy, problem=RMSE, challenger=GOOD,
        thresholds=thresholds or {}, champion=champion, **kwargs,
    )  # fmt: skip


def test_thresholds_use_metric_direction():
    assert threshold_failures(RMSE, GOOD, {"r2": 0.5, "rmse": 1000}) == []
    fails = threshold_failures(RMSE, GOOD, {"r2": 0.99, "rmse": 100})
    assert fails == [
        "holdout r2=0.98 fails the threshold >= 0.99",
        "holdout rmse=500 fails the threshold <= 100",
    ]
    with pytest.raises(ConfigError, match="roc_auc"):
        threshold_failures(RMSE, GOOD, {"roc_auc": 0.5})


def test_first_model_is_promoted_when_it_passes_thresholds():
    d = _decide(Champion(None), thresholds={"r2": 0.5})
    assert d.promote and d.reasons == ["no production model yet"]
    d = _decide(Champion(None), thresholds={"r2": 0.99})
    # why it was not promoted, and nothing else: "no production model yet" read as a reason
    assert not d.promote and d.reasons == ["holdout r2=0.98 fails the threshold >= 0.99"]


@pytest.mark.parametrize("champion_rmse, promoted", [(600.0, True), (400.0, False), (500.0, False)])
def test_challenger_must_beat_champion_on_same_holdout(champion_rmse, promoted):
    champ = Champion(3, {"rmse": champion_rmse, "mae": 1.0, "r2": 0.9})
    d = _decide(champ)
    assert d.promote is promoted
    assert "production v3" in d.reasons[-1] and d.champion_version == 3


def test_min_improvement_margin():
    champ = Champion(0, {"rmse": 505.0})
    assert not _decide(champ, min_improvement=0.02).promote
    assert _decide(champ, min_improvement=0.0).promote


def test_incompatible_champion_is_reported_not_compared():
    champ = Champion(1, problem="columns ['carat'] are missing from the new data")
    d = _decide(champ)
    assert d.promote and "not compared" in d.reasons[-1] and "carat" in d.reasons[-1]


def test_policies():
    champ = Champion(0, {"rmse": 1.0})
    assert not _decide(Champion(None), policy="never").promote
    assert _decide(champ, policy="always").promote
    with pytest.raises(ConfigError, match="--promotion"):
        check_policy("sometimes")


def test_promote_recompares_after_a_concurrent_promotion(tmp_path):
    reg = LocalRegistry(tmp_path / "reg")
    src = tmp_path / "f"
    src.write_text("x")
    for _ in range(3):
        reg.register("m", {"model.joblib": src}, {})
    # We compared against "no champion", but v1 was promoted meanwhile and is better than us.
    stale = _decide(Champion(None))
    reg.set_alias("m", PRODUCTION, 1)
    fresh_champ = Champion(1, {"rmse": 400.0})

    def recheck():
        return fresh_champ, _decide(fresh_champ)

    final = promote(reg, "m", 2, stale, recheck)
    assert not final.promote and "re-decided after a concurrent promotion" in final.reasons
    assert reg.get("m", PRODUCTION).version == 1


def test_rescore_champion_on_this_holdout_or_report_why_not(tmp_path, frame):
    from modelops.registry.packaging import load_model
    from modelops.schema import infer_schema
    from modelops.training.data import split
    from modelops.training.promotion import rescore_champion
    from tests.conftest import register_linear

    df = frame(n=200)
    data = split(df, "y", "regression", 0.25, 0)
    reg, schema, pipe = register_linear(tmp_path, data.X_train.assign(y=data.y_train))

    def load(mv):
        return load_model(reg, "m", mv.version).pipeline

    champ = rescore_champion(reg, "m", schema, RMSE, data.X_test, data.y_test, load)
    expected = float(np.sqrt(np.mean((pipe.predict(data.X_test) - data.y_test) ** 2)))
    assert champ.version == 0 and champ.metrics["rmse"] == pytest.approx(expected)

    other = infer_schema(df.drop(columns="colour"), "y", "regression")
    champ = rescore_champion(reg, "m", other, RMSE, data.X_test, data.y_test, load)
    assert champ.metrics is None and "['colour'] are missing" in champ.problem
    absent = rescore_champion(reg, "absent", schema, RMSE, data.X_test, data.y_test, load)
    assert absent.version is None


def test_a_first_model_is_promoted_when_it_beats_the_trivial_baseline_beyond_noise():
    from modelops.training.promotion import baseline, paired_bootstrap

    rng = np.random.default_rng(0)
    y_train, y_test = rng.normal(size=400), rng.normal(size=200)
    signal = rng.normal(size=200)
    metrics, pred = baseline(Problem("regression", "rmse"), y_train, y_test)
    assert np.all(pred == pytest.approx(y_train.mean()))
    trivial = Champion(None, metrics, pred=pred)

    def decide_for(challenger_pred):
        from modelops.training.predictions import metrics_of

        return decide(
            policy="auto", problem=RMSE,
            challenger=metrics_of(RMSE, y_test, challenger_pred), thresholds={},
            champion=Champion(None), trivial=trivial,
            bootstrap=lambda other: paired_bootstrap(
                Problem("regression", "rmse"), y_test, challenger_pred, other,
                resamples=300, confidence=0.9, seed=0,
            ),
        )  # fmt: skip

    useful = decide_for(y_test * 0.3 + signal * 0.3)  # R^2 about 0.4
    assert useful.promote and "beats the trivial baseline" in useful.reasons[-1]
    assert useful.challenger["r2"] < 0.5  # no absolute bar was needed
    noise = decide_for(rng.normal(scale=0.05, size=200))  # the mean, give or take noise
    assert not noise.promote and "does not clearly beat the trivial baseline" in noise.reasons[-1]


def test_the_class_prior_is_the_classification_baseline():
    from modelops.training.promotion import baseline

    binary = Problem("binary", "roc_auc", ("a", "b"))
    metrics, pred = baseline(binary, ["a", "a", "a", "b"], ["a", "b"])
    assert pred.tolist() == [[0.75, 0.25], [0.75, 0.25]]
    assert metrics["roc_auc"] == pytest.approx(0.5)


def test_a_champion_that_cannot_be_loaded_blocks_promotion():
    champ = Champion(2, problem="could not be loaded: v2 is not signed", blocks=True)
    d = _decide(champ, trivial=Champion(None, {"rmse": 900.0}))
    assert not d.promote
    assert "stays in production because it could not be compared" in d.reasons[-1]
    assert "--promotion always" in d.reasons[-1]
    assert _decide(champ, policy="always").promote  # the explicit way out
