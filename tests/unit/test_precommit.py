"""The commit hooks use the project's locked tools, so they run offline and agree with make lint."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _hooks() -> list[dict]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    return [h for repo in config["repos"] for h in repo["hooks"]]


def test_every_hook_is_a_local_tool_installed_by_the_pipfile():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    assert {repo["repo"] for repo in config["repos"]} == {"local"}  # nothing fetched
    for hook in _hooks():
        exe = ROOT / shlex.split(hook["entry"])[0]
        assert exe.is_file(), f"hook {hook['id']}: {exe} is not installed"


def test_hooks_cover_formatting_linting_workflows_and_hygiene():
    ids = {h["id"] for h in _hooks()}
    assert {"black", "ruff", "zizmor", "check-github-workflows"} <= ids
    assert {"check-added-large-files", "detect-private-key", "debug-statements"} <= ids
