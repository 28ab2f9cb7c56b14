"""Both flows compile for Argo Workflows without a cluster.

`argo-workflows create --only-json` needs an S3 datastore (the code package is uploaded
there) and the kubernetes client, but no Kubernetes: moto's S3 server stands in for S3. What
it proves: the flows' graphs, parameters, `@resources` and `@schedule` translate into a
WorkflowTemplate. What it cannot prove (needs a real cluster): that pods start from the image,
reach S3 and W&B, and that the cron fires.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.integration.conftest import ROOT, STATE, S3Server

pytestmark = pytest.mark.integration


# the image the scale-out profile names by digest (image.yml pushes it and prints the digest)
IMAGE = json.loads((ROOT / ".metaflow" / "profiles" / "config_argo.json").read_text())[
    "METAFLOW_KUBERNETES_CONTAINER_IMAGE"
]


def _compile(flow: str, s3: S3Server) -> dict:
    out = subprocess.run(
        [sys.executable, str(ROOT / "flows" / flow), "--datastore=s3"]
        + ["argo-workflows", "create", "--only-json"],
        cwd=STATE,
        env=os.environ | s3.env | {"METAFLOW_KUBERNETES_CONTAINER_IMAGE": IMAGE},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def _templates(spec: dict) -> dict[str, dict]:
    return {t["name"]: t for t in spec["spec"]["templates"]}


def _parameters(spec: dict) -> set[str]:
    return {p["name"] for p in spec["spec"]["arguments"]["parameters"]}


def _requests(template: dict) -> tuple[float, float]:
    r = template["container"]["resources"]["requests"]
    return float(r["cpu"]), float(r["memory"].rstrip("M"))


def test_trainflow_compiles_to_a_scheduled_workflow_template(s3_server: S3Server) -> None:
    wf = _compile("train_flow.py", s3_server)
    assert wf["kind"] == "WorkflowTemplate"
    steps = _templates(wf)
    assert {"start", "search", "register", "end"} <= set(steps)
    assert _requests(steps["search"]) == (2.0, 8000.0)  # @resources on the foreach
    assert {"data", "target", "candidates", "promotion", "sample-rows", "model-name"} <= (
        _parameters(wf)
    )
    assert "@sha256:" in IMAGE  # pinned by digest, not a moving tag
    for name in ("start", "search", "register", "end"):
        assert steps[name]["container"]["image"] == IMAGE, name  # every pod runs the image
    cron = json.loads(wf["metadata"]["annotations"]["metaflow/cron"])
    assert cron["schedule"] == "0 0 ? * SUN"  # @schedule(weekly=True): Sundays, 00:00 UTC
    # the code package went to the S3 datastore, which is what the pods will download
    listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix="metaflow/")
    assert any("TrainFlow/data/" in o["Key"] for o in listed.get("Contents", []))


def test_scoreflow_compiles_with_its_shard_foreach(s3_server: S3Server) -> None:
    wf = _compile("score_flow.py", s3_server)
    steps = _templates(wf)
    assert {"start", "score-shard", "merge", "drift", "end"} <= set(steps)
    assert _requests(steps["score-shard"]) == (2.0, 4096.0)
    assert {"input", "model-name", "model", "shard-mb", "max-reject-rate"} <= _parameters(wf)
    assert "metaflow/cron" not in wf["metadata"]["annotations"]  # scored on demand
