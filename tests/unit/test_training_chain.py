"""TrainFlow's steps chained in-process, without Metaflow: prepare -> search per family ->
select (with the ensemble) -> register and promote, on a tiny frame and a real local registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from modelops.errors import ConfigError
from modelops.problem import Problem
from modelops.registry import ANY, PRODUCTION, LocalRegistry
from modelops.registry.packaging import load_model, signed
from modelops.training.config import load_config
from modelops.training.predictions import predict_aligned
from modelops.training.registering import register_and_promote
from modelops.training.steps import (
    describe_choice,
    outcome_report,
    prepare_training,
    search_step,
    select,
    selection_report,
)
from tests.conftest import ROOT

FAST = ROOT / "tests" / "integration" / "fast_config.json"


def _prepare(
    csv, candidates: str, config, task: str = "regression", model_name: str = "chain", **more
):
    return prepare_training(
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
        model_name=model_name,
        config=config,
        **more,
    )


def _train(csv, candidates: str, task: str = "regression", **more):
    config = load_config(FAST)
    prep = _prepare(csv, candidates, config, task, **more)
    results = {n: search_step(name=n, prep=prep, config=config, seed=3) for n in prep.candidates}
    sel = select(
        scores=[r.score() for r in results.values()],
        load=results.__getitem__,
        prep=prep,
        config=config,
        seed=3,
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
    # what TrainFlow's join prints: every candidate's row, why it chose, then the verdict
    shown = selection_report(sel, prep.metric)
    assert all(s.label in shown for s in sel.scores)
    assert shown.endswith(describe_choice(sel.comparison))
    verdict, *reasons = outcome_report(first, sel.best.label).splitlines()
    assert verdict == f"chain v0 ({sel.best.label}) promoted to production:"
    assert reasons == [f"  - {r}" for r in first.decision.reasons] and reasons
    # the registered model is the selected pipeline: same predictions, same contract
    model = load_model(registry, "chain", PRODUCTION)
    np.testing.assert_allclose(
        predict_aligned(model.pipeline, prep.split.X_test, prep.problem),
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
    assert outcome_report(second, sel2.best.label).startswith(
        f"chain v1 ({sel2.best.label}) not promoted:\n  - "
    )
    assert second.decision.improvement is not None and second.decision.improvement.low <= 0
    assert registry.find("chain", PRODUCTION).version == 0
    # ...unless the policy says always
    third = _register(registry, prep2, sel2, config, policy="always")
    assert third.version == 2 and third.decision.promote and third.production_version == 2


def test_an_ensemble_is_registered_and_scored_like_any_model(tmp_path, frame):
    """Two families' refitted pipelines as one EnsembleClassifier: registered with its members
    and weights, loaded, and scored by the batch path with one row out per row in."""
    from modelops.estimators import EnsembleClassifier
    from modelops.registry.packaging import model_metadata, write_model_files
    from modelops.scoring.batch import score_file

    csv = tmp_path / "table.csv"
    frame(n=400, task="multiclass").to_csv(csv, index=False)
    prep, _, config = _train(csv, "linear,lightgbm", "multiclass")
    members = {n: search_step(name=n, prep=prep, config=config, seed=3) for n in prep.candidates}
    weights = {"linear": 0.25, "lightgbm": 0.75}
    model = EnsembleClassifier(
        members=[members[n].pipeline for n in weights],
        weights=list(weights.values()),
        labels=list(weights),
        task="multiclass",
    )
    meta = model_metadata(
        schema=prep.schema,
        metric=prep.metric,
        candidate="ensemble",
        params={"weights": weights},
        metrics={},
        data_digest=prep.data_digest,
        data_source=prep.source,
        run_pathspec="TrainFlow/chain",
    ) | {"ensemble": [{"member": k, "weight": v} for k, v in weights.items()]}
    registry = LocalRegistry(tmp_path / "registry")
    files = write_model_files(model, prep.reference, tmp_path / "files")
    registry.register("chain", files, signed("chain", files, meta), aliases=(PRODUCTION,))

    loaded = load_model(registry, "chain", PRODUCTION)
    assert loaded.version.metadata["ensemble"][1] == {"member": "lightgbm", "weight": 0.75}
    src = tmp_path / "new.csv"
    prep.split.X_test.to_csv(src, index=False)
    result = score_file(loaded, src, tmp_path / "scored.csv")
    out = pd.read_csv(result.output)
    assert len(out) == len(prep.split.X_test) and result.accounting.balanced
    expected = sum(
        w * predict_aligned(members[n].pipeline, prep.split.X_test, prep.problem)
        for n, w in weights.items()
    )
    probas = out[[f"proba_{c}" for c in prep.classes]].to_numpy()
    np.testing.assert_allclose(probas, expected, atol=1e-9)
    assert list(out["prediction"]) == [prep.classes[i] for i in expected.argmax(axis=1)]


def test_a_bad_model_name_or_a_damaged_registry_fails_before_fitting(tmp_path):
    from modelops.errors import RegistryError
    from modelops.training.steps import check_registry

    registry = LocalRegistry(tmp_path / "registry")
    with pytest.raises(RegistryError, match="model name 'a/../b' is not valid"):
        check_registry(registry=registry, model_name="a/../b")
    check_registry(registry=registry, model_name="fresh")  # nothing registered yet: fine
    (tmp_path / "registry" / "m").mkdir(parents=True)
    (tmp_path / "registry" / "m" / "aliases.json").write_text("{")
    with pytest.raises(RegistryError, match="aliases.json: not valid JSON"):
        check_registry(registry=registry, model_name="m")


class _RacingRegistry(LocalRegistry):
    """Another run registers the same model and promotes it just before our alias move."""

    raced = False

    def set_alias(self, name, alias, version, expected=ANY, reason=""):
        if not self.raced and expected is not ANY:
            self.raced = True
            mv = self.get(name, version)
            copy = self.download(mv, self.root / "race-download")
            files = {f: copy / f for f in mv.files}
            super().register(name, files, mv.metadata, aliases=(PRODUCTION,))
        super().set_alias(name, alias, version, expected, reason)


def test_a_version_that_lost_a_promotion_race_stores_the_final_decision(tmp_path, frame):
    csv = tmp_path / "table.csv"
    frame(n=300).to_csv(csv, index=False)
    registry = _RacingRegistry(tmp_path / "registry")
    prep, sel, config = _train(csv, "linear")
    outcome = _register(registry, prep, sel, config)
    assert registry.raced and not outcome.decision.promote
    assert registry.get("chain", PRODUCTION).version == 1  # the racer's copy kept production
    stored = registry.get("chain", outcome.version).metadata["decision"]
    assert stored["promote"] is False and stored["champion_version"] == 1
    assert "re-decided after a concurrent promotion" in stored["reasons"]


def test_a_resumed_run_reuses_the_version_its_origin_registered(tmp_path, frame):
    """`resume` after the register step registered (killed before or after promoting) must
    not register a duplicate version."""
    csv = tmp_path / "table.csv"
    frame(n=300).to_csv(csv, index=False)
    registry = LocalRegistry(tmp_path / "registry")
    prep, sel, config = _train(csv, "linear")

    def register(run: str, resumed_from: str | None = None, policy: str = "auto"):
        return register_and_promote(
            registry=registry,
            prep=prep,
            sel=sel,
            policy=policy,
            config=config,
            run_pathspec=f"TrainFlow/{run}/register/9",
            seed=3,
            resumed_from=resumed_from,
        )

    first = register("11")
    again = register("12", resumed_from="TrainFlow/11")  # killed after promoting, resumed
    assert again.version == first.version == 0 and again.decision.promote
    assert [mv.version for mv in registry.versions("chain")] == [0]
    # killed after registering v1, before promoting: the resume promotes v1, registers nothing
    killed = register("13", policy="never")
    resumed = register("14", resumed_from="TrainFlow/13", policy="always")
    assert killed.version == resumed.version == 1 and resumed.production_version == 1
    assert [mv.version for mv in registry.versions("chain")] == [0, 1]
    assert register("15").version == 2  # a new run (not a resume) registers as usual


def test_the_inferred_task_is_explained_with_how_to_override(tmp_path, frame):
    csv = tmp_path / "table.csv"
    frame(n=300, task="binary").to_csv(csv, index=False)
    prep, _, _ = _train(csv, "linear", "auto")
    assert prep.task == "binary"
    assert any(
        n.startswith("--task auto: binary because the target is text/boolean with 2 distinct")
        and "pass --task to override" in n
        for n in prep.notes
    ), prep.notes


def test_an_id_column_is_not_a_feature_and_is_carried_through_at_scoring(tmp_path, frame):
    from modelops.scoring.batch import score_file

    csv = tmp_path / "table.csv"
    df = frame(n=300)
    df.insert(0, "order_id", [f"ORD-{i:05d}" for i in range(300)])
    df.to_csv(csv, index=False)
    registry = LocalRegistry(tmp_path / "registry")
    prep, sel, config = _train(csv, "linear")
    assert prep.schema.ignored == ("order_id",) and "order_id" not in prep.schema.feature_names
    assert any("['order_id'] look like identifiers (order_id: text" in n for n in prep.notes)
    _register(registry, prep, sel, config)
    model = load_model(registry, "chain", PRODUCTION)
    assert model.schema.ignored == ("order_id",)  # survives the metadata round trip
    new = tmp_path / "new.csv"
    df.drop(columns="y").head(20).to_csv(new, index=False)
    out = pd.read_csv(score_file(model, new, tmp_path / "with_id.csv").output)
    assert out["order_id"].tolist() == df["order_id"].head(20).tolist()
    df.drop(columns=["y", "order_id"]).head(20).to_csv(new, index=False)
    assert len(pd.read_csv(score_file(model, new, tmp_path / "no_id.csv").output)) == 20


def test_a_date_column_becomes_date_parts_for_every_family(tmp_path, frame):
    """ISO dates are not 300 categories: the pipeline derives year, month, day, weekday and
    hour, so a month effect is learnable and a date after training is not 'unseen'."""
    from modelops.scoring.batch import score_file

    rng = np.random.default_rng(0)
    df = frame(n=300)
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 366, 300), unit="D")
    df["signup"] = days.strftime("%Y-%m-%d")
    df["y"] += np.where(days.month >= 7, 5.0, 0.0)  # a second-half-of-year effect
    csv = tmp_path / "table.csv"
    df.to_csv(csv, index=False)
    prep, sel, config = _train(csv, "linear,hist_gradient_boosting,catboost,lightgbm")
    assert [c.kind for c in prep.schema.columns if c.name == "signup"] == ["datetime"]
    assert "signup_month" in prep.schema.date_parts
    # a date-only column has no hour: a constant feature is left out, and the note says so
    assert "signup_hour" not in prep.schema.date_parts
    assert "column 'signup' holds dates: the models use its month, day, dayofweek " in (
        " ".join(prep.notes)
    )
    assert "(year, hour: the same on every row, left out)" in " ".join(prep.notes)
    model = sel.best.pipeline
    first = model.members[0] if hasattr(model, "members") else model
    assert "signup_hour" not in first[0].get_feature_names_out()
    assert not any(s.failed for s in sel.scores)
    assert sel.best.holdout["r2"] > 0.8  # the month effect (5 units) was learnt
    registry = LocalRegistry(tmp_path / "registry")
    _register(registry, prep, sel, config)
    model = load_model(registry, "chain", PRODUCTION)
    new = (
        df.drop(columns="y")
        .head(5)
        .assign(signup=["2025-03-01", "2025-09-30T10:00:00Z", "", "not a date", "2024-07-04"])
    )
    new.to_csv(tmp_path / "new.csv", index=False)
    res = score_file(model, tmp_path / "new.csv", tmp_path / "out.csv", max_reject_rate=0.5)
    out = pd.read_csv(res.output)
    # a blank date is a missing one; text that is no date is a wrong value, as in a number column
    assert len(out) == 4 and out["prediction"].notna().all()
    rejects = pd.read_csv(res.rejects)
    assert rejects["line"].tolist() == [5]  # the header is line 1
    assert rejects["reason"].tolist() == ["column 'signup': 'not a date' is not an ISO-8601 date"]


def _member(prep, label: str, noise: float, rng, y=None):
    """A family's scores without fitting: the target plus noise as its OOF predictions (per
    repeat) and holdout predictions, its CV the mean RMSE over the folds."""
    from modelops.training.search import CandidateScore

    y = prep.split.y_train.to_numpy() if y is None else y
    by_repeat = y + rng.normal(scale=noise, size=(prep.folds.repeats, len(y)))
    n = prep.folds.n_folds
    rmse = [
        float(np.sqrt(np.mean((by_repeat[i // n][va] - y[va]) ** 2)))
        for i, (_, va) in enumerate(prep.folds.splits)
    ]
    y_test = prep.split.y_test.to_numpy()
    return CandidateScore(
        name=label,
        label=label,
        params={},
        cv={"rmse": float(np.mean(rmse))},
        cv_std={},
        holdout={"rmse": 0.0},
        fit_seconds=1.0,
        cv_seconds=1.0,
        oof=by_repeat.mean(axis=0),
        oof_by_repeat=by_repeat,
        holdout_pred=y_test + rng.normal(scale=noise, size=len(y_test)),
    )


def _small(tmp_path, frame):
    csv = tmp_path / "small.csv"
    frame(n=200).to_csv(csv, index=False)
    config = load_config()  # the bundled config: CV repeated below 1,000 training rows
    return _prepare(csv, "linear", config, model_name="m"), config


def test_ensemble_of_one_member_scores_its_cv_on_repeated_folds(tmp_path, frame):
    """Small tables repeat the CV; the ensemble's nested score must be per repeat and fold, as
    each family's CV is. Scored on the OOF averaged over repeats (a bag of three fits), an
    ensemble that is just its best member looked better than that member and was chosen."""
    from modelops.training.ensemble import build_ensemble

    prep, config = _small(tmp_path, frame)
    assert prep.folds.repeats == 3
    rng = np.random.default_rng(0)
    good, bad = _member(prep, "good", 1.0, rng), _member(prep, "bad", 50.0, rng)
    choice = build_ensemble([good, bad], prep, config, seed=0)
    assert choice.score.params["weights"] == {"good": 1.0}
    assert choice.score.cv["rmse"] == pytest.approx(good.cv["rmse"], rel=1e-9)
    # choosing one family, scored on folds it never saw: the same member, the same score
    assert choice.one_family_cv == pytest.approx(good.cv["rmse"], rel=1e-9)
    assert not choice.wins(Problem("regression", "rmse"))  # a tie keeps the single family


@pytest.mark.parametrize("repeated", [False, True])
def test_min_weight_prunes_the_ensemble_and_its_nested_score_unless_cv_is_repeated(
    tmp_path, frame, repeated
):
    """`ensemble.min_weight` reaches both the weights and the nested CV that decides whether
    the ensemble is chosen, so the pruned ensemble is what is scored. Where the CV is repeated
    (a small table: the ranking is noise), a light member is the bagged selection's hedge and
    stays."""
    from modelops.training.ensemble import build_ensemble

    csv = tmp_path / "small.csv"
    frame(n=200).to_csv(csv, index=False)
    bundled = load_config()
    config = bundled if repeated else bundled.model_copy(
        update={"cv": bundled.cv.model_copy(update={"small_rows": 0})}
    )  # fmt: skip
    prep = _prepare(csv, "linear", config, model_name="m")
    assert (prep.folds.repeats > 1) == repeated
    rng = np.random.default_rng(2)
    members = [_member(prep, m, s, rng) for m, s in (("a", 1.0), ("b", 1.0), ("c", 2.0))]
    by = {}
    for w in (0.0, 0.3):
        cfg = config.model_copy(
            update={"ensemble": config.ensemble.model_copy(update={"min_weight": w})}
        )
        by[w] = build_ensemble(members, prep, cfg, seed=0)
    free, barred = by[0.0].score.params["weights"], by[0.3].score.params["weights"]
    assert 0 < free["c"] < 0.3  # the weak member is in, lightly, without the bar
    assert by[0.3].one_family_cv == by[0.0].one_family_cv  # one family: nothing to prune
    if repeated:
        assert barred == free and by[0.3].score.cv == by[0.0].score.cv
    else:
        assert set(barred) == {"a", "b"} and min(barred.values()) >= 0.3
        assert by[0.3].score.cv["rmse"] != by[0.0].score.cv["rmse"]


@pytest.mark.parametrize("independent", [True, False])
def test_select_takes_the_ensemble_only_when_it_beats_one_family_like_for_like(
    tmp_path, frame, independent
):
    """Two equally good families: with independent errors their blend is better on rows
    neither choice saw, and becomes the champion; as near-copies it cannot be, and the best
    family stays champion, with the ensemble below it on the leaderboard. Either way the
    decision and both nested scores are recorded."""
    from modelops.estimators import EnsembleRegressor
    from modelops.training.search import CandidateResult

    prep, config = _small(tmp_path, frame)
    rng = np.random.default_rng(1)
    a = _member(prep, "a", 1.0, rng)
    b = _member(prep, "b", 1.0, rng)
    if not independent:  # b is a with a little noise of its own: nothing to average away
        b.oof_by_repeat = a.oof_by_repeat + rng.normal(scale=0.01, size=a.oof_by_repeat.shape)
        b.oof = b.oof_by_repeat.mean(axis=0)
        b.cv = {"rmse": a.cv["rmse"] + 0.01}
    fitted = {s.label: CandidateResult(**vars(s), pipeline=None) for s in (a, b)}
    sel = select(scores=[a, b], load=fitted.__getitem__, prep=prep, config=config, seed=0)
    c = sel.comparison
    assert c["bags"] == config.ensemble.bags and c["metric"] == "rmse"
    if independent:
        assert c["chosen"] == "ensemble" and c["ensemble_cv"] < c["one_family_cv"]
        assert isinstance(sel.best.pipeline, EnsembleRegressor)
        assert set(sel.ensemble) == {"a", "b"} and sel.board["candidate"][0] == "ensemble"
    else:
        assert c["chosen"] == "a" and c["ensemble_cv"] >= c["one_family_cv"]
        assert sel.best.label == "a" and sel.ensemble == {}
        assert list(sel.board["candidate"])[0] == "a"
        assert set(sel.board["candidate"]) == {"a", "b", "ensemble"}
        assert sel.board["cv_rmse"].iloc[1:].is_monotonic_increasing


def test_an_ensemble_that_kept_one_member_is_registered_as_that_family(
    tmp_path, frame, monkeypatch
):
    """On statsmodels' randhie the ensemble's nested CV beat choosing one family, but its
    greedy selection kept XGBoost alone, weight 1: the champion was a one-member ensemble
    wrapper named 'ensemble'. It is that family's own model now, first on the leaderboard,
    with the ensemble's row below it and the reason in the comparison."""
    from modelops.training import steps
    from modelops.training.ensemble import build_ensemble
    from modelops.training.search import CandidateResult

    prep, config = _small(tmp_path, frame)
    rng = np.random.default_rng(1)
    a, b = _member(prep, "a", 1.0, rng), _member(prep, "b", 1.2, rng)
    choice = build_ensemble([a, b], prep, config, seed=0)
    # as on randhie: the ensemble wins like for like and its weights hold one member, here
    # the one that is not first by its own CV
    choice.score.params["weights"] = {"b": 1.0}
    choice.score.cv = {"rmse": choice.one_family_cv - 0.5}
    monkeypatch.setattr(steps, "build_ensemble", lambda *_, **__: choice)
    fitted = {s.label: CandidateResult(**vars(s), pipeline=f"{s.label}'s pipeline") for s in (a, b)}
    sel = select(scores=[a, b], load=fitted.__getitem__, prep=prep, config=config, seed=0)
    assert sel.best.label == "b" and sel.best.pipeline == "b's pipeline" and sel.ensemble == {}
    assert sel.comparison["chosen"] == "b" and sel.comparison["one_member"]
    assert list(sel.board["candidate"]) == ["b", "ensemble", "a"]
    assert "kept only b (weight 1)" in describe_choice(sel.comparison)


