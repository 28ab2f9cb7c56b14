"""With a signing key, a reader unpickles only what the key's holder registered or vouched for."""

from __future__ import annotations

import json
import pathlib
from pathlib import Path

import joblib
import pytest
from click.testing import CliRunner

from modelops.cli import main
from modelops.errors import ConfigError, RegistryError
from modelops.registry import PRODUCTION, LocalRegistry
from modelops.registry.base import sha256_file
from modelops.registry.packaging import (
    MODEL_FILE,
    load_model,
    load_reference,
    signed,
)
from tests.conftest import linear_version, make_frame

KEY = "k" * 40
OTHER = "o" * 40


class _Payload:
    """A pickle that runs code when loaded: it creates the file it names."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _register(tmp_path: Path, monkeypatch, key: str | None) -> LocalRegistry:
    if key:
        monkeypatch.setenv("MODELOPS_SIGNING_KEY", key)
    files, meta, _, _ = linear_version(
        make_frame(120), tmp_path / "f", run="TrainFlow/1/register/3"
    )
    reg = LocalRegistry(tmp_path / "reg")
    reg.register("m", files, signed("m", files, meta), aliases=(PRODUCTION,))
    monkeypatch.delenv("MODELOPS_SIGNING_KEY", raising=False)
    return reg


def _replace_model(reg: LocalRegistry, marker: Path) -> None:
    """What someone with write access to the registry can do: new pickle, new digest."""
    folder = Path(reg.get("m", PRODUCTION).location)
    joblib.dump(_Payload(marker), folder / MODEL_FILE)
    record = json.loads((folder / "metadata.json").read_text())
    record["files"][MODEL_FILE] = sha256_file(folder / MODEL_FILE)
    (folder / "metadata.json").write_text(json.dumps(record))


def test_a_signed_model_loads_with_the_key(tmp_path, monkeypatch):
    reg = _register(tmp_path, monkeypatch, KEY)
    sig = reg.get("m", PRODUCTION).metadata["signature"]
    assert sig["scheme"] == "hmac-sha256" and KEY not in json.dumps(sig)
    monkeypatch.setenv("MODELOPS_SIGNING_KEY", KEY)
    assert load_model(reg, "m", PRODUCTION).pipeline.predict(make_frame(5).drop(columns="y")).shape
    assert len(load_reference(reg, "m", PRODUCTION)[1]) == 50  # X.head(50)


def test_a_replaced_pickle_with_a_matching_digest_is_refused_before_it_runs(tmp_path, monkeypatch):
    reg = _register(tmp_path, monkeypatch, KEY)
    marker = tmp_path / "code-ran"
    _replace_model(reg, marker)
    monkeypatch.setenv("MODELOPS_SIGNING_KEY", KEY)
    with pytest.raises(RegistryError, match="signature does not match"):
        load_model(reg, "m", PRODUCTION)
    assert not marker.exists()
    # the trust model without a key: the digest alone cannot tell, and the code runs
    monkeypatch.delenv("MODELOPS_SIGNING_KEY")
    assert load_model(reg, "m", PRODUCTION).pipeline is None  # Path.touch's result, no model
    assert marker.exists()


def test_a_changed_schema_breaks_the_signature(tmp_path, monkeypatch):
    reg = _register(tmp_path, monkeypatch, KEY)
    path = Path(reg.get("m", PRODUCTION).location) / "metadata.json"
    record = json.loads(path.read_text())
    record["metadata"]["schema"]["columns"] = record["metadata"]["schema"]["columns"][:1]
    path.write_text(json.dumps(record))
    monkeypatch.setenv("MODELOPS_SIGNING_KEY", KEY)
    with pytest.raises(RegistryError, match="signature does not match"):
        load_model(reg, "m", PRODUCTION)


def test_unsigned_and_other_key_versions_are_refused_until_signed(tmp_path, monkeypatch):
    reg = _register(tmp_path, monkeypatch, None)
    monkeypatch.setenv("MODELOPS_SIGNING_KEY", KEY)
    with pytest.raises(RegistryError, match="not signed.*modelops registry sign m v0"):
        load_model(reg, "m", PRODUCTION)
    runner = CliRunner()
    env = {"MODELOPS_REGISTRY_DIR": str(reg.root), "MODELOPS_SIGNING_KEY": KEY}
    result = runner.invoke(main, ["registry", "--backend", "local", "sign", "m", "v0"], env=env)
    assert result.exit_code == 0, result.output
    assert "v0 signed" in result.output
    assert load_model(reg, "m", PRODUCTION).version.version == 0
    # a later metadata change (the promotion decision) keeps the signature valid
    reg.update_metadata("m", 0, {"decision": {"promote": True}})
    load_model(reg, "m", PRODUCTION)
    monkeypatch.setenv("MODELOPS_SIGNING_KEY", OTHER)
    with pytest.raises(RegistryError, match="signed with another key"):
        load_model(reg, "m", PRODUCTION)


def test_a_short_key_is_refused_rather_than_used(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELOPS_SIGNING_KEY", "secret")
    with pytest.raises(ConfigError, match="at least 32"):
        _register(tmp_path, monkeypatch, "secret")
