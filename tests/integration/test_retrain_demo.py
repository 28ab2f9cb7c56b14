"""`make retrain-demo` on small data: drift is found, the retrained model wins, drift drops."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from modelops.registry import PRODUCTION, LocalRegistry

from .conftest import FAST_CONFIG, ROOT

pytestmark = pytest.mark.integration


def test_retrain_loop_promotes_the_retrained_model(state):
    work = state / "retrain-demo"
    done = subprocess.run(
        [
            sys.executable, str(ROOT / "examples" / "retrain_demo.py"), "--workdir", str(work),
            "--rows", "1500", "--config", str(FAST_CONFIG),
            "--candidates", "linear,hist_gradient_boosting",
        ],
        cwd=state, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    summary = json.loads((work / "summary.json").read_text())
    # the verdict fired on the columns the model relies on (4 of 9 columns pass both the
    # distance threshold and the corrected test on this shift)
    assert summary["drifted_before"] and summary["retrained"]
    assert summary["drift_before"] >= 0.3 and summary["weighted_before"] >= 0.5
    assert summary["promoted"] and summary["production"] == 1
    assert summary["drift_after"] < summary["drift_before"]
    registry = LocalRegistry(work / "registry")
    assert registry.get("retrain-demo", PRODUCTION).version == 1
    assert "beats production v0" in done.stdout + done.stderr
    # the demo kept to its own registry: the shared test registry has no such model
    assert LocalRegistry(state / "registry").find("retrain-demo") is None
