"""`modelops registry push`: the local registry replayed onto another, idempotently, with
aliases moved only where the last push left them (a hand-made move is a reported conflict)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from modelops.registry import ANY, PRODUCTION, LocalRegistry
from modelops.registry.push import push
from modelops.registry.wandb_backend import WandbRegistry
from tests.unit.test_registry_wandb import FakeWandb


def _three_versions_two_moves(tmp_path) -> LocalRegistry:
    """v0, v1, v2 registered; production on v0, then moved to v2."""
    local = LocalRegistry(tmp_path / "local")
    for i in range(3):
        f = tmp_path / f"model{i}.joblib"
        f.write_bytes(bytes([i]) * 100)
        local.register("m", {"model.joblib": f}, {"candidate": f"c{i}"})
    local.set_alias("m", PRODUCTION, 0, expected=None, reason="first")
    local.set_alias("m", PRODUCTION, 2, expected=0, reason="better")
    return local


def _state(reg):
    return [
        (mv.version, mv.aliases, mv.files, mv.metadata.get("local_version"))
        for mv in reg.versions("m")
    ]


def test_push_replays_versions_and_aliases_then_changes_nothing(tmp_path):
    local = _three_versions_two_moves(tmp_path)
    target = LocalRegistry(tmp_path / "target")
    first = push(local, target, "m")
    assert first.registered == [(0, 0), (1, 1), (2, 2)] and first.moved == [(PRODUCTION, 2, 2)]
    assert not first.conflicts
    assert [mv.metadata["local_version"] for mv in target.versions("m")] == [0, 1, 2]
    assert [mv.files for mv in target.versions("m")] == [mv.files for mv in local.versions("m")]
    assert target.find("m", PRODUCTION).version == 2
    assert [mv.metadata["remote_version"] for mv in local.versions("m")] == [0, 1, 2]
    before, events = _state(target), target.events("m")
    again = push(local, target, "m")
    assert not again.changed and not again.conflicts and again.lines() == ["m: up to date"]
    assert _state(target) == before and target.events("m") == events
    # a local rollback is followed by the next push
    local.set_alias("m", PRODUCTION, 0, expected=2, reason="rollback")
    assert push(local, target, "m").moved == [(PRODUCTION, 0, 0)]
    assert target.find("m", PRODUCTION).version == 0


def test_version_numbers_are_mapped_when_the_target_numbers_differently(tmp_path):
    local = _three_versions_two_moves(tmp_path)
    target = LocalRegistry(tmp_path / "target")
    other = tmp_path / "other.joblib"
    other.write_bytes(b"someone else's model")
    target.register("m", {"model.joblib": other}, {})  # the target's v0 is not ours
    report = push(local, target, "m")
    assert report.registered == [(0, 1), (1, 2), (2, 3)]
    assert target.find("m", PRODUCTION).version == 3
    assert local.get("m", "v2").metadata["remote_version"] == 3
    assert not push(local, target, "m").changed


def test_an_alias_moved_by_hand_on_the_target_is_reported_not_overwritten(tmp_path):
    local = _three_versions_two_moves(tmp_path)
    target = LocalRegistry(tmp_path / "target")
    push(local, target, "m")
    target.set_alias("m", PRODUCTION, 1, expected=ANY, reason="by hand")
    local.set_alias("m", PRODUCTION, 0, expected=2)
    report = push(local, target, "m")
    assert not report.moved and target.find("m", PRODUCTION).version == 1
    (conflict,) = report.conflicts
    assert "'production' is on target v1, but the last push put it on v2" in conflict
    env = {"MODELOPS_REGISTRY_DIR": str(tmp_path / "local"), "MODELOPS_REGISTRY": "local"}
    from modelops.cli import main as cli

    out = CliRunner().invoke(
        cli, ["registry", "push", "m", "--to", str(tmp_path / "target")], env=env
    )
    assert out.exit_code == 2 and "CONFLICT" in out.output
    assert target.find("m", PRODUCTION).version == 1


@pytest.mark.wandb_server
def test_push_against_the_w_and_b_adapter_is_idempotent(tmp_path):
    """The same replay through the W&B Registry adapter (a recording fake: no server here):
    three log+link calls, one alias save, and nothing on the second push."""
    wb = FakeWandb()
    local = _three_versions_two_moves(tmp_path)
    target = WandbRegistry(wb)
    report = push(local, target, "m")
    assert report.registered == [(0, 0), (1, 1), (2, 2)] and report.moved == [(PRODUCTION, 2, 2)]
    calls = [c[0] for run in wb.runs for c in run.calls]
    assert calls.count("log_artifact") == 3 and calls.count("link_artifact") == 3
    assert [a.metadata["local_version"] for a in FakeWandb.collection] == [0, 1, 2]
    assert target.find("m", PRODUCTION).version == 2
    saves = sum(a.saved for a in FakeWandb.collection)
    assert not push(local, target, "m").changed
    assert len(wb.runs) == 3 and sum(a.saved for a in FakeWandb.collection) == saves


def test_push_without_credentials_says_what_to_set(tmp_path, monkeypatch):
    from modelops.cli import main as cli

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    env = {"MODELOPS_REGISTRY_DIR": str(tmp_path), "WANDB_MODE": "offline"}
    out = CliRunner().invoke(cli, ["registry", "push"], env=env)
    assert out.exit_code == 1 and "set WANDB_API_KEY" in out.output
