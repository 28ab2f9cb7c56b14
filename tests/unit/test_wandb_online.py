"""The W&B Registry contract, live: `modelops registry push` against the real W&B server.

Nothing here can reach W&B, so these tests skip with the reason below; the `wandb-online` job
of .github/workflows/ci.yml runs them (`pytest -m wandb_online`) when the repository has the
WANDB_API_KEY secret. They push a throwaway model (a unique name per run) into the entity's
model registry, check the version mapping and the production alias, and push again to check
that nothing changes. The recording fake (test_registry_push.py) checks the same calls here.
"""

from __future__ import annotations

import os
import uuid

import pytest

from modelops.registry import PRODUCTION, LocalRegistry
from modelops.registry.push import push

pytestmark = [
    pytest.mark.wandb_online,
    pytest.mark.skipif(
        not os.environ.get("WANDB_API_KEY")
        or os.environ.get("WANDB_MODE") in ("offline", "disabled"),
        reason="needs W&B online (WANDB_API_KEY): run by the wandb-online job in ci.yml",
    ),
]


def test_push_to_the_live_registry_maps_versions_moves_production_and_is_idempotent(tmp_path):
    from modelops.registry.wandb_backend import WandbRegistry
    from modelops.tracking import project

    name = f"contract-{uuid.uuid4().hex[:10]}"
    local = LocalRegistry(tmp_path / "local")
    for i in range(2):
        f = tmp_path / f"m{i}.bin"
        f.write_bytes(bytes([i]) * 64)
        local.register(name, {"model.joblib": f}, {"candidate": f"c{i}"})
    local.set_alias(name, PRODUCTION, 1, expected=None)
    target = WandbRegistry(project=project())
    report = push(local, target, name)
    assert [a for a, _ in report.registered] == [0, 1] and not report.conflicts
    remote = {mv.metadata["local_version"]: mv for mv in target.versions(name)}
    assert remote[1].files == local.get(name, "v1").files
    assert target.find(name, PRODUCTION).version == remote[1].version
    assert not push(local, target, name).changed


def test_the_comparison_report_saves_to_the_live_server():
    """The report built offline (test_tracking.py checks its keys against the runs) is one
    the server accepts: saved, it has an address."""
    from modelops.reports import comparison_report, default_entity, save_report

    report = comparison_report(
        group=f"contract-{uuid.uuid4().hex[:10]}", metric="rmse", model_name="contract",
        entity=default_entity(),
    )  # fmt: skip
    assert save_report(report).startswith("http")
