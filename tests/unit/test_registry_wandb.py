"""The W&B Registry adapter, checked against the interface contract with a recording fake.

These tests cannot reach a real W&B server (no network here): they verify which calls the
adapter makes (log_artifact, link_artifact to `wandb-registry-model/<name>`, alias moves) and
that it maps W&B's answers onto the same semantics as the local backend. Marked
`wandb_server` so a run with credentials can add a live check later.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelops.errors import RegistryError
from modelops.registry import PRODUCTION, AliasConflict
from modelops.registry.wandb_backend import WandbRegistry

pytestmark = pytest.mark.wandb_server


class FakeArtifact:
    def __init__(self, name, type, metadata=None):
        self.name, self.type, self.metadata = name, type, metadata or {}
        self.files: dict[str, str] = {}
        self.aliases: list[str] = []
        self.version = None
        self.saved = 0

    def add_file(self, path, name):
        self.files[name] = path

    def save(self):
        self.saved += 1
        # W&B keeps an alias unique within a collection: moving it takes it off the others.
        for other in FakeWandb.collection:
            if other is not self:
                other.aliases = [
                    a for a in other.aliases if a not in self.aliases or a == other.version
                ]

    def download(self, root):
        import shutil
        from pathlib import Path

        Path(root).mkdir(parents=True, exist_ok=True)
        for name, path in self.files.items():
            shutil.copyfile(path, Path(root) / name)
        return root


class FakeRun:
    def __init__(self):
        self.calls: list[tuple] = []

    def log_artifact(self, art):
        self.calls.append(("log_artifact", art.name, art.type))

    def link_artifact(self, art, target, aliases):
        self.calls.append(("link_artifact", target, tuple(aliases)))
        art.version = f"v{len(FakeWandb.collection)}"
        art.created_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # W&B's format
        art.aliases = [*aliases, art.version, "latest"]
        for other in FakeWandb.collection:
            other.aliases = [a for a in other.aliases if a not in aliases and a != "latest"]
        FakeWandb.collection.append(art)

    def finish(self):
        self.calls.append(("finish",))


class FakeApi:
    def artifacts(self, type_name, name):
        assert type_name == "model" and name == "wandb-registry-model/m"
        if not FakeWandb.collection:
            raise RuntimeError("artifact collection not found")
        return list(FakeWandb.collection)

    def artifact(self, ref):
        path, _, version = ref.partition(":")
        assert path == "wandb-registry-model/m"
        for art in FakeWandb.collection:
            if version in art.aliases or art.version == version:
                return art
        raise RuntimeError(f"{ref} not found")


class FakeWandb:
    collection: list[FakeArtifact] = []
    Artifact = FakeArtifact
    run = None

    def __init__(self):
        FakeWandb.collection = []
        self.runs: list[FakeRun] = []

    def init(self, **kwargs):
        self.runs.append(FakeRun())
        return self.runs[-1]

    def Api(self):  # noqa: N802 (W&B's name)
        return FakeApi()


@pytest.fixture
def wb():
    return FakeWandb()


def _file(tmp_path, content):
    p = tmp_path / f"{content}.bin"
    p.write_text(content)
    return {"model.joblib": p}


def test_register_logs_then_links_into_the_model_registry(tmp_path, wb):
    reg = WandbRegistry(wb)
    mv = reg.register("m", _file(tmp_path, "a"), {"task": "regression"}, aliases=(PRODUCTION,))
    calls = wb.runs[0].calls
    assert calls[0] == ("log_artifact", "m", "model")
    assert calls[1] == ("link_artifact", "wandb-registry-model/m", (PRODUCTION,))
    assert mv.version == 0 and mv.aliases == (PRODUCTION,)
    assert mv.metadata == {"task": "regression"} and len(mv.files["model.joblib"]) == 64


def test_same_semantics_as_local_backend(tmp_path, wb):
    reg = WandbRegistry(wb)
    for c in "abc":
        reg.register("m", _file(tmp_path, c), {})
    assert [mv.version for mv in reg.versions("m")] == [0, 1, 2]
    reg.set_alias("m", PRODUCTION, 0, expected=None)
    reg.set_alias("m", PRODUCTION, 2, expected=0)
    assert [mv.version for mv in reg.versions("m") if PRODUCTION in mv.aliases] == [2]
    with pytest.raises(AliasConflict):
        reg.set_alias("m", PRODUCTION, 1, expected=0)
    out = reg.download(reg.get("m", PRODUCTION), tmp_path / "dl")
    assert (out / "model.joblib").read_text() == "c"


def test_unknown_model_has_no_versions_and_digest_is_checked(tmp_path, wb):
    reg = WandbRegistry(wb)
    assert reg.versions("m") == []
    assert reg.find("m") is None
    files = _file(tmp_path, "a")
    mv = reg.register("m", files, {})
    files["model.joblib"].write_text("tampered")  # the fake serves the source path
    with pytest.raises(RegistryError, match="SHA-256"):
        reg.download(mv, tmp_path / "dl")


@pytest.mark.parametrize("backend", ["wandb", "local"])
def test_update_metadata_merges_and_keeps_the_file_digests(tmp_path, wb, backend):
    from modelops.registry import LocalRegistry

    reg = WandbRegistry(wb) if backend == "wandb" else LocalRegistry(tmp_path / "reg")
    reg.register("m", _file(tmp_path, "a"), {"task": "regression", "decision": {"promote": True}})
    before = reg.get("m", 0)
    reg.update_metadata("m", 0, {"decision": {"promote": False}})
    after = reg.get("m", 0)
    assert after.metadata == {"task": "regression", "decision": {"promote": False}}
    assert after.files == before.files
    reg.download(after, tmp_path / "dl")  # digests still verify


@pytest.mark.parametrize("backend", ["wandb", "local"])
def test_both_backends_keep_the_audit_trail_rollback_reads(tmp_path, wb, backend, monkeypatch):
    """History belongs to the interface: `registry history` and rollback without --to work the
    same whichever backend holds the model."""
    from modelops.registry import LocalRegistry
    from modelops.registry.history import rollback

    monkeypatch.setenv("METAFLOW_USER", "ana")
    reg = WandbRegistry(wb) if backend == "wandb" else LocalRegistry(tmp_path / "reg")
    for c in "abc":
        reg.register("m", _file(tmp_path, c), {"metaflow_run": f"TrainFlow/{c}"})
    reg.set_alias("m", PRODUCTION, 0, expected=None, reason="first")
    reg.set_alias("m", PRODUCTION, 2, expected=0, reason="better")
    reg.set_alias("m", PRODUCTION, 2, reason="again")  # the holder: not a move
    assert rollback(reg, "m") == (2, 0)
    assert reg.get("m", PRODUCTION).version == 0

    trail = [e for e in reg.events("m") if e["kind"] in ("register", "alias")]
    assert [(e["kind"], e["version"]) for e in trail] == [
        ("register", 0),
        ("register", 1),
        ("register", 2),
        ("alias", 0),
        ("alias", 2),
        ("alias", 0),
    ]
    moves = trail[3:]
    assert [m["previous"] for m in moves] == [None, 0, 2]
    assert [m["reason"] for m in moves] == ["first", "better", "rollback from v2"]
    assert {m["user"] for m in moves} == {"ana"} and all(m["at"] for m in moves)
    assert trail[0].get("run") == "TrainFlow/a"
    # the trail is not user metadata
    assert all("alias_moves" not in mv.metadata for mv in reg.versions("m"))
