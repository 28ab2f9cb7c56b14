"""The documented Metaflow profiles only use settings this Metaflow version knows."""

from __future__ import annotations

import json
from pathlib import Path

import metaflow.metaflow_config as metaflow_config
import pytest

PROFILES = sorted((Path(__file__).resolve().parents[2] / ".metaflow" / "profiles").glob("*.json"))


def test_profiles_exist():
    names = {p.stem.removeprefix("config_") for p in PROFILES}
    assert names == {"local", "s3", "kubernetes", "batch", "argo"}


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_profile_keys_are_metaflow_settings(path):
    settings = json.loads(path.read_text())
    unknown = [k for k in settings if not hasattr(metaflow_config, k.removeprefix("METAFLOW_"))]
    assert unknown == []
    if path.stem != "config_local":
        assert settings["METAFLOW_DEFAULT_DATASTORE"] == "s3"