@pytest.mark.parametrize("code", [{"no": 0, "yes": 1}, {"no": 0.0, "yes": 1.0}])
def test_a_target_of_numbers_coded_as_classes_trains_and_scores(tmp_path, frame, code):
    """A 0/1 target, as most binary columns in a CSV are: every family used to fail, since
    scikit-learn's metrics cannot tell the type of an object array of numbers (found on
    statsmodels' anes96 `vote`)."""
    from modelops.scoring.batch import score_file

    df = frame(n=300, task="binary")
    df["y"] = df["y"].map(code)
    csv = tmp_path / "table.csv"
    df.to_csv(csv, index=False)
    prep, sel, config = _train(csv, "linear,lightgbm,xgboost,catboost", "auto")
    assert prep.task == "binary" and list(prep.schema.classes) == [0, 1]
    assert not any(s.failed for s in sel.scores)
    assert sel.best.holdout["roc_auc"] > 0.9
    registry = LocalRegistry(tmp_path / "registry")
    _register(registry, prep, sel, config)
    src = tmp_path / "new.csv"
    prep.split.X_test.to_csv(src, index=False)
    result = score_file(load_model(registry, "chain", PRODUCTION), src, tmp_path / "out.csv")
    out = pd.read_csv(tmp_path / "out.csv")
    assert result.accounting.rows_scored == len(out) == len(prep.split.X_test)
    assert set(out["prediction"]) <= {0, 1}


