"""W&B Registry backend: a thin adapter, used only when W&B is online.

Registration logs the files as a `model` artifact from a W&B run and links it into the
registry collection `wandb-registry-model/<name>`; consumers resolve
`wandb-registry-model/<name>:production`. W&B itself keeps every alias unique within a
collection. `link_artifact` and `use_artifact` need a server, so this backend cannot run
offline; its calls are tested against a recording fake (tests marked `wandb_server`).

The audit trail (`events`) is kept where W&B keeps a version's facts: each alias move is
appended to the metadata of the version it moved to (`alias_moves`), and registrations are the
versions themselves; W&B's own UI shows the same moves in each version's history.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelops.errors import RegistryError
from modelops.registry.base import (
    ANY,
    AliasConflict,
    ModelVersion,
    Registry,
    change_user,
    check_file_name,
    verify_files,
)
from modelops.tracking import REGISTRY_PREFIX

MOVES = "alias_moves"  # metadata key of the moves that landed on a version (not user metadata)


class WandbRegistry(Registry):
    backend = "wandb"

    def __init__(self, wandb_module: Any = None, project: str | None = None):
        if wandb_module is None:
            import wandb as wandb_module
        self.wandb = wandb_module
        self.project = project

    def _path(self, name: str, ref: str = "") -> str:
        return f"{REGISTRY_PREFIX}{name}" + (f":{ref}" if ref else "")

    def _api(self) -> Any:
        return self.wandb.Api()

    def _to_version(self, name: str, art: Any) -> ModelVersion:
        meta = dict(art.metadata or {})
        files = meta.pop("files_sha256", {})
        meta.pop(MOVES, None)
        index = int(str(art.version).lstrip("v"))
        aliases = tuple(sorted(a for a in art.aliases if a != "latest" and a != art.version))
        return ModelVersion(
            name=name,
            version=index,
            aliases=aliases,
            metadata=meta,
            files=files,
            created_at=str(getattr(art, "created_at", "")),
            location=self._path(name, art.version),
        )

    def register(
        self,
        name: str,
        files: Mapping[str, Path],
        metadata: Mapping[str, Any],
        aliases: tuple[str, ...] = (),
    ) -> ModelVersion:
        from modelops.registry.base import sha256_file

        digests = {fname: sha256_file(Path(p)) for fname, p in files.items()}
        run = self.wandb.run
        owns_run = run is None
        if owns_run:
            run = self.wandb.init(project=self.project, job_type="register-model")
        try:
            art = self.wandb.Artifact(
                name, type="model", metadata=dict(metadata) | {"files_sha256": digests}
            )
            for fname, path in files.items():
                art.add_file(str(path), name=fname)
            run.log_artifact(art)
            # aliases given here are W&B's link aliases, not moves in `events()`: TrainFlow
            # and `registry push` register without any and move aliases with `set_alias`
            run.link_artifact(art, self._path(name), aliases=list(aliases))
        finally:
            if owns_run:
                run.finish()
        return self.get(name, "latest")

    def set_alias(
        self, name: str, alias: str, version: int, expected: int | None = ANY, reason: str = ""
    ) -> None:
        holder = self.find(name, alias)
        held = holder.version if holder else None
        if expected != ANY and held != expected:
            raise AliasConflict(f"{name}: alias {alias!r} is held by v{held}, expected v{expected}")
        if held == version:  # not a move: no event, so rollback never lands on itself
            return
        art = self._api().artifact(self._path(name, f"v{version}"))
        if alias not in art.aliases:
            art.aliases.append(alias)
        move = {
            "alias": alias,
            "previous": held,
            "at": datetime.now(UTC).isoformat(),
            "user": change_user(),
            "reason": reason,
        }
        meta = dict(art.metadata or {})
        art.metadata = meta | {MOVES: [*meta.get(MOVES, []), move]}
        art.save()

    def update_metadata(self, name: str, version: int, changes: Mapping[str, Any]) -> None:
        art = self._api().artifact(self._path(name, f"v{version}"))
        art.metadata = {**(art.metadata or {}), **changes}
        art.save()

    def _artifacts(self, name: str) -> list[Any]:
        try:
            return list(self._api().artifacts(type_name="model", name=self._path(name)))
        except Exception as err:  # the public API raises a bare CommError for unknown names
            if "not found" in str(err).lower() or "could not find" in str(err).lower():
                return []
            raise RegistryError(f"W&B registry: cannot list {self._path(name)}: {err}") from err

    def versions(self, name: str) -> list[ModelVersion]:
        versions = (self._to_version(name, a) for a in self._artifacts(name))
        return sorted(versions, key=lambda mv: mv.version)

    def events(self, name: str) -> list[dict[str, Any]]:
        out = []
        for art in self._artifacts(name):
            mv = self._to_version(name, art)
            run = mv.metadata.get("metaflow_run")
            out.append({"kind": "register", "version": mv.version, "at": mv.created_at, "run": run})
            for move in (art.metadata or {}).get(MOVES, []):
                out.append({"kind": "alias", "version": mv.version} | dict(move))
        return sorted(out, key=lambda e: (_when(e.get("at")), e["kind"] != "register"))

    def download(self, mv: ModelVersion, dest: Path) -> Path:
        for fname in mv.files:
            check_file_name(fname, mv.ref)
        art = self._api().artifact(mv.location)
        art.download(root=str(dest))
        verify_files(mv, Path(dest))
        return Path(dest)


def _when(at: Any) -> datetime:
    """An event's time for ordering: W&B writes `...Z`, the moves `...+00:00`; unknown first."""
    try:
        when = datetime.fromisoformat(str(at))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)
