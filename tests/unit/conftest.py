from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """Every unit test gets its own registry, signing key and W&B directory; W&B never goes
    online."""
    monkeypatch.setenv("MODELOPS_REGISTRY_DIR", str(tmp_path / "registry"))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("MODELOPS_SIGNING_KEY", raising=False)
    monkeypatch.delenv("MODELOPS_TRUST_UNSIGNED", raising=False)
    # the key made on first use goes to this test's folder, never the user's ~/.config
    monkeypatch.setenv("MODELOPS_SIGNING_KEY_FILE", str(tmp_path / "keys" / "signing.key"))