@pytest.mark.parametrize(
    "source, name",
    [
        ("data/diamonds.csv.gz", "diamonds-y"),
        ("churn_2024-06.parquet", "churn-y"),
        ("churn_20240701.csv", "churn-y"),
        ("churn-v2.csv", "churn-y"),
        ("fair_reg_shuf.csv", "fair_reg-y"),
        ("titanic3.csv", "titanic3-y"),
        ("2024.csv", "2024-y"),
    ],
)
def test_the_default_model_name_ignores_date_and_version_suffixes(source, name):
    from modelops.training.steps import default_model_name

    assert default_model_name(source, "y") == name


def test_fit_and_register_a_dataframe_in_process(frame, tmp_path, capsys):
    """`modelops.fit` on a DataFrame, then `modelops.register` through the flow's gate, then
    `modelops leaderboard` reads what was recorded."""
    import modelops
    from modelops.cli import main as cli
    from modelops.registry import LocalRegistry

    df = frame(240).assign(customer_id=lambda d: range(1000, 1240))
    result = modelops.fit(
        df, target="y", budget_minutes=0.2, candidates="linear,random_forest", workers=1
    )
    board = result.leaderboard
    assert set(board["candidate"]) >= {"linear", "random_forest"}
    assert {"cv_rmse", "holdout_rmse", "parameters"} <= set(board.columns)
    assert all(len(p) <= 70 for p in board["parameters"])  # words, not raw dicts
    assert any("['customer_id'] look like identifiers" in n for n in result.notes)
    assert result.predict(df.drop(columns="y").head(4)).shape == (4,)
    registry = LocalRegistry(tmp_path / "registry")
    outcome = modelops.register(result, model_name="nb-model", registry=registry)
    assert outcome.decision.promote  # the signal is real: it beats the training mean
    assert "beats the trivial baseline" in outcome.decision.reasons[-1]
    recorded = registry.get("nb-model", "production").metadata["leaderboard"]
    assert [r["candidate"] for r in recorded] == board["candidate"].tolist()
    env = {"MODELOPS_REGISTRY_DIR": str(tmp_path / "registry"), "MODELOPS_REGISTRY": "local"}
    out = CliRunner().invoke(cli, ["leaderboard", "nb-model"], env=env)
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("nb-model:v0") and lines[1].split()[:2] == ["candidate", "cv_rmse"]
    assert len(lines) == 2 + len(board)


