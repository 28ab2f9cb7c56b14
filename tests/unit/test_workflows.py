"""The GitHub workflows cannot drift from the code: every command they run exists, dispatch
inputs are TrainFlow parameters, and the security rules zizmor checks hold."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml
from metaflow import Parameter

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def _steps(wf: dict) -> list[dict]:
    return [s for job in wf["jobs"].values() for s in job.get("steps", [])]


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-zA-Z_-]+):", (ROOT / "Makefile").read_text(), re.M))


def _targets_needing_the_venv() -> set[str]:
    """Make targets whose prerequisites include the Pipenv environment ($(STAMP))."""
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-zA-Z_-]+):[^=\n]*\$\(STAMP\)", text, re.M))


def test_rollback_installs_the_registry_cli_not_the_training_stack():
    """Moving an alias needs click and wandb: rollback.yml's `make rollback` builds the light
    venv (tests/integration/test_install.py runs it), not the 2.8 GB development one."""
    assert "rollback" not in _targets_needing_the_venv()
    assert {"train", "score", "monitor"} <= _targets_needing_the_venv()
    wf = _load(ROOT / ".github" / "workflows" / "rollback.yml")
    assert any("make rollback" in s.get("run", "") for s in _steps(wf))
    assert not any(s.get("uses", "").startswith("actions/cache@") for s in _steps(wf))


def _flow_parameters(flow_file: str, cls: str) -> set[str]:
    spec = importlib.util.spec_from_file_location(cls, ROOT / "flows" / flow_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {v.name for v in vars(getattr(module, cls)).values() if isinstance(v, Parameter)}


def test_there_are_workflows():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "train.yml", "monitor.yml", "rollback.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_security_rules(path):
    wf = _load(path)
    assert "permissions" in wf, "least privilege: declare permissions"
    for step in _steps(wf):
        if "run" in step:
            assert "${{" not in step["run"], f"template expansion inside run: {step['run']!r}"
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_make_target_exists(path):
    targets = _make_targets()
    for step in _steps(_load(path)):
        for target in re.findall(r"\bmake\s+([a-z][\w-]*)", step.get("run", "")):
            assert target in targets, f"{path.name} runs `make {target}`, not in the Makefile"


def test_train_dispatch_inputs_are_train_flow_parameters():
    wf = _load(ROOT / ".github" / "workflows" / "train.yml")
    params = _flow_parameters("train_flow.py", "TrainFlow")
    everything = wf["on"]["workflow_dispatch"]["inputs"]
    assert set(wf["on"]["workflow_call"]["inputs"]) == set(everything)
    # what the workflow itself does with the run (uploads) is not a flow parameter
    dispatch = {k: v for k, v in everything.items() if k != "upload-model"}
    assert set(dispatch) <= params
    # a user's own table can be trained from the form: where it is, what to predict, ...
    assert {"data", "target", "candidates", "budget-minutes", "promotion", "model-name"} <= set(
        dispatch
    )
    flow = (ROOT / "flows" / "train_flow.py").read_text()
    (default,) = re.findall(r'"candidates",\s*default="([^"]+)"', flow)
    assert everything["candidates"]["default"] == default  # the flow's families, not a subset
    assert everything["upload-model"]["default"] is False  # rows are uploaded only when asked
    run = " ".join(s.get("run", "") for s in _steps(wf))
    env = wf["jobs"]["train"]["env"]
    for name in dispatch:
        var = name.upper().replace("-", "_")
        assert env[var] == f"${{{{ inputs.{name} }}}}"  # inputs reach the shell only via env
        assert f'--{name} "${var}"' in run  # one quoted argument each
    assert wf["concurrency"]["cancel-in-progress"] is False


def test_monitor_retrains_through_train_yml_with_least_privilege():
    from modelops.monitoring.policy import MODES

    wf = _load(ROOT / ".github" / "workflows" / "monitor.yml")
    assert wf["permissions"] == {} and "schedule" in wf["on"]
    inputs = wf["on"]["workflow_dispatch"]["inputs"]
    assert inputs["mode"]["options"] == list(MODES)
    monitor, retrain = wf["jobs"]["monitor"], wf["jobs"]["retrain"]
    assert monitor["permissions"] == {"contents": "read", "actions": "read"}
    assert retrain["permissions"] == {"actions": "write"}  # only the job that dispatches
    assert retrain["if"] == "needs.monitor.outputs.retrain == 'true'"
    assert monitor["outputs"]["retrain"] == "${{ steps.decide.outputs.retrain }}"
    decide = next(s for s in monitor["steps"] if s.get("id") == "decide")
    assert "make monitor" in decide["run"]
    assert 'if [ "$HAS_WANDB_KEY" != "true" ]' in monitor["steps"][0]["run"]  # clear offline
    (run,) = [s["run"] for s in retrain["steps"]]
    train = _load(ROOT / ".github" / "workflows" / "train.yml")
    assert "gh workflow run train.yml" in run
    for name in re.findall(r"-f ([\w-]+)=", run):
        assert name in train["on"]["workflow_dispatch"]["inputs"], name
    # the retrain trains the model that drifted, on the drifted window's data (the decision's)
    assert monitor["outputs"]["data"] == "${{ steps.decide.outputs.data }}"
    assert retrain["env"]["DATA"].startswith("${{ needs.monitor.outputs.data }}")
    assert '-f data="$DATA"' in run and '-f model-name="$MODEL"' in run
    assert monitor["env"]["RETRAIN_DATA"] == "${{ vars.RETRAIN_DATA }}"
    assert '--retrain-data "$$RETRAIN_DATA"' in (ROOT / "Makefile").read_text()


def test_rollback_is_never_queued_behind_or_cancelled_by_a_retrain():
    """GitHub keeps one pending run per concurrency group and cancels the older one: a
    rollback sharing the retrains' group could be cancelled by the next retrain. Its group is
    its own run; the alias move itself is compare-and-set (registry.history.rollback)."""
    wf = _load(ROOT / ".github" / "workflows" / "rollback.yml")
    train = _load(ROOT / ".github" / "workflows" / "train.yml")
    assert "github.run_id" in wf["concurrency"]["group"]
    assert "inputs.model-name" in train["concurrency"]["group"]  # one queue per model
    history = (ROOT / "src" / "modelops" / "registry" / "history.py").read_text()
    assert "expected=current" in history
    assert any("make rollback" in s.get("run", "") for s in _steps(wf))
    makefile = (ROOT / "Makefile").read_text()
    assert "-m modelops.registry rollback" in makefile


def test_artifacts_hold_summaries_unless_rows_are_asked_for():
    """Artifacts of a public repository are public: no training rows, model pickles, served
    predictions or raw rejected lines by default."""
    for name, switch in (
        ("train.yml", "inputs.upload-model"),
        ("monitor.yml", "inputs.upload-rows"),
    ):
        wf = _load(ROOT / ".github" / "workflows" / name)
        for step in _steps(wf):
            if "upload-artifact" not in str(step.get("uses", "")):
                continue
            paths = step["with"]["path"].split()
            broad = [p for p in paths if p.endswith("/") or "reference" in p or p == "wandb/"]
            if broad:
                assert switch in str(step.get("if", "")), f"{name}: {broad} uploaded by default"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_the_cache_holds_the_venv_the_makefile_builds(path):
    """setup-python's `cache: pipenv` caches ~/.local/share/virtualenvs, which
    PIPENV_VENV_IN_PROJECT leaves empty: every job that runs make caches ./.venv by lock."""
    assert "PIPENV_VENV_IN_PROJECT := 1" in (ROOT / "Makefile").read_text()
    for job in _load(path)["jobs"].values():
        steps = job.get("steps", [])
        assert not any((s.get("with") or {}).get("cache") == "pipenv" for s in steps)
        targets = {
            t for s in steps for t in re.findall(r"\bmake\s+([a-z][\w-]*)", s.get("run", ""))
        }
        if not targets & _targets_needing_the_venv():
            continue  # rollback.yml: `make rollback` builds the light registry venv only
        caches = [s for s in steps if s.get("uses", "").startswith("actions/cache@")]
        assert caches, f"{path.name}: a job that runs make caches nothing"
        (cache,) = caches
        assert cache["with"]["path"] == ".venv"
        key = cache["with"]["key"]
        assert "hashFiles('Pipfile.lock')" in key and "python-version" in key
