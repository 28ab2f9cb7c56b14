"""The container image, built and run here: TrainFlow and ScoreFlow inside it with the
repository mounted, and `modelops serve` in it answering the host over HTTP.

`make image` installs podman, runc and mmdebstrap with apt (as root) and builds the Debian base
once; the image build is cached while Pipfile.lock does not change. Where that cannot happen
(not root, no apt-get, podman unable to start a container) the tests skip and say which.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

IMAGE = "localhost/modelops:latest"
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
LIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]
KEY = "0123456789abcdef" * 4  # a signing key for this test's registry only


def _why_not() -> str:
    if os.geteuid() != 0:
        return "building the image installs podman with apt and runs it as root; not root here"
    if not shutil.which("apt-get") and not shutil.which("podman"):
        return "no apt-get to install podman, and no podman"
    return ""


@pytest.fixture(scope="module")
def image() -> str:
    if why := _why_not():
        pytest.skip(why)
    built = subprocess.run(["make", "image"], cwd=ROOT, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    probe = subprocess.run(
        [*PODMAN, "run", "--rm", *LIMITS, IMAGE, "python", "-c", "print('ok')"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0 or "ok" not in probe.stdout:
        pytest.skip(f"podman cannot start a container here: {probe.stderr[-500:]}")
    return IMAGE


def _run(image: str, work: Path, *cmd: str) -> subprocess.CompletedProcess:
    """`cmd` in the image as its non-root user, the repository read-only at /repo and `work`
    (datastore, registry, W&B offline runs, outputs) writable at /work."""
    env = {
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": "/work",
        "MODELOPS_REGISTRY_DIR": "/work/registry",
        "MODELOPS_SIGNING_KEY": KEY,
        "WANDB_MODE": "offline",
        "WANDB_DIR": "/work",
        "HOME": "/work",
    }
    flags = [f"--env={k}={v}" for k, v in env.items()]
    return subprocess.run(
        [*PODMAN, "run", "--rm", *LIMITS, *flags, "-v", f"{ROOT}:/repo:ro", "-v",
         f"{work}:/work", "-w", "/work", image, *cmd],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def test_the_image_holds_the_locked_environment_and_a_non_root_user(image):
    lock = json.loads((ROOT / "Pipfile.lock").read_text())["default"]
    out = subprocess.run(
        [*PODMAN, "run", "--rm", *LIMITS, image, "python", "-c",
         "import os, importlib.metadata as m; print(os.getuid()); "
         "print(m.version('scikit-learn'), m.version('metaflow'), m.version('catboost'))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    uid, versions = out.stdout.split("\n", 1)
    assert uid.strip() != "0"
    expected = [lock[p]["version"].lstrip("=") for p in ("scikit-learn", "metaflow", "catboost")]
    assert versions.split() == expected
    labels = subprocess.run(
        [*PODMAN, "image", "inspect", image, "--format", "{{json .Labels}}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(labels.stdout)["io.modelops.pipfile-lock-sha256"] != "unknown"


def test_train_score_and_serve_inside_the_image(image, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    work.chmod(0o777)  # the image's user is not this one
    trained = _run(
        image, work, "python", "/repo/flows/train_flow.py", "run",
        "--data", "/repo/data/diamonds.csv.gz", "--target", "price", "--sample-rows", "600",
        "--candidates",
        "linear,lightgbm", "--budget-minutes", "0.2", "--model-name", "img",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    scored = _run(
        image, work, "python", "/repo/flows/score_flow.py", "run", "--input",
        "/repo/data/new_diamonds.csv", "--model-name", "img", "--output", "/work/scored.csv",
    )  # fmt: skip
    assert scored.returncode == 0, scored.stdout[-3000:] + scored.stderr[-3000:]
    assert (work / "scored.csv").stat().st_size > 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    name = f"modelops-serve-{port}"
    subprocess.run(
        [*PODMAN, "run", "-d", "--rm", "--name", name, *LIMITS, "-p", f"127.0.0.1:{port}:8000",
         "--env=MODELOPS_REGISTRY_DIR=/work/registry", f"--env=MODELOPS_SIGNING_KEY={KEY}",
         "--env=WANDB_MODE=disabled", "-v", f"{work}:/work", image,
         "modelops", "serve", "--model-name", "img", "--host", "0.0.0.0"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    try:
        row = (ROOT / "data" / "new_diamonds.csv").read_text().splitlines()[:2]
        record = dict(zip(row[0].split(","), row[1].split(","), strict=True))
        body = json.dumps([record]).encode()
        deadline, answer = time.monotonic() + 120, None
        while time.monotonic() < deadline and answer is None:
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/predict",
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(req, timeout=5) as r:
                    answer = json.loads(r.read())
            except OSError:
                time.sleep(1)
        assert answer is not None, "the service in the container did not answer in 120 s"
        assert len(answer["predictions"]) == 1
    finally:
        subprocess.run([*PODMAN, "rm", "-f", name], capture_output=True)
