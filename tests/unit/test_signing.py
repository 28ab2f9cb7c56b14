"""A reader unpickles only what the key's holder registered or vouched for, by default."""

from __future__ import annotations

import json
import pathlib
import stat
from pathlib import Path

import joblib
import pytest
from click.testing import CliRunner

from modelops.cli import main
from modelops.errors import ConfigError, RegistryError
from modelops.registry import PRODUCTION, LocalRegistry, signing
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
    reg.register("m", files, signed("m", files, meta) if key else meta, aliases=(PRODUCTION,))
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


def _signed_registry(tmp_path: Path) -> LocalRegistry:
    """A registration as a fresh clone makes it: no MODELOPS_SIGNING_KEY in the environment."""
    files, meta, _, _ = linear_version(make_frame(120), tmp_path / "f")
    reg = LocalRegistry(tmp_path / "reg")
    reg.register("m", files, signed("m", files, meta), aliases=(PRODUCTION,))
    return reg


def test_a_fresh_clone_signs_with_a_private_key_file_made_on_first_use(tmp_path, monkeypatch):
    key_file = signing.key_file()
    assert not key_file.exists()
    reg = _signed_registry(tmp_path)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    sig = reg.get("m", PRODUCTION).metadata["signature"]
    assert sig["key_id"] == signing.key_id(key_file.read_text().strip().encode())
    assert not str(key_file).startswith(str(reg.root))  # a registry writer cannot read it
    loaded = load_model(reg, "m", PRODUCTION)
    assert loaded.pipeline.predict(make_frame(5).drop(columns="y")).shape == (5,)
    # a second registration reuses the key rather than making another
    files, meta, _, _ = linear_version(make_frame(120), tmp_path / "f2")
    reg.register("m", files, signed("m", files, meta))
    assert reg.get("m", 1).metadata["signature"]["key_id"] == sig["key_id"]


def test_a_replaced_pickle_with_a_matching_digest_is_refused_before_it_runs(tmp_path, monkeypatch):
    reg = _signed_registry(tmp_path)
    marker = tmp_path / "code-ran"
    _replace_model(reg, marker)
    with pytest.raises(RegistryError, match="signature does not match"):
        load_model(reg, "m", PRODUCTION)
    monkeypatch.setenv("MODELOPS_TRUST_UNSIGNED", "1")  # opting in to unsigned changes nothing
    with pytest.raises(RegistryError, match="signature does not match"):
        load_model(reg, "m", PRODUCTION)
    # a reader without any key refuses a signed version rather than loading it unchecked
    signing.key_file().unlink()
    with pytest.raises(RegistryError, match="no signing key here.*MODELOPS_SIGNING_KEY"):
        load_model(reg, "m", PRODUCTION)
    assert not marker.exists()


def test_an_unsigned_version_is_refused_unless_the_reader_opts_in(tmp_path, monkeypatch, caplog):
    reg = _register(tmp_path, monkeypatch, None)
    assert "signature" not in reg.get("m", PRODUCTION).metadata
    marker = tmp_path / "code-ran"
    _replace_model(reg, marker)
    for reader in (load_model, load_reference):
        with pytest.raises(RegistryError, match="not signed.*MODELOPS_TRUST_UNSIGNED=1"):
            reader(reg, "m", PRODUCTION)
    assert not marker.exists()
    # opted in: loaded with a warning, and what was loaded is checked to be a pipeline
    monkeypatch.setenv("MODELOPS_TRUST_UNSIGNED", "1")
    with pytest.raises(RegistryError, match="holds a builtins.NoneType, not the sklearn"):
        load_model(reg, "m", PRODUCTION)
    assert marker.exists()
    assert "not signed; loading it because MODELOPS_TRUST_UNSIGNED" in caplog.text


def test_an_unsigned_pipeline_loads_when_the_reader_opts_in(tmp_path, monkeypatch):
    reg = _register(tmp_path, monkeypatch, None)
    monkeypatch.setenv("MODELOPS_TRUST_UNSIGNED", "1")
    assert load_model(reg, "m", PRODUCTION).version.version == 0


def test_a_key_file_others_can_read_is_refused(tmp_path):
    _signed_registry(tmp_path)
    signing.key_file().chmod(0o644)
    with pytest.raises(ConfigError, match="can be read by other users.*chmod 600"):
        signing.signing_key()


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


def test_the_key_is_withheld_from_tasks_that_do_not_sign(monkeypatch):
    import subprocess
    import sys

    from modelops.registry.signing import withhold_key

    monkeypatch.setenv("MODELOPS_SIGNING_KEY", KEY)
    withhold_key()
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ.get('MODELOPS_SIGNING_KEY'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert child.stdout.strip() == "None"  # nor do the processes a booster starts
    source = (Path(__file__).resolve().parents[2] / "flows" / "train_flow.py").read_text()
    # the search tasks fit what the join registers; only the join (`register`) signs
    body = source.split("def search", 1)[1].split("@step", 1)[0]
    assert "withhold_key()" in body


def _with_libraries(reg: LocalRegistry, libraries: dict[str, str]) -> None:
    """Rewrite the recorded library versions (metadata the signature does not cover)."""
    path = Path(reg.get("m", PRODUCTION).location) / "metadata.json"
    record = json.loads(path.read_text())
    record["metadata"]["libraries"] |= libraries
    path.write_text(json.dumps(record))


def test_another_major_library_version_is_refused_before_unpickling(tmp_path, monkeypatch, caplog):
    from modelops.registry.packaging import library_versions

    reg = _signed_registry(tmp_path)
    sklearn_now = library_versions()["scikit-learn"]
    major, minor = (int(p) for p in sklearn_now.split(".")[:2])
    _with_libraries(reg, {"scikit-learn": f"{major}.{minor + 1}.0"})
    assert load_model(reg, "m", PRODUCTION).version.version == 0  # a minor step: a warning
    assert f"scikit-learn {major}.{minor + 1}.0 -> {sklearn_now}" in caplog.text
    _with_libraries(reg, {"scikit-learn": f"{major - 1}.9.0"})
    with pytest.raises(RegistryError, match=r"another major version of scikit-learn .*ALLOW"):
        load_model(reg, "m", PRODUCTION)
    monkeypatch.setenv("MODELOPS_ALLOW_VERSION_MISMATCH", "1")
    assert load_model(reg, "m", PRODUCTION).version.version == 0
