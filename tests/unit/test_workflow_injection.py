"""Workflow inputs are data, never code: every `run:` step of the dispatchable workflows is
executed for real with bash and the real Makefile, with hostile values in every input,
variable and step output; only the Python entry points and `gh` are stand-ins that record the
arguments they receive. Nothing may execute, and each value must arrive as one argument."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ("train.yml", "monitor.yml", "rollback.yml", "registry-events.yml")
_EXPR = re.compile(r"\$\{\{(.*?)\}\}")

PAYLOADS = {
    "semicolon": "v1; touch {m}/{var}-semicolon #",
    "substitution": "$(touch {m}/{var}-substitution)",
    "backticks": "`touch {m}/{var}-backticks`",
    "newline": "v1\ntouch {m}/{var}-newline",
    "make-function": "$(shell touch {m}/{var}-make)",
    "quotes": "v1\" ; touch {m}/{var}-dq ; \"'; touch {m}/{var}-sq; '",
}

_RECORDER = """#!{python}
import json, os, sys
with open(os.environ["STUB_LOG"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""


def _value(expr: str, var: str, payload: str, markers: Path) -> str:
    expr = expr.strip()
    if expr.startswith("secrets.") and "!=" in expr:
        return "true"
    if expr.startswith("secrets.") or expr in ("github.token", "github.repository"):
        return "not-a-real-secret"
    return payload.format(m=markers, var=var)  # inputs, vars, step outputs, ref names


def _env(block: dict | None, payload: str, markers: Path) -> dict[str, str]:
    out = {}
    for var, raw in (block or {}).items():
        raw = str(raw)
        match = _EXPR.fullmatch(raw.strip())
        out[var] = _value(match.group(1), var, payload, markers) if match else raw
    return out


def _workspace(tmp_path: Path) -> Path:
    work = tmp_path / "checkout"
    (work / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(ROOT / "Makefile", work / "Makefile")
    (work / "Pipfile.lock").write_text("{}")
    os.utime(work / "Pipfile.lock", (1, 1))
    (work / ".venv" / ".synced").touch()  # the environment is up to date: install is a no-op
    (work / "pyproject.toml").write_text("")  # and so is the registry's light one (rollback)
    os.utime(work / "pyproject.toml", (1, 1))
    (work / ".venv-registry" / "bin").mkdir(parents=True)
    (work / ".venv-registry" / ".synced").touch()
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for path in (
        work / ".venv" / "bin" / "python",
        work / ".venv-registry" / "bin" / "python",
        stubs / "gh",
    ):
        path.write_text(_RECORDER.format(python=sys.executable))
        path.chmod(0o755)
    return work


def _run_workflow(name: str, payload: str, tmp_path: Path) -> tuple[list[list[str]], dict]:
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    work, markers = _workspace(tmp_path), tmp_path / "markers"
    markers.mkdir()
    log = tmp_path / "argv.jsonl"
    sent: dict[str, str] = {}
    for job in wf["jobs"].values():
        job_env = _env(job.get("env"), payload, markers)
        for step in job.get("steps", []):
            if "run" not in step:
                continue
            env = job_env | _env(step.get("env"), payload, markers)
            sent.update(env)
            base = {
                "PATH": f"{tmp_path / 'stubs'}{os.pathsep}{os.environ['PATH']}",
                "HOME": str(tmp_path),
                "STUB_LOG": str(log),
                "GITHUB_ENV": str(tmp_path / "github_env"),
                "GITHUB_OUTPUT": str(tmp_path / "github_output"),
                "GITHUB_STEP_SUMMARY": str(tmp_path / "github_step_summary"),
                "GITHUB_EVENT_PATH": str(tmp_path / "event.json"),
            }
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=work,
                env=base | env,
                capture_output=True,
                text=True,
            )
            assert done.returncode == 0, f"{name}: {step.get('name')}: {done.stderr}"
            assert not list(markers.iterdir()), f"{name}: {step.get('name')} executed input"
    argv = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return argv, sent


@pytest.mark.parametrize("payload", list(PAYLOADS.values()), ids=list(PAYLOADS))
@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_hostile_inputs_reach_commands_as_single_arguments(workflow, payload, tmp_path):
    argv, sent = _run_workflow(workflow, payload, tmp_path)
    assert not list((tmp_path / "markers").iterdir())
    arguments = {a for call in argv for a in call}
    scripts = (ROOT / "Makefile").read_text() + "".join(
        str(s.get("run", ""))
        for job in yaml.safe_load((ROOT / ".github/workflows" / workflow).read_text())[
            "jobs"
        ].values()
        for s in job.get("steps", [])
    )
    hostile = {v: val for v, val in sent.items() if "touch" in val}
    used = {v for v in hostile if re.search(rf"\$\$?\{{?{v}\b", scripts)}
    assert used, "no hostile value reached a command: the test ran nothing"
    for var in used:
        whole = any(hostile[var] in a for a in arguments)  # `-f data=<value>` holds it whole
        assert whole, f"{workflow}: ${var} did not arrive as one argument"


def test_secrets_are_given_only_to_the_steps_that_use_them():
    for name in WORKFLOWS:
        wf = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
        for job_name, job in wf["jobs"].items():
            for var, value in (job.get("env") or {}).items():
                assert "secrets." not in str(value), f"{name}: job {job_name} exposes {var}"


@pytest.mark.parametrize("var", ["ARGS", "USER", "METAFLOW_USER"])
def test_make_never_runs_what_the_environment_or_args_hold(var, tmp_path):
    work = _workspace(tmp_path)
    marker = tmp_path / "ran"
    hostile = f"--seed $(shell touch {marker}) $(touch {marker})"
    log = tmp_path / "argv.jsonl"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "STUB_LOG": str(log)}
    done = subprocess.run(
        ["make", "train"], cwd=work, env=env | {var: hostile}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    argv = json.loads(log.read_text().splitlines()[0])
    if var == "ARGS":  # split into words by the shell, each word text
        assert argv[argv.index("--seed") :] == hostile.split()
    via_args = subprocess.run(
        ["make", "train", f"ARGS={hostile}"], cwd=work, env=env, capture_output=True, text=True
    )
    assert via_args.returncode == 0 and not marker.exists()
