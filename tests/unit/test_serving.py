"""The prediction service in-process (FastAPI's TestClient): the request contract, per-row
rejects, the swap when `production` moves, refusal of a tampered version, metrics, the log."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from modelops.registry import PRODUCTION
from modelops.registry.packaging import MODEL_FILE, signed
from modelops.schema import infer_schema
from modelops.serving.app import create_app
from modelops.serving.live import LiveModel, load_served
from modelops.serving.predlog import PredictionLog
from modelops.serving.records import RequestError, read_records
from tests.conftest import linear_version, make_frame, register_linear


def _client(reg, **kwargs) -> tuple[TestClient, LiveModel]:
    live = LiveModel(reg, "m", "production", poll_seconds=3600)
    return TestClient(create_app(live, follow=False, **kwargs)), live


def _register_shifted(reg, df: pd.DataFrame, tmp: Path, shift: float) -> int:
    """Register another version of `m` whose predictions are `shift` higher; return its number."""
    files, meta, _, _ = linear_version(df.assign(y=df["y"] + shift), tmp, run="TrainFlow/2")
    return reg.register("m", files, signed("m", files, meta)).version


def _version_dir(reg, version: int) -> Path:
    return Path(reg.root) / "m" / f"v{version:04d}"


ROW = {"num_a": 0.5, "num_b": 3.0, "colour": "red"}


def test_records_contract():
    schema = infer_schema(make_frame(60), "y", "regression")
    one = read_records(ROW, schema)
    assert one.index == [0] and one.frame.loc[0, "num_a"] == 0.5
    wrapped = read_records({"records": [ROW, ROW]}, schema)
    assert wrapped.index == [0, 1]
    # numbers as text are read as numbers, categories trimmed, blank is missing
    b = read_records([{"num_a": " 1.5 ", "num_b": "", "colour": "  red "}], schema)
    assert b.frame.loc[0, "num_a"] == 1.5 and np.isnan(b.frame.loc[0, "num_b"])
    assert b.frame.loc[0, "colour"] == "red"
    # per-row problems: the row is rejected with its index and reason, the others kept
    rows = [ROW, {**ROW, "num_a": "abc"}, {**ROW, "num_b": "inf"}, {**ROW, "colour": [1]}, ROW]
    b = read_records(rows, schema)
    assert b.index == [0, 4] and len(b.frame) == 2
    reasons = {r.index: r.reason for r in b.rejected}
    assert set(reasons) == {1, 2, 3}
    assert "'num_a'" in reasons[1] and "'abc' is not a number" in reasons[1]
    assert "not a finite number" in reasons[2] and "'colour'" in reasons[3]
    # the request as a whole
    for body in ("text", [], [ROW, 3], None, 5):
        with pytest.raises(RequestError, match="records|object"):
            read_records(body, schema)
    with pytest.raises(RequestError, match=r"\['num_b'\]"):
        read_records([{"num_a": 1, "colour": "red"}], schema)


def test_a_date_that_is_not_one_is_a_rejected_row_as_in_scoreflow():
    df = make_frame(60).assign(day=pd.date_range("2024-01-01", periods=60).strftime("%Y-%m-%d"))
    schema = infer_schema(df, "y", "regression")
    assert schema.datetime == ["day"]
    days = ["2025-02-03", "2025-02-03T10:00:00Z", " ", None, "03/02/2025", "soon"]
    b = read_records([{**ROW, "day": d} for d in days], schema)
    assert b.index == [0, 1, 2, 3]  # blank and absent dates are missing, not wrong
    assert {r.index: r.reason for r in b.rejected} == {
        4: "column 'day': '03/02/2025' is not an ISO-8601 date",
        5: "column 'day': 'soon' is not an ISO-8601 date",
    }


def test_predict_matches_the_pipeline_and_keeps_every_row(tmp_path):
    df = make_frame(200)
    reg, schema, pipe = register_linear(tmp_path, df)
    client, _ = _client(reg)
    with client:
        rows = df.drop(columns="y").head(5)
        records = rows.astype(object).where(rows.notna(), None).to_dict("records")
        records[2] = {**records[2], "num_a": "not a number"}
        r = client.post("/predict", json=records)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model_name"] == "m" and body["model_version"] == "v0"
        assert [p["index"] for p in body["predictions"]] == [0, 1, 3, 4]
        assert body["rejected"] == [
            {"index": 2, "reason": "column 'num_a': 'not a number' is not a number"}
        ]
        expected = pipe.predict(rows.iloc[[0, 1, 3, 4]])
        got = [p["prediction"] for p in body["predictions"]]
        np.testing.assert_allclose(got, expected, rtol=1e-12)

        missing = client.post("/predict", json=[{"num_a": 1, "colour": "red"}])
        assert missing.status_code == 422 and "num_b" in missing.json()["detail"]
        not_json = client.post("/predict", content=b"{oops", headers=JSON)
        assert not_json.status_code == 422 and "not valid JSON" in not_json.json()["detail"]
        assert client.post("/predict", json="a string").status_code == 422

        metrics = client.get("/metrics").text
        assert 'modelops_requests_total{endpoint="/predict",status="200"} 1.0' in metrics
        assert 'modelops_requests_total{endpoint="/predict",status="422"} 3.0' in metrics
        assert "modelops_rows_scored_total 4.0" in metrics
        assert "modelops_rows_rejected_total 1.0" in metrics
        assert 'modelops_model_version{model_name="m"} 0.0' in metrics


def test_classifier_answers_probabilities(tmp_path):
    df = make_frame(200, "binary")
    reg, _, pipe = register_linear(tmp_path, df, "binary")
    client, _ = _client(reg)
    with client:
        body = client.post("/predict", json=ROW).json()
    (p,) = body["predictions"]
    assert set(p["probabilities"]) == {"no", "yes"}
    assert sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert p["prediction"] == pipe.predict(pd.DataFrame([ROW]))[0]


def test_health_ready_model_page_and_openapi(tmp_path):
    reg, schema, _ = register_linear(tmp_path, make_frame(200))
    client, _ = _client(reg)
    with client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").json()["model_version"] == "v0"
        model = client.get("/model").json()
        assert model["training_run"] == "TrainFlow/1" and model["follows"] == "production"
        # the keys the registry stores, not names it never writes
        assert model["data_digest"] == "digest" and model["code_version"]
        assert [c["name"] for c in model["schema"]["columns"]] == schema.feature_names
        page = client.get("/").text
        assert '<select name="colour"' in page and "<option>green</option>" in page
        assert 'type="number"' in page and "training range" in page
        doc = client.get("/openapi.json").json()
        body = doc["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
        record = body["schema"]["oneOf"][0]
        assert set(record["properties"]) == {"num_a", "num_b", "colour"}
        assert record["required"] == schema.required


def test_production_move_is_served_after_verification(tmp_path):
    df = make_frame(200)
    reg, schema, _ = register_linear(tmp_path, df)
    v1 = _register_shifted(reg, df, tmp_path / "v1", shift=100.0)
    client, live = _client(reg)
    with client:
        before = client.post("/predict", json=ROW).json()
        in_flight = live.current()  # what a request that started now holds
        reg.set_alias("m", PRODUCTION, v1)
        assert live.refresh() == "loaded v1"
        after = client.post("/predict", json=ROW).json()
        assert (before["model_version"], after["model_version"]) == ("v0", "v1")
        shift = after["predictions"][0]["prediction"] - before["predictions"][0]["prediction"]
        assert shift == pytest.approx(100.0, abs=1.0)
        assert in_flight.version == "v0"  # the old model still answers the request it started
        assert live.refresh() == "unchanged"
        assert client.get("/model").json()["model_version"] == "v1"


def test_tampered_version_is_refused_and_the_old_one_kept(tmp_path):
    df = make_frame(200)
    reg, schema, _ = register_linear(tmp_path, df)
    v1 = _register_shifted(reg, df, tmp_path / "v1", shift=100.0)
    with open(_version_dir(reg, v1) / MODEL_FILE, "r+b") as f:  # one byte changed
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    loads = []

    def counting_loader(*args):
        loads.append(args[2])
        return load_served(*args)

    live = LiveModel(reg, "m", "production", poll_seconds=3600, loader=counting_loader)
    client = TestClient(create_app(live, follow=False))
    with client:
        reg.set_alias("m", PRODUCTION, v1)
        outcome = live.refresh()
        assert outcome.startswith("refused v1") and "SHA-256" in outcome
        assert client.post("/predict", json=ROW).json()["model_version"] == "v0"
        assert live.refresh().startswith("refused v1")
        assert loads == [0, 1]  # the refused version is not downloaded again every interval
        assert "v1" in client.get("/model").json()["refused_versions"]
        assert "modelops_model_refused_versions 1.0" in client.get("/metrics").text
        live.wake()  # SIGHUP: the operator asks again
        assert live.refresh().startswith("refused v1") and loads == [0, 1, 1]


def test_not_ready_until_a_verified_model_exists(tmp_path):
    reg, _, _ = register_linear(tmp_path, make_frame(200))
    (_version_dir(reg, 0) / MODEL_FILE).write_bytes(b"not the model")
    client, _ = _client(reg)
    with client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503 and "SHA-256" in ready.json()["detail"]
        assert client.post("/predict", json=ROW).status_code == 503


def test_no_request_fails_while_production_moves(tmp_path):
    df = make_frame(200)
    reg, schema, _ = register_linear(tmp_path, df)
    v1 = _register_shifted(reg, df, tmp_path / "v1", shift=100.0)
    client, live = _client(reg)
    failures, versions = [], set()

    def hammer() -> None:
        for _ in range(40):
            r = client.post("/predict", json=[ROW] * 20)
            if r.status_code != 200 or len(r.json()["predictions"]) != 20:
                failures.append(r.text)
            versions.add(r.json()["model_version"])

    with client:
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        for target in (v1, 0, v1):
            reg.set_alias("m", PRODUCTION, target)
            live.refresh()
        for t in threads:
            t.join()
    assert failures == []
    assert versions <= {"v0", "v1"} and live.current().version == "v1"


def test_served_rows_are_logged_as_parquet_parts(tmp_path):
    reg, _, _ = register_linear(tmp_path, make_frame(200))
    log = PredictionLog(tmp_path / "served", part_bytes=1)  # every request is a part
    client, _ = _client(reg, prediction_log=log)
    with client:
        client.post("/predict", json=[ROW, {**ROW, "num_a": "x"}, ROW])
        client.post("/predict", json=ROW)
    assert len(log.parts) == 2 and not list((tmp_path / "served").glob(".*"))
    served = pd.read_parquet(tmp_path / "served")
    assert len(served) == 3  # the rejected row is not a prediction
    assert {"num_a", "num_b", "colour", "prediction", "model_version", "served_at"} <= set(
        served.columns
    )


def test_a_log_write_that_fails_keeps_the_answer_and_the_rows(tmp_path, monkeypatch):
    reg, _, _ = register_linear(tmp_path, make_frame(200))
    log = PredictionLog(tmp_path / "served", part_bytes=1, flush_seconds=0)
    client, _ = _client(reg, prediction_log=log)
    real = pd.DataFrame.to_parquet

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with client:
        monkeypatch.setattr(pd.DataFrame, "to_parquet", disk_full)
        for _ in range(2):
            r = client.post("/predict", json=[ROW, ROW])
            assert r.status_code == 200 and len(r.json()["predictions"]) == 2
        health = client.get("/health").json()
        assert health["status"] == "degraded" and "No space left" in health["prediction_log"]
        assert health["buffered_rows"] == 4
        metrics = client.get("/metrics").text
        assert "modelops_prediction_log_failures 2.0" in metrics
        assert "modelops_prediction_log_buffered_rows 4.0" in metrics
        monkeypatch.setattr(pd.DataFrame, "to_parquet", real)  # space again
        client.post("/predict", json=ROW)
        assert client.get("/health").json() == {"status": "ok"}
    assert len(pd.read_parquet(tmp_path / "served")) == 5  # nothing lost


@pytest.mark.parametrize("kind", ["file", "under-a-file"])
def test_a_log_folder_that_cannot_be_written_is_a_one_line_error_at_start(tmp_path, kind):
    from modelops.errors import ConfigError

    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    where = blocker if kind == "file" else blocker / "served"
    with pytest.raises(ConfigError, match=r"--log-predictions .*cannot write there"):
        PredictionLog(where)


JSON = {"content-type": "application/json"}


def test_bodies_that_are_not_declared_json_too_large_or_too_deep_are_refused(tmp_path):
    reg, _, _ = register_linear(tmp_path, make_frame(120))
    live = LiveModel(reg, "m", "production", poll_seconds=3600)
    app = create_app(live, follow=False, max_body_bytes=10_000)
    with TestClient(app) as client:
        row = json.dumps(ROW).encode()
        # a simple cross-site request (no preflight) cannot reach the model or its log
        for kind in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = {"content-type": kind} if kind else {}
            r = client.post("/predict", content=row, headers=headers)
            assert r.status_code == 415 and "application/json" in r.json()["detail"]
        big = client.post("/predict", content=b"[" + b"1," * 6000 + b"1]", headers=JSON)
        assert big.status_code == 413 and "limit is 10000" in big.json()["detail"]
        deep = client.post("/predict", content=b"[" * 1000 + b"]" * 1000, headers=JSON)
        assert deep.status_code == 422 and "nested too deeply" in deep.json()["detail"]
        assert client.post("/predict", content=row, headers=JSON).status_code == 200


def test_a_number_too_large_for_a_float_rejects_its_row_only(tmp_path):
    reg, _, _ = register_linear(tmp_path, make_frame(120))
    client, _ = _client(reg)
    huge = int("1" + "0" * 400)
    with client:
        for value in (huge, str(huge)):
            r = client.post("/predict", json=[ROW, {**ROW, "num_a": value}])
            assert r.status_code == 200, r.text
            body = r.json()
            assert [p["index"] for p in body["predictions"]] == [0]
            assert body["rejected"][0]["index"] == 1
            assert "num_a" in body["rejected"][0]["reason"]


def test_only_the_allowed_hosts_are_answered(tmp_path):
    reg, _, _ = register_linear(tmp_path, make_frame(120))
    live = LiveModel(reg, "m", "production", poll_seconds=3600)
    app = create_app(live, follow=False, allowed_hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://localhost:8000") as client:
        assert client.get("/health").status_code == 200
        rebound = client.get("/health", headers={"host": "evil.example:8000"})
        assert rebound.status_code == 400


HOSTILE = '"><img src=x onerror=alert(1)><script>alert(2)</script>'


def test_hostile_registry_text_is_escaped_on_the_not_ready_page(tmp_path):
    reg, _, _ = register_linear(tmp_path, make_frame(120))
    path = _version_dir(reg, 0) / "metadata.json"
    record = json.loads(path.read_text())
    record["metadata"]["signature"]["key_id"] = HOSTILE
    path.write_text(json.dumps(record))
    client, _ = _client(reg)
    with client:
        response = client.get("/")
    assert response.status_code == 503
    assert "signed with another key" in response.text
    assert "<img" not in response.text and "<script>alert" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text


def test_hostile_names_and_categories_are_escaped_on_the_page(tmp_path):
    df = make_frame(120)
    df[HOSTILE] = df["num_a"] * 2
    df["colour"] = df["colour"].replace({"red": HOSTILE})
    reg, _, _ = register_linear(tmp_path, df)
    client, _ = _client(reg)
    with client:
        page = client.get("/").text
    assert "<img" not in page and "<script>alert" not in page
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") >= 3  # label, name, option
    assert page.count("<script>") == 1  # the page's own script only


def test_the_api_docs_page_needs_no_network(tmp_path):
    reg, _, _ = register_linear(tmp_path, make_frame(120))
    client, _ = _client(reg)
    with client:
        docs = client.get("/docs").text
        assert "cdn" not in docs.lower()
        scripts = [u for u in docs.split('"') if u.endswith((".js", ".css"))]
        assert scripts and all(u.startswith("/") for u in scripts)
        for url in scripts:  # served by the service itself
            assert client.get(url).status_code == 200


def test_an_empty_records_list_says_so(tmp_path):
    reg, _, _ = register_linear(tmp_path, make_frame(120))
    client, _ = _client(reg)
    with client:
        for body in ({"records": []}, []):
            r = client.post("/predict", json=body)
            assert r.status_code == 422 and "holds no records" in r.json()["detail"]
