"""The prediction service as a user runs it: `python -m modelops serve` on a free port against a
local registry with two diamonds models, the registry CLI moving `production`, and the page
driven in Debian's Chromium (headless, through its chromedriver)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL = "diamonds-price"


def _register_two_versions(where: Path) -> Path:
    """v0 (linear, production) and v1 (LightGBM, not promoted) of diamonds-price."""
    from modelops.registry import PRODUCTION, LocalRegistry
    from modelops.registry.packaging import model_metadata, signed, write_model_files
    from modelops.schema import infer_schema
    from modelops.training.candidates import make_pipeline

    df = pd.read_csv(ROOT / "data" / "diamonds.csv.gz").sample(3000, random_state=0)
    X, y = df.drop(columns="price"), df["price"]
    schema = infer_schema(df, "price", "regression")
    reg = LocalRegistry(where / "registry")
    for family, params in (("linear", {}), ("lightgbm", {"n_estimators": 60})):
        pipe = make_pipeline(family, "regression", schema, params, 0, 1).fit(X, y)
        files = write_model_files(pipe, X.head(500), where / family)
        meta = model_metadata(
            schema=schema,
            metric="rmse",
            candidate=family,
            params=params,
            metrics={},
            data_digest="test",
            data_source="data/diamonds.csv.gz",
            run_pathspec=f"TrainFlow/{family}",
        )
        reg.register(
            MODEL,
            files,
            signed(MODEL, files, meta),
            aliases=(PRODUCTION,) if family == "linear" else (),
        )
    return where / "registry"


@dataclass
class Service:
    url: str
    env: dict[str, str]
    process: subprocess.Popen

    def get(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def post(self, path: str, body: object) -> tuple[int, dict]:
        req = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def wait_for(self, check, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stdout.read()
            try:
                if check():
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"not true within {seconds} s")


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[Service]:
    where = tmp_path_factory.mktemp("serving")
    registry = _register_two_versions(where)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {"MODELOPS_REGISTRY_DIR": str(registry), "MODELOPS_REGISTRY": "local"}
    cmd = [sys.executable, "-m", "modelops", "serve", "--model-name", MODEL]
    cmd += ["--port", str(port), "--poll-seconds", "0.5", "--log-predictions", str(where / "log")]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    svc = Service(f"http://127.0.0.1:{port}", env, proc)
    try:
        svc.wait_for(lambda: svc.get("/ready")[0] == 200, seconds=60)
        yield svc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert list((where / "log").glob("predictions-*.parquet")), "no prediction log part"


def _cli(svc: Service, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "modelops", "registry", *args],
        env=svc.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


ROW = {"carat": 0.7, "cut": "Ideal", "color": "G", "clarity": "VS2", "depth": 61.5}
ROW |= {"table": 56.0, "x": 5.7, "y": 5.7, "z": 3.5}


def test_service_follows_production_moved_by_the_cli(service):
    status, body = service.post("/predict", [ROW, {**ROW, "carat": "heavy"}])
    assert status == 200 and body["model_version"] == "v0"
    assert [p["index"] for p in body["predictions"]] == [0]
    assert body["rejected"][0]["index"] == 1 and "'carat'" in body["rejected"][0]["reason"]
    status, body = service.post("/predict", [{"carat": 1.0}])
    assert status == 422 and "cut" in body["detail"]

    _cli(service, "promote", MODEL, "v1")
    service.wait_for(lambda: service.get("/model")[1]["model_version"] == "v1")
    status, body = service.post("/predict", ROW)
    assert status == 200 and body["model_version"] == "v1"
    assert service.get("/model")[1]["candidate"] == "lightgbm"

    # rollback is one command away, and the service follows it too
    _cli(service, "rollback", MODEL)
    service.wait_for(lambda: service.get("/model")[1]["model_version"] == "v0")


def test_page_predicts_in_a_real_browser(service):
    browsers = ("chromium", "chromium-browser", "google-chrome")
    chromium = next((p for p in map(shutil.which, browsers) if p), None)
    driver_path = shutil.which("chromedriver")
    assert chromium and driver_path, "no chromium/chromedriver: `make browser` installs Debian's"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=DriverService(driver_path), options=options)
    try:
        driver.get(service.url + "/")
        carat = driver.find_element(By.NAME, "carat")
        assert "training range" in carat.get_attribute("title")
        carat.clear()
        carat.send_keys("1.5")
        Select(driver.find_element(By.NAME, "cut")).select_by_visible_text("Premium")
        driver.find_element(By.ID, "predict").click()
        result = WebDriverWait(driver, 20).until(
            lambda d: d.find_element(By.ID, "result").text.startswith("Prediction")
            and d.find_element(By.ID, "result")
        )
        shown = float(result.text.split(":")[1])
        version = driver.find_element(By.ID, "version").text
        # the page's answer is the service's answer for the same record
        fields = driver.find_elements(By.CSS_SELECTOR, "[data-column]")
        record = {}
        for f in fields:
            value = f.get_attribute("value")
            name = f.get_attribute("data-column")
            record[name] = float(value) if f.get_attribute("data-kind") == "numeric" else value
        assert record["carat"] == 1.5 and record["cut"] == "Premium"
        status, body = service.post("/predict", record)
        assert status == 200 and version == f"{MODEL}:{body['model_version']}"
        assert shown == pytest.approx(body["predictions"][0]["prediction"], rel=1e-9)
    finally:
        driver.quit()
