"""Run the real flows: Metaflow's local runtime, a temporary datastore and registry, W&B offline.

Flows run through Metaflow's `Runner` API (each run is its own process, as `python flows/...`
would be); a `FlowRun` carries the Client `Run` the tests assert on. The environment is set
before Metaflow is imported, because Metaflow reads its configuration at import time. The
Metaflow datastore is shared (run ids are unique), but every scenario runs in its own folder
with its own registry and W&B directory, so no test depends on another having run first.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAST_CONFIG = Path(__file__).with_name("fast_config.json")
STATE = Path(tempfile.mkdtemp(prefix="modelops-it-"))

os.environ.update(
    {
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(STATE),
        "METAFLOW_USER": os.environ.get("METAFLOW_USER") or "tests",
        "MODELOPS_REGISTRY_DIR": str(STATE / "registry"),
        "MODELOPS_SIGNING_KEY_FILE": str(STATE / "keys" / "signing.key"),
        "WANDB_DIR": str(STATE),
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "MODELOPS_REGISTRY": "auto",
    }
)
for _name in ("WANDB_API_KEY", "MODELOPS_SIGNING_KEY", "MODELOPS_TRUST_UNSIGNED"):
    os.environ.pop(_name, None)

from metaflow import Run, Runner  # noqa: E402  (after the environment: Metaflow reads it at import)


@dataclass
class FlowRun:
    """What a finished run left: its process's exit code, its output and its Client `Run`."""

    returncode: int | None
    output: str
    run: Run | None

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def run_id(self) -> str | None:
        return self.run.id if self.run is not None else None


def run_flow(
    flow: str,
    *,
    where: Path,
    config: Path | None = FAST_CONFIG,
    top: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    resume: dict[str, Any] | None = None,
    **params: Any,
) -> FlowRun:
    """Run `flows/<flow>` with Metaflow's `Runner` (the flow's parameters as keywords, `top`
    for top-level options, `resume` for `resume`'s options instead of a new run), with the
    scenario folder `where`'s registry (`where/registry`) and W&B directory. The working
    directory stays the shared datastore's: Metaflow finds local cards from it."""
    top = dict(top or {})
    if config is not None and flow == "train_flow.py":
        top["config"] = [("config", str(config))]
    scenario = {"MODELOPS_REGISTRY_DIR": str(where / "registry"), "WANDB_DIR": str(where)}
    runner = Runner(
        str(ROOT / "flows" / flow),
        show_output=False,
        env=scenario | (env or {}),
        cwd=str(STATE),
        **top,
    )
    with runner:
        running = runner.resume(**resume) if resume is not None else runner.run(**params)
        return FlowRun(running.returncode, running.stdout + running.stderr, running.run)


@pytest.fixture(scope="session")
def state() -> Path:
    return STATE


@dataclass
class S3Server:
    """A local S3-compatible server (moto) and the environment that points Metaflow at it."""

    endpoint: str
    bucket: str
    env: dict[str, str]

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 in server mode stands in for S3: Metaflow's own S3 client talks to it over HTTP.

    Only for what needs no cluster: the S3 datastore and `argo-workflows create --only-json`.
    """
    import logging
    import socket

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one line per request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    creds = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(creds)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    s3 = S3Server(
        f"http://127.0.0.1:{port}",
        "modelops-ci",
        creds
        | {
            "METAFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "METAFLOW_DATASTORE_SYSROOT_S3": "s3://modelops-ci/metaflow",
            "METAFLOW_DATATOOLS_S3ROOT": "s3://modelops-ci/data",
            "METAFLOW_S3_RETRY_COUNT": "1",  # fail in seconds, not minutes, if it is down
        },
    )
    s3.client().create_bucket(Bucket=s3.bucket)
    yield s3
    server.stop()
