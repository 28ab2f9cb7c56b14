"""Registry events from W&B Automations, as GitHub's `repository_dispatch` receives them.

A W&B webhook automation on the model's registry collection posts to
`https://api.github.com/repos/OWNER/REPO/dispatches` with this payload (W&B fills in the
`${...}` template strings; `.github/workflows/registry-events.yml` accepts it):

    {"event_type": "wandb-registry",
     "client_payload": {"event_type": "${event_type}", "event_author": "${event_author}",
                        "alias": "${alias}",
                        "artifact_version_string": "${artifact_version_string}",
                        "artifact_collection_name": "${artifact_collection_name}"}}

`route` decides what the event starts: `production` added to a version -> score with it
(monitor.yml in report-only mode, so the new champion meets the current data at once);
`retrain` added -> train.yml for that model on the configured data. The payload is read from
the event file, never expanded into a shell, and every field is checked before it is used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from modelops.errors import ConfigError
from modelops.registry.base import PRODUCTION

EVENT_TYPES = ("ADD_ARTIFACT_ALIAS", "LINK_ARTIFACT")
RETRAIN_ALIAS = "retrain"
# W&B's artifact and alias names: letters, digits, '-', '_', '.'
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# entity/project/collection:version-or-alias
_VERSION_STRING = re.compile(r"[\w.-]+/[\w.-]+/([\w.-]+):([\w.-]+)")


@dataclass(frozen=True)
class RegistryEvent:
    """One registry event, checked: what happened to which model, and who did it."""

    kind: str
    model: str
    alias: str
    version: str
    author: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Route:
    """What the event starts: `score`, `retrain` or `none`, why (for the job summary), and
    for a retrain the data it trains on."""

    action: str
    model: str
    reason: str
    data: str = ""


def parse_event(event: Mapping[str, Any]) -> RegistryEvent:
    """The `client_payload` of a GitHub `repository_dispatch` event (or the payload itself),
    as W&B's automation sends it; a ConfigError naming the field that is wrong."""
    payload = event.get("client_payload", event)
    if not isinstance(payload, Mapping):
        raise ConfigError("registry event: client_payload is not an object")

    def field(name: str, required: bool = True) -> str:
        value = payload.get(name, "")
        if not isinstance(value, str) or (required and not value):
            raise ConfigError(f"registry event: {name} must be a non-empty string, got {value!r}")
        return value

    kind = field("event_type")
    if kind not in EVENT_TYPES:
        raise ConfigError(f"registry event: event_type {kind!r}; expected one of {EVENT_TYPES}")
    model = field("artifact_collection_name")
    if not _NAME.fullmatch(model):
        raise ConfigError(f"registry event: artifact_collection_name {model!r} is not a name")
    alias = field("alias", required=kind == "ADD_ARTIFACT_ALIAS")
    if alias and not _NAME.fullmatch(alias):
        raise ConfigError(f"registry event: alias {alias!r} is not a name")
    match = _VERSION_STRING.fullmatch(field("artifact_version_string"))
    if not match or match.group(1) != model:
        raise ConfigError(
            f"registry event: artifact_version_string {payload['artifact_version_string']!r} "
            f"is not entity/project/{model}:version"
        )
    author = field("event_author", required=False)
    return RegistryEvent(
        kind, model, alias, match.group(2), author if _NAME.fullmatch(author) else ""
    )


def route(event: RegistryEvent) -> Route:
    """`production` moved: score with the new champion; `retrain` added: retrain the model;
    anything else (a new version linked, another alias): nothing."""
    who = f" by {event.author}" if event.author else ""
    if event.kind == "ADD_ARTIFACT_ALIAS" and event.alias == PRODUCTION:
        return Route(
            "score",
            event.model,
            f"{event.model}: '{PRODUCTION}' moved to {event.version}{who}; scoring with it",
        )
    if event.kind == "ADD_ARTIFACT_ALIAS" and event.alias == RETRAIN_ALIAS:
        return Route("retrain", event.model, f"{event.model}: '{RETRAIN_ALIAS}' added{who}")
    what = f"alias '{event.alias}' added" if event.alias else "new version linked"
    return Route("none", event.model, f"{event.model}: {what} ({event.version}); nothing to start")


def with_data(found: Route, template: str, now: datetime) -> Route:
    """A retrain with the data it trains on (`RETRAIN_DATA`, {date}/{month} of `now`), or
    nothing started when no data is configured; other routes unchanged."""
    from modelops.monitoring.policy import retrain_source

    if found.action != "retrain":
        return found
    if not template.strip():
        return replace(found, action="none", reason=f"{found.reason}; no RETRAIN_DATA is set: "
                       "nothing to train on")  # fmt: skip
    data = retrain_source(template, now)
    return replace(found, data=data, reason=f"{found.reason}; retraining on {data}")


def publish(found: Route, env: Mapping[str, str]) -> None:
    """Write the route where GitHub Actions reads it (step output, job summary)."""
    if out := env.get("GITHUB_OUTPUT"):
        with open(out, "a", encoding="utf-8") as f:
            f.write(f"action={found.action}\nmodel={found.model}\ndata={found.data}\n")
    if summary := env.get("GITHUB_STEP_SUMMARY"):
        with open(summary, "a", encoding="utf-8") as f:
            f.write(f"### W&B registry event\n\n{found.reason}\n")


def read_event(path: Path) -> RegistryEvent:
    """The event GitHub wrote to `$GITHUB_EVENT_PATH`."""
    try:
        return parse_event(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path}: not a readable event ({err})") from None
