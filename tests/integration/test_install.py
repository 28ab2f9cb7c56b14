"""What a user installs outside Pipenv works: `pip install .` into a fresh venv gives the CLI
and the service, and the registry's light environment (what rollback.yml installs) moves an
alias without the training stack. Both install from the package index, at Pipfile.lock's
versions (a constraints file made from it), as the workflows do."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from modelops.registry import PRODUCTION, LocalRegistry
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(cmd)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_pip_install_dot_gives_a_working_cli_and_service(tmp_path):
    """pyproject.toml's dependencies are enough: `modelops serve` imports FastAPI and uvicorn,
    which only the Pipfile used to bring."""
    venv = tmp_path / "venv"
    constraints = tmp_path / "constraints.txt"
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([sys.executable, str(ROOT / "container" / "lock_requirements.py"), "--constraints",
          str(ROOT / "Pipfile.lock"), str(constraints)])  # fmt: skip
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "-c", str(constraints)]
    _run([*pip, str(ROOT)], cwd=tmp_path)
    modelops = str(venv / "bin" / "modelops")
    assert "serve" in _run([modelops, "--help"], cwd=tmp_path).stdout
    assert "--host" in _run([modelops, "serve", "--help"], cwd=tmp_path).stdout
    # the service's modules import, not only its --help
    _run([str(venv / "bin" / "python"), "-c", "import modelops.serving.app"], cwd=tmp_path)


def test_the_registry_env_rolls_back_without_the_training_stack(tmp_path):
    """`make rollback` (rollback.yml) installs click and wandb, not 2.8 GB of training stack,
    and moves production back with compare-and-set as the full environment does."""
    registry = LocalRegistry(tmp_path / "registry")
    for content in ("a", "b"):
        path = tmp_path / f"model-{content}.bin"
        path.write_text(content)
        mv = registry.register("m", {"model.joblib": path}, {"task": "regression"})
        registry.set_alias("m", PRODUCTION, mv.version)
    env = os.environ | {
        "MODELOPS_REGISTRY_DIR": str(tmp_path / "registry"),
        "WANDB_MODE": "offline",
    }
    _run(["make", "--no-print-directory", "rollback", "MODEL=m", "TO=v0"], cwd=ROOT, env=env)
    assert registry.get("m", PRODUCTION).version == 0
    light = ROOT / ".venv-registry" / "bin" / "python"
    probe = (
        "import importlib.util as u; "
        "print([m for m in ('sklearn', 'pandas', 'metaflow') if u.find_spec(m)])"
    )
    assert _run([str(light), "-c", probe]).stdout.strip() == "[]"
