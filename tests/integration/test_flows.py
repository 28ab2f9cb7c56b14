"""TrainFlow and ScoreFlow for real, on a few hundred rows: promotion, champion defence,
scoring and every bad input the issue lists. Each scenario has its own folder, registry and W&B
directory; tests that build on the first run (or its challenger) ask for it as a fixture, so any
order, or any single test, works."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from modelops.registry import PRODUCTION, LocalRegistry
from modelops.training.candidates import FAMILIES

from .conftest import ROOT, FlowRun, run_flow

pytestmark = pytest.mark.integration
WORSE_CONFIG = ROOT / "tests" / "integration" / "worse_config.json"
ALL = list(FAMILIES)  # the flow's default candidates (tests/unit/test_models.py checks)


@dataclass
class Trained:
    """The first TrainFlow run of the diamonds scenario, and where its registry lives."""

    run: FlowRun
    where: Path

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def registry(self) -> LocalRegistry:
        return LocalRegistry(self.where / "registry")


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> Trained:
    where = tmp_path_factory.mktemp("diamonds")
    (where / "train").mkdir()  # the first run's own W&B directory: its runs alone are counted
    r = run_flow(
        "train_flow.py",
        sample_rows=400,
        cv_folds=2,
        where=where,
        env={"WANDB_DIR": str(where / "train")},
    )
    assert r.ok, r.output[-4000:]
    return Trained(r, where)


@pytest.fixture(scope="module")
def challenger(first) -> FlowRun:
    """A worse model registered after the first one (v1, not promoted)."""
    r = run_flow(
        "train_flow.py",
        sample_rows=400,
        cv_folds=2,
        candidates="linear",
        config=WORSE_CONFIG,
        where=first.where,
    )
    assert r.ok, r.output[-4000:]
    return r


def test_first_run_registers_and_promotes(first):
    data = first.run.run.data
    assert data.registered_version == 0 and data.promoted and data.production_version == 0
    mv = first.registry.get("diamonds-price", PRODUCTION)
    assert mv.version == 0
    meta = mv.metadata
    assert meta["metaflow_run"].startswith(f"TrainFlow/{first.run_id}/register/")
    assert meta["task"] == "regression" and meta["metric"] == "rmse"
    assert [c["name"] for c in meta["schema"]["columns"]][:3] == ["carat", "cut", "color"]
    assert len(meta["training_data_sha256"]) == 64 and meta["git_commit"]
    assert set(mv.files) == {"model.joblib", "reference.parquet"}
    board = data.selection.board
    assert set(board["candidate"]) - {"ensemble"} == set(ALL)  # every family, none dropped
    assert board.loc[0, "candidate"] == mv.metadata["candidate"]  # the champion, then by CV
    assert board["cv_rmse"].iloc[1:].is_monotonic_increasing
    assert (board.loc[board["candidate"] != "ensemble", "trials"] >= 1).all()
    weights = {m["member"]: m["weight"] for m in meta["ensemble"]}
    chosen = meta["selection"]
    assert chosen["chosen"] == meta["candidate"] and chosen["metric"] == "rmse"
    ensemble_row = board.loc[board["candidate"] == "ensemble"].iloc[0]
    assert chosen["ensemble_cv"] == pytest.approx(ensemble_row["cv_rmse"])
    # the ensemble is chosen only when its CV beats choosing one family, scored alike
    if meta["candidate"] == "ensemble":
        assert weights and sum(weights.values()) == pytest.approx(1.0)
        assert chosen["ensemble_cv"] < chosen["one_family_cv"]
    else:
        assert not weights and chosen["ensemble_cv"] >= chosen["one_family_cv"]
    assert meta["search"]["folds"] == "2-fold" and set(meta["search"]["families"]) == set(ALL)
    # a small table: the families searched in one task per core, every family once
    tasks = list(first.run.run["search"].tasks())
    searched = [s.label for t in tasks for s in t["scores"].data]
    assert len(tasks) == min(len(ALL), len(os.sched_getaffinity(0))) and sorted(searched) == sorted(
        ALL
    )


def test_every_candidate_and_the_selection_are_logged_offline_to_wandb(first):
    runs = list((first.where / "train" / "wandb").glob("offline-run-*"))
    board = first.run.run.data.selection.board
    # a search run per family (its trials as steps) and one train run (data, leaderboard,
    # every candidate's chart, the model), each syncable; never a run per trial or candidate
    families = int((board["candidate"] != "ensemble").sum())
    assert len(runs) == families + 1
    assert all(list(r.glob("run-*.wandb")) for r in runs)


def _card_components(task, card_id: str) -> str:
    """A card's components as JSON text: the card embeds them as base64 JSON in its HTML."""
    from metaflow.cards import get_cards

    html = get_cards(task, id=card_id)[0].get()
    payload = re.search(r'__MF_DATA__\["[^"]+"\] = "([^"]+)"', html).group(1)
    return json.dumps(json.loads(base64.b64decode(payload)))


