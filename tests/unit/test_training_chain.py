"""TrainFlow's steps chained in-process, without Metaflow: prepare -> search per family ->
select (with the ensemble) -> register and promote, on a tiny frame and a real local registry."""

from __future__ import annotations

import numpy as np
import pytest

from modelops.registry import PRODUCTION, LocalRegistry
from modelops.registry.packaging import load_model
from modelops.training.config import load_config
from modelops.training.fit import predict_aligned
from modelops.training.steps import prepare_training, register_and_promote, search_step, select
from tests.conftest import ROOT

FAST = ROOT / "tests" / "integration" / "fast_config.json"


def _train(csv, candidates: str, task: str = "regression"):
    config = load_config(FAST)
    prep = prepare_training(
        data=str(csv),
        target="y",
        task=task,
        candidates=candidates,
        metric="auto",
        test_size=0.25,
        cv_folds=3,
        budget_minutes=0.5,
        seed=3,
        sample=0,
        model_name="chain",
        config=config,
    )
    results = {n: search_step(name=n, prep=prep, config=config, seed=3) for n in prep.candidates}
    sel = select(
        scores=[r.score() for r in results.values()],
        load=results.__getitem__,
        prep=prep,
        config=config,
    )
    return prep, sel, config


def _register(registry, prep, sel, config, policy="auto"):
    return register_and_promote(
        registry=registry,
        prep=prep,
        sel=sel,
        policy=policy,
        config=config,
        run_pathspec="TrainFlow/chain",
        seed=3,
    )


@pytest.mark.parametrize("task", ["regression", "binary"])
def test_prepare_search_select_register_then_no_promotion_without_a_real_gain(
    tmp_path, frame, task
):
    csv = tmp_path / "table.csv"
    frame(n=400, task=task).to_csv(csv, index=False)
    registry = LocalRegistry(tmp_path / "registry")

    prep, sel, config = _train(csv, "linear,hist_gradient_boosting,lightgbm", task)
    assert len(sel.board) >= 3 and sel.best.pipeline is not None
    first = _register(registry, prep, sel, config)
    assert first.version == 0 and first.decision.promote and first.production_version == 0
    # the registered model is the selected pipeline: same predictions, same contract
    model = load_model(registry, "chain", PRODUCTION)
    np.testing.assert_allclose(
        predict_aligned(model.pipeline, prep.split.X_test, prep.task, prep.classes),
        sel.best.holdout_pred,
    )
    meta = model.version.metadata
    assert meta["task"] == task and meta["metaflow_run"] == "TrainFlow/chain"
    assert set(meta["search"]["families"]) == {"linear", "hist_gradient_boosting", "lightgbm"}
    assert [e["member"] for e in meta["ensemble"]] == list(sel.ensemble)

    # the same search again: no gain beyond noise, so registered but not promoted...
    prep2, sel2, _ = _train(csv, "linear,hist_gradient_boosting,lightgbm", task)
    second = _register(registry, prep2, sel2, config)
    assert second.version == 1 and not second.decision.promote
    assert second.decision.improvement is not None and second.decision.improvement.low <= 0
    assert registry.find("chain", PRODUCTION).version == 0
    # ...unless the policy says always
    third = _register(registry, prep2, sel2, config, policy="always")
    assert third.version == 2 and third.decision.promote and third.production_version == 2
