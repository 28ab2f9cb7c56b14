"""Replay a local registry onto another one (the W&B Registry once credentials exist).

Offline, the embedded local registry is the source of truth: TrainFlow registers and promotes
there, `rollback` moves `production` there. `push` makes another registry follow it, through
the same `Registry` interface both backends implement:

- every local version the target lacks is registered there, in local order, with the same
  files and metadata plus `local_version`; the local version records `remote_version` (the
  numbers are mapped both ways, since W&B numbers its own versions);
- every alias (`production`, ...) is moved on the target to the version its local holder was
  pushed as, with compare-and-set: only when the target's alias is where the last push put it
  (recorded locally as `remote_aliases`). An alias someone moved by hand on the target is a
  conflict, reported and left alone;
- a second push with nothing new changes nothing.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from modelops.errors import RegistryError
from modelops.registry.base import AliasConflict, ModelVersion, Registry

log = logging.getLogger(__name__)

LOCAL_KEY = "local_version"  # on the target: the local version it was pushed from
REMOTE_KEY = "remote_version"  # locally: the target's version it was pushed as
ALIASES_KEY = "remote_aliases"  # locally: the aliases the last push set on the target


@dataclass
class PushReport:
    """What one push did to one model (and what it refused to do)."""

    model: str
    registered: list[tuple[int, int]] = field(default_factory=list)  # (local, target)
    moved: list[tuple[str, int, int]] = field(default_factory=list)  # (alias, local, target)
    conflicts: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.registered or self.moved)

    def lines(self) -> list[str]:
        out = [f"{self.model}: local v{a} -> v{b} registered" for a, b in self.registered]
        out += [f"{self.model}: {al} -> v{b} (local v{a})" for al, a, b in self.moved]
        out += [f"{self.model}: CONFLICT {c}" for c in self.conflicts]
        return out or [f"{self.model}: up to date"]


def push(local: Registry, target: Registry, name: str) -> PushReport:
    """Make `target` hold every version and alias of `name` that `local` holds (see module)."""
    report = PushReport(name)
    mapping = _mapped(local, target, name, report)
    versions = local.versions(name)
    if not versions:
        raise RegistryError(f"no model {name!r} in the {local.backend} registry to push")
    for mv in versions:
        if mv.version in mapping:
            continue
        with tempfile.TemporaryDirectory(prefix="modelops-push-") as tmp:
            local.download(mv, Path(tmp))
            files = {f: Path(tmp) / f for f in mv.files}
            meta = {k: v for k, v in mv.metadata.items() if k not in (REMOTE_KEY, ALIASES_KEY)}
            pushed = target.register(name, files, meta | {LOCAL_KEY: mv.version})
        local.update_metadata(name, mv.version, {REMOTE_KEY: pushed.version})
        mapping[mv.version] = pushed.version
        report.registered.append((mv.version, pushed.version))
    _push_aliases(local, target, name, mapping, report)
    return report


def _mapped(local: Registry, target: Registry, name: str, report: PushReport) -> dict[int, int]:
    """Local version -> target version, for the target versions a push made whose files are
    still the local version's (a target version claiming a local one with other files is a
    conflict: that local version is not pushed again over it)."""
    local_files = {mv.version: mv.files for mv in local.versions(name)}
    mapping: dict[int, int] = {}
    for tv in target.versions(name):
        origin = tv.metadata.get(LOCAL_KEY)
        if origin is None or origin not in local_files:
            continue
        if tv.files != local_files[origin]:
            report.conflicts.append(
                f"target v{tv.version} says it is local v{origin}, but its files differ; "
                f"was another registry pushed to the same model? local v{origin} not pushed"
            )
            mapping[origin] = -1
            continue
        mapping.setdefault(origin, tv.version)
    return mapping


def _push_aliases(
    local: Registry, target: Registry, name: str, mapping: dict[int, int], report: PushReport
) -> None:
    versions = local.versions(name)
    by_version = {mv.version: mv for mv in versions}
    for alias in sorted({a for mv in versions for a in mv.aliases}):
        holder = next(mv for mv in versions if alias in mv.aliases)
        want = mapping.get(holder.version, -1)
        if want < 0:
            continue  # that version is in conflict (reported above)
        last = _last_pushed(versions, alias)
        expected = mapping.get(last.version) if last is not None else None
        current = target.find(name, alias)
        now = current.version if current is not None else None
        if now == want:
            _record(local, name, by_version, alias, holder)
            continue
        if now != expected:
            report.conflicts.append(
                f"{alias!r} is on target v{now}, but the last push put it on "
                + (f"v{expected}" if expected is not None else "no version")
                + f"; someone moved it there: left as is (local v{holder.version} would be "
                f"target v{want}; move it on the target, or re-run after agreeing)"
            )
            continue
        try:
            target.set_alias(
                name, alias, want, expected=now, reason=f"push: local v{holder.version}"
            )
        except AliasConflict as err:  # moved between our read and our write
            report.conflicts.append(f"{alias!r}: {err}; left as is")
            continue
        _record(local, name, by_version, alias, holder)
        report.moved.append((alias, holder.version, want))


def _last_pushed(versions: list[ModelVersion], alias: str) -> ModelVersion | None:
    """The local version on whose behalf the last push set `alias` on the target."""
    for mv in versions:
        if alias in (mv.metadata.get(ALIASES_KEY) or []):
            return mv
    return None


def _record(
    local: Registry,
    name: str,
    by_version: dict[int, ModelVersion],
    alias: str,
    holder: ModelVersion,
) -> None:
    """Note locally that the target's `alias` now follows `holder` (and no other version)."""
    for mv in by_version.values():
        pushed = list(mv.metadata.get(ALIASES_KEY) or [])
        should = mv.version == holder.version
        if (alias in pushed) == should:
            continue
        pushed = [*pushed, alias] if should else [a for a in pushed if a != alias]
        local.update_metadata(name, mv.version, {ALIASES_KEY: pushed})
        mv.metadata[ALIASES_KEY] = pushed