def test_selection_card_is_rendered(first):
    components = _card_components(first.run.run["register"].task, "selection")
    assert "PROMOTED to production" in components and "Leaderboard" in components
    assert "feature importance" in components and "holdout diagnostics" in components
    assert "Search history" in components and "training rows" in components
    # what decided between the ensemble and one family, with both numbers
    chosen = first.registry.get("diamonds-price", PRODUCTION).metadata["selection"]
    assert f"Champion: {chosen['chosen']}." in components
    assert f"one family {chosen['one_family_cv']:.5g}" in components
    # leaderboard, search history, diagnostics, importance, the parameters each family tried,
    # and the ensemble's weights when the champion is one
    assert "Parameters tried, by family" in components
    ensemble = chosen["chosen"] == "ensemble"
    assert ('"## Ensemble weights"' in components) == ensemble
    assert components.count('"type": "image"') == 5 + ensemble


def test_worse_challenger_does_not_take_production(first, challenger):
    r = challenger
    data = r.run.data
    assert data.registered_version == 1 and not data.promoted
    assert first.registry.get("diamonds-price", PRODUCTION).version == 0
    reasons = data.outcome.decision.reasons
    assert any("not clearly beat production v0" in reason for reason in reasons), reasons
    improvement = data.outcome.decision.improvement
    assert improvement.resamples == 1000 and improvement.high < 0  # worse beyond doubt


def test_score_flow_writes_one_prediction_per_row(first, challenger, tmp_path):
    src = tmp_path / "new.csv"
    new = pd.read_csv(ROOT / "data" / "new_diamonds.csv").head(123)
    new.to_csv(src, index=False)
    r = run_flow("score_flow.py", input=str(src), where=first.where)
    assert r.ok, r.output[-4000:]
    out = pd.read_csv(tmp_path / "new.predictions.csv")
    assert len(out) == 123 and list(out["id"]) == list(new["id"])
    assert set(out["model_version"]) == {"v0"} and out["prediction"].notna().all()
    v1 = tmp_path / "v1.parquet"
    r = run_flow(
        "score_flow.py",
        input=str(src),
        model="v1",
        output=str(v1),
        where=first.where,
    )
    assert r.ok, r.output[-4000:]
    assert set(pd.read_parquet(v1)["model_version"]) == {"v1"}


def test_resuming_score_flow_after_it_published_keeps_the_output(first, tmp_path):
    """`resume` of a run killed after publishing (here: forced from `merge`) must neither fail
    on "output exists" nor rewrite the predictions."""
    src = tmp_path / "new.csv"
    pd.read_csv(ROOT / "data" / "new_diamonds.csv").head(60).to_csv(src, index=False)
    r = run_flow("score_flow.py", input=str(src), where=first.where)
    assert r.ok, r.output[-4000:]
    out = tmp_path / "new.predictions.csv"
    published = out.read_bytes()
    resume = {"origin_run_id": r.run_id, "step_to_rerun": "merge"}
    again = run_flow("score_flow.py", resume=resume, where=first.where)
    assert again.ok, again.output[-4000:]
    assert out.read_bytes() == published
    assert not list(tmp_path.glob(".new.predictions.csv.parts-*"))  # nothing left behind


def test_score_flow_rejects_missing_columns(first, tmp_path):
    src = tmp_path / "no_carat.csv"
    pd.read_csv(ROOT / "data" / "new_diamonds.csv").drop(columns=["carat", "cut"]).to_csv(
        src, index=False
    )
    r = run_flow("score_flow.py", input=str(src), where=first.where)
    assert not r.ok
    assert "missing required column(s) ['carat', 'cut']" in r.output and str(src) in r.output