def test_a_time_column_sets_the_holdout_and_folds_and_says_so(tmp_path, frame):
    df = frame(n=300)
    df["day"] = pd.date_range("2024-01-01", periods=300).strftime("%Y-%m-%d")
    csv = tmp_path / "t.csv"
    df.to_csv(csv, index=False)
    prep = prepare_training(
        data=str(csv), target="y", task="auto", candidates="linear", metric="auto",
        test_size=0.2, cv_folds=3, budget_minutes=0.2, seed=0, sample=0, model_name="",
        config=load_config(), time_column="day",
    )  # fmt: skip
    assert prep.folds.description == "3-fold forward-chaining"
    assert prep.split.X_train["day"].max() < prep.split.X_test["day"].min()
    assert any("--time-column day: the holdout is the latest 60 rows" in n for n in prep.notes)
    with pytest.raises(ConfigError, match="--group-column 'nope' is not a feature column"):
        prepare_training(
            data=str(csv), target="y", task="auto", candidates="linear", metric="auto",
            test_size=0.2, cv_folds=3, budget_minutes=0.2, seed=0, sample=0, model_name="",
            config=load_config(), group_column="nope",
        )  # fmt: skip


def test_forward_chaining_folds_search_calibrate_and_ensemble_on_the_scored_rows(tmp_path, frame):
    """The first block of time is only trained on: its OOF rows are NaN, and the ensemble, its
    nested score and the calibration read the scored rows alone (finite, not NaN)."""
    df = frame(n=400, task="binary")
    df["day"] = pd.date_range("2024-01-01", periods=400).strftime("%Y-%m-%d")
    csv = tmp_path / "t.csv"
    df.to_csv(csv, index=False)
    prep, sel, _ = _train(csv, "linear,lightgbm", "binary", time_column="day")
    first = prep.folds.splits[0][0]
    families = [s for s in sel.scores if s.name != "ensemble"]
    assert len(families) == 2
    for r in families:
        assert np.isnan(r.oof[first]).all() and np.isfinite(r.oof[prep.folds.scored]).all()
        assert np.isfinite(r.cv[prep.metric])
    assert sel.comparison and np.isfinite(sel.comparison["ensemble_cv"])
    assert np.isfinite(sel.comparison["one_family_cv"])
    assert all(np.isfinite(v) for v in sel.best.holdout.values())


