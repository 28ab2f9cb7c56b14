from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelops.errors import DataError, RegistryError, SchemaError
from modelops.registry import PRODUCTION
from modelops.registry.packaging import load_model
from modelops.scoring.batch import score_file
from modelops.scoring.outputs import default_output
from tests.conftest import register_linear


def _registered(tmp_path, frame, task="regression"):
    df = frame(task=task)
    reg, _, pipe = register_linear(tmp_path, df, task)
    return reg, df, pipe


def test_scores_every_row_with_the_fitted_pipeline(tmp_path, frame):
    reg, df, pipe = _registered(tmp_path, frame)
    model = load_model(reg, "m", PRODUCTION)
    new = df.drop(columns="y").head(30).assign(id=range(30))
    src = tmp_path / "new.csv"
    new.to_csv(src, index=False)
    res = score_file(model, src, None)
    out = pd.read_csv(res.output)
    assert res.output == str(default_output(src)) == str(tmp_path / "new.predictions.csv")
    assert len(out) == 30 and list(out["id"]) == list(range(30))
    np.testing.assert_allclose(out["prediction"], pipe.predict(new), rtol=1e-9)
    assert set(out["model_version"]) == {"v0"} and set(out["model_name"]) == {"m"}
    assert model.version.metadata["git_commit"]
    assert not list(tmp_path.glob(".new.predictions*"))  # no temporary file left behind


def test_classification_output_has_class_and_probabilities(tmp_path, frame):
    reg, df, _ = _registered(tmp_path, frame, task="binary")
    model = load_model(reg, "m", PRODUCTION)
    src = tmp_path / "new.csv"
    df.drop(columns="y").head(10).to_csv(src, index=False)
    out = pd.read_parquet(score_file(model, src, tmp_path / "p.parquet").output)
    assert set(out["prediction"]) <= {"yes", "no"}
    np.testing.assert_allclose(out["proba_no"] + out["proba_yes"], 1.0)


def test_missing_columns_and_empty_input_fail_before_scoring(tmp_path, frame):
    reg, df, _ = _registered(tmp_path, frame)
    model = load_model(reg, "m", PRODUCTION)
    src = tmp_path / "new.csv"
    df.drop(columns=["y", "colour"]).to_csv(src, index=False)
    with pytest.raises(SchemaError, match=r"new.csv: missing required column\(s\) \['colour'\]"):
        score_file(model, src, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()
    src.write_text("num_a,num_b,colour\n")
    with pytest.raises(DataError, match="no rows to score"):
        score_file(model, src, tmp_path / "out.csv")


def test_load_model_refuses_a_tampered_model(tmp_path, frame):
    reg, _, _ = _registered(tmp_path, frame)
    mv = reg.get("m", PRODUCTION)
    with open(f"{mv.location}/model.joblib", "ab") as f:
        f.write(b"\0")
    with pytest.raises(RegistryError, match="SHA-256"):
        load_model(reg, "m", PRODUCTION)


def test_a_loaded_model_predicts_on_the_threads_its_process_has(tmp_path, frame, monkeypatch):
    """A booster fitted on one thread (as search tasks fit it, and as its pickle keeps it)
    predicts on every core of the process that loads it by default, or on the threads asked
    for (a ScoreFlow shard's share); its predictions are the same."""
    from modelops.registry import LocalRegistry, packaging
    from modelops.registry.packaging import signed
    from tests.conftest import linear_version

    df = frame()
    files, meta, _, pipe = linear_version(df, tmp_path / "files", family="xgboost")
    reg = LocalRegistry(tmp_path / "reg")
    reg.register("m", files, signed("m", files, meta), aliases=(PRODUCTION,))
    assert pipe.steps[-1][1].n_jobs == 1
    monkeypatch.setattr(packaging, "cores", lambda: 3)
    default = load_model(reg, "m", PRODUCTION).pipeline
    asked = load_model(reg, "m", PRODUCTION, threads=1).pipeline
    assert default.steps[-1][1].n_jobs == 3 and asked.steps[-1][1].n_jobs == 1
    X = df.drop(columns="y")
    np.testing.assert_array_equal(default.predict(X), pipe.predict(X))


@pytest.mark.parametrize(
    "runtime, shards, cores, threads",
    [
        ("local", 1, 2, 2),  # one shard: both cores
        ("local", 2, 2, 1),  # two side by side: one each
        ("local", 7, 2, 1),
        ("local", 2, 8, 4),
        ("kubernetes", 7, 2, 2),  # a worker each: all of its cores
        ("aws-batch", 3, 4, 4),
    ],
)
def test_a_shard_predicts_on_its_share_of_the_cores(monkeypatch, runtime, shards, cores, threads):
    from modelops import threads as t

    monkeypatch.setattr(t, "cores", lambda: cores)
    monkeypatch.setenv(t.RUNTIME_ENV, runtime)
    assert t.shard_threads(shards) == threads
    if runtime == "local":
        monkeypatch.delenv(t.RUNTIME_ENV)  # the local runtime does not set it
        assert t.shard_threads(shards) == threads


@pytest.mark.parametrize(
    "name, expected",
    [
        ("batch.2024-01.csv", "batch.2024-01.predictions.csv"),
        ("batch.2024-02.csv", "batch.2024-02.predictions.csv"),
        ("new.csv.gz", "new.predictions.csv"),
        ("extract.v2.parquet", "extract.v2.predictions.csv"),
        ("noext", "noext.predictions.csv"),
    ],
)
def test_default_output_keeps_the_whole_stem(tmp_path, name, expected):
    """Two monthly files must not share one predictions file (January silently replaced)."""
    assert default_output(tmp_path / name) == tmp_path / expected


def test_output_equal_to_input_is_refused_before_reading(tmp_path, frame):
    reg, _, _ = register_linear(tmp_path, frame())
    model = load_model(reg, "m", PRODUCTION)
    src = tmp_path / "in.csv"
    frame(n=20).drop(columns="y").to_csv(src, index=False)
    before = src.read_bytes()
    for same in (src, tmp_path / "sub" / ".." / "in.csv"):
        with pytest.raises(DataError, match="the output is the input file"):
            score_file(model, src, same, overwrite=True)
    assert src.read_bytes() == before