def test_classification_end_to_end(tmp_path):
    state = tmp_path
    r = run_flow(
        "train_flow.py",
        data="breast_cancer",
        candidates="linear,catboost",
        metric="log_loss",
        where=state,
    )
    assert r.ok, r.output[-4000:]
    data = r.run.data
    assert data.promoted and data.prepared.task == "binary" and data.prepared.metric == "log_loss"
    board = data.selection.board.set_index("candidate")
    params = board.loc["catboost", "params"]
    assert "'refit_seeds': 2" in params  # a bag of two seeds, scored below ...
    assert "'temperature':" in params and "'temperature':" in board.loc["linear", "params"]
    # ... at its fitted temperature, as the model ScoreFlow loads
    src = state / "bc.csv"
    pd.read_csv(ROOT / "data" / "breast_cancer.csv").drop(columns="diagnosis").head(40).to_csv(
        src, index=False
    )
    r = run_flow("score_flow.py", input=str(src), model_name="breast_cancer-diagnosis", where=state)
    assert r.ok, r.output[-4000:]
    out = pd.read_csv(state / "bc.predictions.csv")
    assert set(out["prediction"]) <= {"benign", "malignant"}
    assert ((out["proba_benign"] + out["proba_malignant"] - 1).abs() < 1e-9).all()


def _write(state, name: str, text: str | bytes) -> str:
    p = state / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(p)


BAD_INPUTS = [
    # (file name, content, extra args, expected message)
    ("no_target.csv", "a,b\n1,2\n3,4\n", {"target": "price"}, "target column 'price' not found"),
    ("empty.csv", "", {"target": "price"}, "file is empty"),
    ("unreadable.parquet", b"\x00\x01 not parquet", {"target": "price"}, "cannot be read"),
    (
        "constant.csv",
        "a,price\n" + "".join(f"{i},5\n" for i in range(50)),
        {"target": "price"},
        "is constant",
    ),
    (
        "text_target.csv",
        "a,price\n" + "".join(f"{i},{'cheap' if i % 2 else 'dear'}\n" for i in range(50)),
        {"target": "price", "task": "regression"},
        "regression needs a numeric target",
    ),
    (
        "rare_class.csv",
        "a,label\n" + "".join(f"{i},{'x' if i < 2 else 'y'}\n" for i in range(60)),
        {"target": "label"},
        "have fewer than 3 rows",
    ),
]


