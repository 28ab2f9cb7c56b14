"""Run the real flows: Metaflow's local runtime, a temporary datastore and registry, W&B offline.

The environment is set before Metaflow is imported, because Metaflow reads its configuration
at import time; the Client API in this process then sees the runs the subprocesses made.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAST_CONFIG = Path(__file__).with_name("fast_config.json")
STATE = Path(tempfile.mkdtemp(prefix="modelops-it-"))

os.environ.update(
    {
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(STATE),
        "METAFLOW_USER": os.environ.get("METAFLOW_USER") or "tests",
        "MODELOPS_REGISTRY_DIR": str(STATE / "registry"),
        "WANDB_DIR": str(STATE),
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "MODELOPS_REGISTRY": "auto",
    }
)
os.environ.pop("WANDB_API_KEY", None)


@dataclass
class FlowRun:
    returncode: int
    output: str
    run_id: str | None

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_flow(flow: str, *args: str, config: Path | None = FAST_CONFIG) -> FlowRun:
    """`python flows/<flow> [--config config FILE] run ARGS` in the test state folder."""
    id_file = Path(tempfile.mktemp(dir=STATE, prefix="run-id-"))
    cmd = [sys.executable, str(ROOT / "flows" / flow)]
    if config is not None and flow == "train_flow.py":
        cmd += ["--config", "config", str(config)]
    cmd += ["run", "--run-id-file", str(id_file), *args]
    out = subprocess.run(cmd, cwd=STATE, capture_output=True, text=True, timeout=900)
    run_id = id_file.read_text().strip() if id_file.exists() else None
    return FlowRun(out.returncode, out.stdout + out.stderr, run_id)


@pytest.fixture(scope="session")
def state() -> Path:
    return STATE