def test_the_tracker_is_handed_the_registrys_own_copies_of_a_version(tmp_path, frame):
    """On a local registry the files W&B logs in place are the stored ones (which are never
    rewritten), with the digests the version records, not the temporary files they came from."""
    from modelops.registry.base import sha256_file

    csv = tmp_path / "table.csv"
    frame(n=200).to_csv(csv, index=False)
    prep, sel, config = _train(csv, "linear")
    registry = LocalRegistry(tmp_path / "registry")
    seen = []
    outcome = register_and_promote(
        registry=registry, prep=prep, sel=sel, policy="auto", config=config,
        run_pathspec="TrainFlow/chain", seed=3,
        on_registered=lambda o, files, stored: seen.append((files, stored)),
    )  # fmt: skip
    ((files, stored),) = seen
    mv = registry.get("chain", outcome.version)
    assert stored and set(files) == set(mv.files)
    for name, path in files.items():
        assert path.is_relative_to(tmp_path / "registry") and sha256_file(path) == mv.files[name]


def test_what_each_candidate_costs_to_predict_is_on_the_leaderboard(tmp_path, frame):
    """Milliseconds per 1,000 rows, measured on the refitted pipeline in its family task; an
    ensemble's is its members' summed (it predicts with each of them)."""
    from modelops.training.search import CandidateResult
    from modelops.training.selection import readable_leaderboard

    csv = tmp_path / "table.csv"
    frame(n=300).to_csv(csv, index=False)
    prep, sel, _ = _train(csv, "linear,random_forest")
    assert all(s.predict_ms > 0 for s in sel.scores if s.name != "ensemble")
    board = readable_leaderboard(sel.scores, prep.metric)
    assert board.set_index("candidate").loc["random_forest", "ms_per_1k_rows"] > 0
    # two independent members: the ensemble is the champion, and costs both
    prep, config = _small(tmp_path, frame)
    rng = np.random.default_rng(1)
    a, b = _member(prep, "a", 1.0, rng), _member(prep, "b", 1.0, rng)
    a.predict_ms, b.predict_ms = 2.0, 3.0
    fitted = {s.label: CandidateResult(**vars(s), pipeline=None) for s in (a, b)}
    sel = select(scores=[a, b], load=fitted.__getitem__, prep=prep, config=config, seed=0)
    assert sel.best.label == "ensemble" and sel.best.predict_ms == 5.0
    assert sel.board.set_index("candidate").loc["ensemble", "predict_ms_per_1k"] == 5.0


