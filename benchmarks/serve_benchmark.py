"""Load test of `modelops serve` on the loopback address: a fixed number of requests, then stop.

    .venv/bin/python benchmarks/serve_benchmark.py                      # registry of `make train`
    .venv/bin/python benchmarks/serve_benchmark.py --registry DIR --model diamonds-price
    .venv/bin/python benchmarks/serve_benchmark.py --server /tmp/bento/bin/bentoml  # see below

The registry is copied to a temporary folder first (the benchmark registers a second version
and moves `production`; yours is left alone). Measured, in this order:

1. 1-row requests, one after another on one keep-alive connection: p50 and p99 latency.
2. 1,000-row requests (data/new_diamonds.csv): rows/s, against `pipeline.predict` on the same
   1,000 rows in this process (the model loaded the same way), as a ratio.
3. `production` moved three times (between the champion and a copy registered as a new
   version, which the service must download, verify and load) while two clients send 1-row
   requests: failed requests (anything but a 200 with one prediction) must be zero.

`--server PATH/bentoml` runs the same requests (bodies are `{"records": [...]}`, which both
accept) against `benchmarks/bentoml_service.py` under BentoML instead, for the serving-stack
comparison; that service does not follow the registry, so step 3 is skipped.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


class Client:
    """One keep-alive HTTP connection (the client's own cost stays small and constant)."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, body: bytes) -> tuple[int, dict]:
        self.conn.request("POST", path, body, {"Content-Type": "application/json"})
        r = self.conn.getresponse()
        return r.status, json.loads(r.read())

    def get(self, path: str) -> tuple[int, dict]:
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        return r.status, json.loads(r.read())


def start(registry: Path, model: str, port: int, bentoml: str = "") -> subprocess.Popen:
    env = os.environ | {"MODELOPS_REGISTRY_DIR": str(registry), "MODELOPS_REGISTRY": "local"}
    if bentoml:
        cmd = [bentoml, "serve", "benchmarks.bentoml_service:Predictor", "--port", str(port)]
        env["MODEL"], ready = model, "/readyz"
    else:
        cmd = [sys.executable, "-m", "modelops", "serve", "--model-name", model]
        cmd += ["--port", str(port), "--poll-seconds", "0.2"]
        ready = "/ready"
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", ready)
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the service did not become ready in 120 s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--registry", type=Path, default=None, help="registry folder (default: local)")
    ap.add_argument("--model", default="diamonds-price")
    ap.add_argument("--single", type=int, default=1000, help="1-row requests")
    ap.add_argument("--batches", type=int, default=30, help="1,000-row requests")
    ap.add_argument("--server", default="", help="a bentoml executable: measure BentoML instead")
    args = ap.parse_args()

    from modelops.registry import PRODUCTION, LocalRegistry
    from modelops.registry.local import default_root
    from modelops.registry.packaging import load_model

    source = args.registry or default_root()
    tmp = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    registry = tmp / "registry"
    shutil.copytree(source, registry)
    reg = LocalRegistry(registry)
    champion = reg.get(args.model, PRODUCTION)
    with tempfile.TemporaryDirectory() as files:
        reg.download(champion, Path(files))
        copy = reg.register(
            args.model, {n: Path(files) / n for n in champion.files}, champion.metadata
        )
    rows = pd.read_csv(ROOT / "data" / "new_diamonds.csv").head(1000)
    records = rows.astype(object).where(rows.notna(), None).to_dict("records")
    one = [json.dumps({"records": [r]}).encode() for r in records]
    thousand = json.dumps({"records": records}).encode()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = start(registry, args.model, port, args.server)
    try:
        c = Client(port)
        for body in one[:50]:  # warm-up
            c.post("/predict", body)
        lat = []
        for i in range(args.single):
            t0 = time.perf_counter()
            status, _ = c.post("/predict", one[i % len(one)])
            lat.append(time.perf_counter() - t0)
            assert status == 200
        for _ in range(3):
            c.post("/predict", thousand)
        t0 = time.perf_counter()
        for _ in range(args.batches):
            status, body = c.post("/predict", thousand)
            assert status == 200 and len(body["predictions"]) == 1000, body.get("rejected")
        served_rps = args.batches * 1000 / (time.perf_counter() - t0)

        model = load_model(reg, args.model, champion.version)
        model.pipeline.predict(rows)
        t0 = time.perf_counter()
        for _ in range(args.batches):
            model.pipeline.predict(rows)
        local_rps = args.batches * 1000 / (time.perf_counter() - t0)

        stop, failures, counts, versions = threading.Event(), [], [0], set()
        moves_seconds = 0.0
        if args.server:  # BentoML's service does not follow the registry
            stop.set()

        def load() -> None:
            client = Client(port)
            i = 0
            while not stop.is_set():
                try:
                    status, body = client.post("/predict", one[i % len(one)])
                    versions.add(body.get("model_version"))
                    if status != 200 or len(body.get("predictions", [])) != 1:
                        failures.append((status, body))
                except Exception as err:  # a dropped connection is a failure too
                    failures.append(repr(err))
                    client = Client(port)
                counts[0] += 1
                i += 1

        threads = [threading.Thread(target=load) for _ in range(2)]
        for t in threads:
            t.start()
        t_moves = time.perf_counter()
        for target in () if args.server else (copy.version, champion.version, copy.version):
            reg.set_alias(args.model, PRODUCTION, target)
            while Client(port).get("/model")[1]["model_version"] != f"v{target}":
                time.sleep(0.1)
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join()
        moves_seconds = time.perf_counter() - t_moves
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)

    cand = champion.metadata.get("candidate")
    stack = "BentoML" if args.server else "modelops serve (FastAPI + uvicorn)"
    print(f"{stack}; model {args.model}:v{champion.version} ({cand}), {os.cpu_count()} cores\n")
    print("| measure | value |")
    print("|---|---|")
    print(
        f"| 1-row p50 latency ({args.single} requests) | {1000 * statistics.median(lat):.1f} ms |"
    )
    print(f"| 1-row p99 latency | {1000 * percentile(lat, 0.99):.1f} ms |")
    print(f"| 1,000-row requests ({args.batches}) | {served_rps:,.0f} rows/s |")
    print(f"| in-process `pipeline.predict`, same rows | {local_rps:,.0f} rows/s |")
    print(f"| service / in-process | {served_rps / local_rps:.2f}x |")
    if not args.server:
        print(
            f"| requests while `production` moved 3 times ({moves_seconds:.0f} s, 2 clients) "
            f"| {counts[0]}, failed {len(failures)}, versions seen {sorted(versions)} |"
        )
    if failures:
        print("failures:", failures[:5])


if __name__ == "__main__":
    main()