@pytest.mark.parametrize("name, content, args, message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_train_flow_rejects_bad_input_before_training(tmp_path, name, content, args, message):
    path = _write(tmp_path, name, content)
    r = run_flow("train_flow.py", data=path, **args, where=tmp_path)
    assert not r.ok
    assert message in r.output and path in r.output
    assert "Traceback" not in r.output  # a user error is its message, not a stack
    assert "/search/" not in r.output  # failed in start: nothing was fitted
    registry = LocalRegistry(tmp_path / "registry")
    assert registry.find(f"{name.split('.')[0]}-{args['target']}", "latest") is None


def test_train_flow_rejects_unknown_candidate(tmp_path):
    r = run_flow("train_flow.py", candidates="linear,svm", where=tmp_path)
    assert not r.ok and "unknown candidate(s) ['svm']" in r.output


@pytest.mark.parametrize("command", [["show"], ["argo-workflows", "create", "--only-json"]])
def test_a_bad_config_is_refused_when_the_flow_loads(tmp_path, command):
    """Not only `run`: a deploy command refuses the config before it deploys anything."""
    raw = json.loads((ROOT / "configs" / "train.json").read_text())
    raw["search"]["families"]["catboost"]["share"] = -1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw))
    done = subprocess.run(
        [sys.executable, str(ROOT / "flows" / "train_flow.py"), "--config", "config", str(bad)]
        + command,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=os.environ | {"METAFLOW_USER": "test"},
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "error: config: search.families.catboost.share" in output
    assert "Traceback" not in output


def test_score_flow_keeps_rejects_and_accounts_for_every_row(first, tmp_path):
    state = tmp_path
    src = state / "dirty.csv"
    good = (ROOT / "data" / "new_diamonds.csv").read_bytes().splitlines(keepends=True)[:51]
    src.write_bytes(b"".join(good) + b"d1,0.5,Ideal,E,SI1,61,55,abc,5.1,3.1\nd2,0.5,Ideal\n")
    # ~1 KB shards: several foreach tasks, merged back in input order
    r = run_flow(
        "score_flow.py",
        input=str(src),
        max_reject_rate=0.1,
        shard_mb=0.001,
        where=first.where,
    )
    assert r.ok, r.output[-4000:]
    data = r.run.data
    assert len(data.plan.shards) >= 3
    assert data.accounting["rows_read"] == 52 and data.accounting["rows_rejected"] == 2
    assert data.accounting["balanced"]
    rejects = pd.read_csv(state / "dirty.predictions.rejects.csv")
    assert list(rejects["line"]) == [52, 53]
    out = pd.read_csv(state / "dirty.predictions.csv")
    expected = pd.read_csv(ROOT / "data" / "new_diamonds.csv").head(50)
    assert list(out["id"]) == list(expected["id"])  # every good row, in input order
    assert not list(state.glob(".dirty.predictions.csv.parts-*"))  # shard parts cleaned up
    r = run_flow("score_flow.py", input=str(src), where=first.where)  # output exists now
    assert not r.ok and "output exists; pass --overwrite" in r.output


def test_score_flow_on_s3_gives_the_same_bytes_as_on_one_disk(first, tmp_path, s3_server):
    """Workers that share only S3: input read by ranged GETs, parts under the run's S3 prefix,
    output, rejects and drift files published to S3; the result equals the local run's."""
    good = (ROOT / "data" / "new_diamonds.csv").read_bytes().splitlines(keepends=True)[:51]
    body = b"".join(good) + b"d1,0.5,Ideal,E,SI1,61,55,abc,5.1,3.1\nd2,0.5,Ideal\n"
    state = tmp_path
    local = state / "s3check.csv"
    local.write_bytes(body)
    shards = {"max_reject_rate": 0.1, "shard_mb": 0.001}  # same shards: same floats
    r = run_flow("score_flow.py", input=str(local), **shards, where=first.where)
    assert r.ok, r.output[-4000:]
    s3, bucket = s3_server.client(), s3_server.bucket
    s3.put_object(Bucket=bucket, Key="in/s3check.csv", Body=body)
    r = run_flow(
        "score_flow.py",
        input=f"s3://{bucket}/in/s3check.csv",
        **shards,
        top={"datastore": "s3"},
        env=s3_server.env,
        where=first.where,
    )
    assert r.ok, r.output[-4000:]
    assert "52 rows read = 50 scored + 2 rejected" in r.output

    def get(key: str) -> bytes:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    assert get("in/s3check.predictions.csv") == (state / "s3check.predictions.csv").read_bytes()
    assert (
        get("in/s3check.predictions.rejects.csv")
        == (state / "s3check.predictions.rejects.csv").read_bytes()
    )
    drift = json.loads(get("in/s3check.predictions.drift.json"))
    assert drift["n_columns"] == 9 and b"<!DOCTYPE html>" in get(
        "in/s3check.predictions.drift.html"
    )
    parts = s3.list_objects_v2(Bucket=bucket, Prefix=f"data/ScoreFlow/{r.run_id}/score-parts/")
    names = [o["Key"].rsplit("/", 1)[1] for o in parts.get("Contents", [])]
    assert len([n for n in names if n.startswith("part-")]) >= 3  # several shard workers
    assert not list(state.glob(".s3check*parts-*"))  # nothing written to the local disk


def test_drift_is_reported_and_can_fail_the_run_after_writing(tmp_path):
    state = tmp_path
    model = {"model_name": "drift-demo"}
    drift_config = ROOT / "tests" / "integration" / "drift_config.json"
    r = run_flow(
        "train_flow.py",
        sample_rows=8000,
        candidates="linear",
        **model,
        config=drift_config,
        where=state,
    )
    assert r.ok, r.output[-4000:]
    labelled = pd.read_csv(ROOT / "data" / "diamonds.csv.gz").sample(4000, random_state=99)
    labelled.to_csv(state / "fresh.csv", index=False)  # labels arrived: price is in the file
    r = run_flow(
        "score_flow.py",
        input=str(state / "fresh.csv"),
        **model,
        fail_on_drift=True,
        labels="price",
        where=state,
    )
    assert r.ok, r.output[-4000:]
    data = r.run.data
    assert not data.drift_result.drifted
    perf = data.performance
    assert perf.rows == 4000 and perf.realised["r2"] > 0.8 and "rmse" in perf.training
    assert (state / "fresh.predictions.performance.html").exists()
    # every card of ScoreFlow renders with its content (a card type that is not installed
    # renders as an error page, which this catches)
    scoring = _card_components(r.run["merge"].task, "scoring")
    assert "4000 rows scored with drift-demo" in scoring and "Missing values" in scoring
    drift_card = _card_components(r.run["drift"].task, "drift")
    assert "no drift" in drift_card and "carat" in drift_card and "q_value" in drift_card
    assert '"type": "image"' in drift_card
    fresh = labelled.drop(columns="price")

    fresh.assign(carat=fresh["carat"] * 1.5).to_csv(state / "drifted.csv", index=False)
    r = run_flow(
        "score_flow.py",
        input=str(state / "drifted.csv"),
        **model,
        fail_on_drift=True,
        where=state,
    )
    assert not r.ok and "--fail-on-drift: data drift" in r.output and "carat" in r.output
    assert len(pd.read_csv(state / "drifted.predictions.csv")) == 4000  # written before failing
    html = (state / "drifted.predictions.drift.html").read_text()
    assert "carat" in html

    # The monitor workflow's decision reads the summary ScoreFlow saved beside the output.
    for name, expected in (("fresh", "false"), ("drifted", "true")):
        summary = state / f"{name}.predictions.drift.json"
        assert json.loads(summary.read_text())["drifted"] is (expected == "true")
        gh_output = state / f"{name}.gh_output"
        gh_output.write_text("")
        decided = subprocess.run(
            [sys.executable, "-m", "modelops.monitoring", "decide", "--drift", str(summary),
             "--retrain-data", "s3://bucket/diamonds/{month}.csv"],
            env=os.environ | {"GITHUB_OUTPUT": str(gh_output)},
            capture_output=True,
            text=True,
            check=True,
        )  # fmt: skip
        # a retrain trains on the drifted window's labelled rows, named in the output
        month = datetime.now(UTC).strftime("%Y-%m")
        data = f"s3://bucket/diamonds/{month}.csv" if expected == "true" else ""
        assert gh_output.read_text() == f"retrain={expected}\ndata={data}\n", decided.stdout


def test_a_table_with_an_id_and_a_date_goes_through_train_score_and_monitor(tmp_path):
    """A user's own table: an integer customer number numbered after sorting by the label, a
    date-only column, time-ordered validation; next month's rows (new IDs) score without a
    drift alarm, and the monitor's rule does not ask for a retrain."""
    import numpy as np

    rng = np.random.default_rng(7)
    n = 900
    df = pd.DataFrame(
        {
            "visits": rng.poisson(3, n).astype(float),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "signed_up": (pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) // 3, "D"))
            .strftime("%Y-%m-%d")
            .to_numpy(),
        }
    )
    score = df["visits"] + df["plan"].map({"basic": 0, "plus": 1, "pro": 2})
    df["churned"] = np.where(score + rng.normal(0, 1.5, n) > 4, "yes", "no")
    df = df.sort_values("churned", kind="stable").reset_index(drop=True)
    df.insert(0, "customer_id", np.arange(50_000, 50_000 + n))  # leaks the sorted label
    df = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    train, later = df.iloc[:700], df.iloc[700:]
    train.to_csv(tmp_path / "churn_2024-06.csv", index=False)
    later.drop(columns="churned").assign(customer_id=lambda d: d["customer_id"] + 10_000).to_csv(
        tmp_path / "churn_2024-07.csv", index=False
    )
    r = run_flow(
        "train_flow.py",
        data=str(tmp_path / "churn_2024-06.csv"),
        target="churned",
        candidates="linear,lightgbm",
        time_column="signed_up",
        where=tmp_path,
    )
    assert r.ok, r.output[-4000:]
    prep = r.run["start"].task.data.prepared
    assert prep.model_name == "churn-churned"  # next month's file meets this champion
    assert "customer_id" in prep.schema.ignored and prep.folds.kind == "forward-chaining"
    assert "signed_up_hour" not in prep.schema.date_parts
    assert "look like identifiers" in r.output and "--time-column signed_up" in r.output
    assert r.run.data.promoted  # useful against the class prior: promoted
    holdout = r.run.data.challenger_metrics["roc_auc"]
    assert holdout < 0.99  # the customer number did not leak the label
    s = run_flow("score_flow.py", input=str(tmp_path / "churn_2024-07.csv"), where=tmp_path)
    assert s.ok, s.output[-4000:]
    out = pd.read_csv(tmp_path / "churn_2024-07.predictions.csv")
    assert len(out) == 200 and out["customer_id"].min() >= 60_000  # carried through
    drift = s.run.data.drift_result
    assert "customer_id" not in drift.columns and not drift.drifted
    decided = subprocess.run(
        [sys.executable, "-m", "modelops.monitoring", "decide", "--drift",
         str(tmp_path / "churn_2024-07.predictions.drift.json")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(decided.stdout)["retrain"] is False