def test_an_infer_limit_keeps_slow_families_off_the_champion_and_says_so(tmp_path, frame):
    """`--infer-limit`: a family slower than the limit is never the champion nor a member; it
    stays on the leaderboard, after the rest, and the choice says why. When no family is fast
    enough the error names the fastest."""
    from modelops.training.search import CandidateResult

    prep, config = _small(tmp_path, frame)
    rng = np.random.default_rng(1)
    good, fast, slow = (_member(prep, n, 1.0, rng) for n in ("good", "fast", "slow"))
    slow.cv["rmse"] = 0.5  # the best by CV, but too slow
    good.predict_ms, fast.predict_ms, slow.predict_ms = 2.0, 1.0, 50.0
    fitted = {s.label: CandidateResult(**vars(s), pipeline=None) for s in (good, fast, slow)}
    limited = config.with_infer_limit(10)
    sel = select(
        scores=[good, fast, slow], load=fitted.__getitem__, prep=prep, config=limited, seed=0
    )
    assert "slow" not in sel.ensemble and sel.best.label != "slow"
    assert sel.best.predict_ms <= 10
    assert [s.label for s in sel.scores][-1] == "slow"
    assert sel.comparison["over_infer_limit"] == ["slow"]
    assert "Over --infer-limit 10 ms per 1,000 rows, not chosen: slow" in describe_choice(
        sel.comparison
    )
    # without the limit the slow family is in the champion
    free = select(
        scores=[good, fast, slow], load=fitted.__getitem__, prep=prep, config=config, seed=0
    )
    assert free.best.label == "slow" or "slow" in free.ensemble
    with pytest.raises(ConfigError, match=r"--infer-limit 0.5 ms .*the fastest, fast, takes 1 ms"):
        select(
            scores=[good, fast, slow],
            load=fitted.__getitem__,
            prep=prep,
            config=config.with_infer_limit(0.5),
            seed=0,
        )
    with pytest.raises(ConfigError, match="--infer-limit -1"):
        config.with_infer_limit(-1)
    # speed_tolerance 0 and no limit: pruning for speed is off, not "remove what costs nothing"
    from modelops.training.ensemble import speed_pruning

    off = config.model_copy(
        update={"ensemble": config.ensemble.model_copy(update={"speed_tolerance": 0.0})}
    )
    assert speed_pruning([good, fast], prep, off) == {}
    assert speed_pruning([good, fast], prep, off.with_infer_limit(5))["limit"] == 5


