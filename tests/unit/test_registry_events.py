"""W&B Automations start workflows through repository_dispatch: the event is parsed strictly
and routed (production moved -> score with it; retrain added -> retrain on the configured data)."""

from __future__ import annotations

import json

import pytest
import yaml

from modelops.cli import registry_main
from modelops.errors import ConfigError
from modelops.registry.events import parse_event, route
from tests.conftest import ROOT

# what W&B sends for "an artifact alias is added" on the W&B Registry (template strings filled)
PRODUCTION_MOVED = {
    "action": "wandb-registry",
    "client_payload": {
        "event_type": "ADD_ARTIFACT_ALIAS",
        "event_author": "ana",
        "alias": "production",
        "artifact_version_string": "acme/wandb-registry-model/diamonds-price:production",
        "artifact_collection_name": "diamonds-price",
    },
}


def _event(**changes):
    return {"client_payload": PRODUCTION_MOVED["client_payload"] | changes}


def test_production_moved_in_wandb_scores_with_the_new_champion():
    event = parse_event(PRODUCTION_MOVED)
    assert (event.kind, event.model, event.alias, event.author) == (
        "ADD_ARTIFACT_ALIAS", "diamonds-price", "production", "ana"
    )  # fmt: skip
    r = route(event)
    assert (r.action, r.model) == ("score", "diamonds-price")
    assert "'production' moved to production by ana" in r.reason


def test_a_retrain_alias_retrains_and_anything_else_starts_nothing():
    assert route(parse_event(_event(alias="retrain"))).action == "retrain"
    assert route(parse_event(_event(alias="staging"))).action == "none"
    linked = _event(
        event_type="LINK_ARTIFACT",
        alias="",
        artifact_version_string="acme/wandb-registry-model/diamonds-price:v7",
    )
    r = route(parse_event(linked))
    assert r.action == "none" and "new version linked (v7)" in r.reason


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"event_type": "DELETE_ARTIFACT"}, "event_type"),
        ({"artifact_collection_name": "x; rm -rf /"}, "artifact_collection_name"),
        ({"artifact_collection_name": "$(id)"}, "artifact_collection_name"),
        ({"alias": "prod\nx=1"}, "alias"),
        ({"artifact_version_string": "acme/reg/other-model:v1"}, "artifact_version_string"),
        ({"artifact_collection_name": 3}, "artifact_collection_name"),
    ],
)
def test_a_malformed_or_hostile_event_is_refused_naming_the_field(changes, field):
    with pytest.raises(ConfigError, match=field):
        parse_event(_event(**changes))


def test_the_cli_writes_the_route_where_github_reads_it(tmp_path, monkeypatch, capsys):
    path, out = tmp_path / "event.json", tmp_path / "output"
    path.write_text(json.dumps(_event(alias="retrain")))
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    monkeypatch.setenv("MODELOPS_REGISTRY_DIR", str(tmp_path / "registry"))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    argv = ["--backend", "local", "event", "--event", str(path)]
    assert registry_main([*argv, "--retrain-data", "s3://b/{month}.csv"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["action"] == "retrain" and shown["data"].startswith("s3://b/20")
    assert out.read_text().splitlines()[:2] == ["action=retrain", "model=diamonds-price"]
    # no data configured: a retrain event starts nothing, and says why
    assert registry_main(argv) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["action"] == "none" and "no RETRAIN_DATA" in shown["reason"]
    path.write_text("{not json")
    assert registry_main(argv) == 1


def test_the_workflow_accepts_the_event_and_starts_only_known_workflows():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "registry-events.yml").read_text())
    assert wf[True]["repository_dispatch"]["types"] == ["wandb-registry"]  # YAML 1.1: on = True
    route_job, start = wf["jobs"]["route"], wf["jobs"]["start"]
    assert route_job["permissions"] == {"contents": "read"}  # the payload is read here
    assert start["permissions"] == {"actions": "write"}
    assert 'make registry-event EVENT="$GITHUB_EVENT_PATH"' in route_job["steps"][-1]["run"]
    assert "client_payload" not in yaml.safe_dump(wf)  # never expanded into a command
    run = " ".join(s["run"] for s in start["steps"])
    assert [s["if"] for s in start["steps"]] == [
        "needs.route.outputs.action == 'score'",
        "needs.route.outputs.action == 'retrain'",
    ]
    monitor = yaml.safe_load((ROOT / ".github/workflows/monitor.yml").read_text())[True]
    train = yaml.safe_load((ROOT / ".github/workflows/train.yml").read_text())[True]
    assert "gh workflow run monitor.yml" in run and "gh workflow run train.yml" in run
    for name in ("model-name", "mode"):
        assert name in monitor["workflow_dispatch"]["inputs"]
    for name in ("data", "model-name", "target", "promotion"):
        assert name in train["workflow_dispatch"]["inputs"]