def test_fit_searches_a_small_tables_families_in_the_flows_groups(frame, monkeypatch):
    """`modelops.fit` with worker processes runs the flow's groups (a worker per core, its
    families one after another, each with its share of what the worker has left), so a
    notebook gets every family in about the flow's time, not the sum of the shares."""
    from concurrent.futures import Future

    import modelops
    from modelops import api

    submitted = []

    class InProcess:  # records what goes to the workers, and runs it here
        def __init__(self, **_):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *_):
            return False

        def submit(self, fn, *args):
            submitted.append((fn, args[0]))
            done = Future()
            done.set_result(fn(*args))
            return done

    monkeypatch.setattr(api, "ProcessPoolExecutor", InProcess)
    result = modelops.fit(
        frame(240), target="y", budget_minutes=0.2,
        candidates="linear,random_forest,extra_trees", workers=2,
    )  # fmt: skip
    groups = result.prepared.groups
    assert len(groups) == 2 and sorted(n for g in groups for n in g) == [
        "extra_trees", "linear", "random_forest"
    ]  # fmt: skip
    assert submitted == [(api._search_group, g) for g in groups]
    assert {"linear", "random_forest", "extra_trees"} <= set(result.leaderboard["candidate"])


def test_select_reads_only_the_search_tasks_whose_pipelines_the_champion_needs():
    """On diamonds a forest's fitted pipeline is a hundred MB: `result_loader` reads a search
    task's `results` only when a candidate it searched is loaded."""
    from types import SimpleNamespace

    from modelops.training.steps import result_loader

    read = []

    class Task:
        def __init__(self, labels):
            self.scores = [SimpleNamespace(label=x) for x in labels]
            self._results = [SimpleNamespace(label=x, pipeline=f"fitted {x}") for x in labels]

        @property
        def results(self):  # as Metaflow loads an artifact: on access
            read.append([r.label for r in self._results])
            return self._results

    load = result_loader([Task(["linear", "catboost"]), Task(["random_forest"])])
    assert load("catboost").pipeline == "fitted catboost"
    assert read == [["linear", "catboost"]]  # the forest's task was never read


def test_select_says_what_every_failed_family_failed_on(tmp_path, frame):
    """A run where no family trained ends with each family's failure, as a training error
    (a configuration was valid here: the data or the estimator refused)."""
    import json

    from modelops.errors import TrainingError
    from modelops.training.config import TrainConfig

    csv = tmp_path / "table.csv"
    frame(n=200).to_csv(csv, index=False)
    raw = json.loads(FAST.read_text())
    for family in ("random_forest", "extra_trees"):  # scikit-learn refuses -3 trees on fit
        raw["search"]["families"][family]["fixed"] = {"n_estimators": -3}
    config = TrainConfig.from_mapping(raw)
    prep = _prepare(csv, "random_forest,extra_trees", config)
    results = {n: search_step(name=n, prep=prep, config=config, seed=3) for n in prep.candidates}
    with pytest.raises(TrainingError) as err:
        select(
            scores=[r.score() for r in results.values()],
            load=results.__getitem__,
            prep=prep,
            config=config,
            seed=3,
        )
    message = str(err.value)
    assert "every candidate family failed" in message
    assert "random_forest: " in message and "extra_trees: " in message
    assert message.count("n_estimators") >= 2  # each family's own reason
    assert not isinstance(err.value, ConfigError)
