"""Embedded registry: a directory per model, no server, same semantics as the W&B Registry.

Layout under the root (by default `.metaflow/registry`, beside Metaflow's local datastore):

    <model>/v0001/model.joblib, metadata.json   immutable once renamed into place
    <model>/aliases.json                        {"production": 3}, replaced atomically
    <model>/events.jsonl                        audit trail of registrations and alias moves
    <model>/.lock                               flock held by every writer

Every change happens under an exclusive lock and becomes visible through one atomic rename,
so concurrent TrainFlow runs get distinct version numbers and an alias always names exactly
one version.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
    sha256_file,
    verify_files,
)
from modelops.storage import write_json

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def default_root() -> Path:
    """`$MODELOPS_REGISTRY_DIR`, else `registry/` inside Metaflow's local `.metaflow` folder."""
    if env := os.environ.get("MODELOPS_REGISTRY_DIR"):
        return Path(env)
    if env := os.environ.get("METAFLOW_DATASTORE_SYSROOT_LOCAL"):
        return Path(env) / ".metaflow" / "registry"
    cwd = Path.cwd().resolve()
    for d in (cwd, *cwd.parents):
        if (d / ".metaflow").is_dir():
            return d / ".metaflow" / "registry"
    return cwd / ".metaflow" / "registry"


class LocalRegistry(Registry):
    """The default backend whenever W&B is offline or disabled."""

    backend = "local"

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root else default_root()

    def missing_hint(self) -> str:
        return (
            f" at {self.root}. A fresh clone or CI runner starts with an empty local registry: "
            "train first (make train), or set WANDB_API_KEY to use the W&B Registry."
        )

    def _dir(self, name: str) -> Path:
        if not _NAME.match(name):
            raise RegistryError(
                f"model name {name!r} is not valid: use letters, digits, '_', '.', '-' (max 128)"
            )
        return self.root / name

    @contextmanager
    def _locked(self, name: str) -> Iterator[Path]:
        d = self._dir(name)
        d.mkdir(parents=True, exist_ok=True)
        fd = _open_own(d / ".lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield d
        finally:
            os.close(fd)  # releases the lock

    def _aliases(self, d: Path, *, repair: bool = False) -> dict[str, int]:
        """{alias: version}; a damaged file is an error naming it, unless this is an explicit
        alias move (`repair`), which rewrites it."""
        p = d / "aliases.json"
        if not p.exists():
            return {}
        try:
            data = _read_json(p)
        except RegistryError:
            if repair:
                log.warning("%s is damaged; rewriting it with this alias move", p)
                return {}
            raise
        valid = isinstance(data, dict) and all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in data.items()
        )
        if valid:
            return data
        if repair:
            log.warning("%s is not {alias: version}; rewriting it with this alias move", p)
            return {}
        raise RegistryError(
            f"{p}: holds {type(data).__name__} {str(data)[:80]}, not {{alias: version number}}; "
            f"the registry file is damaged: rebuild it with `modelops registry promote "
            f"{d.name} vN` (the versions and their history are untouched)"
        )

    def _event(self, d: Path, **event: Any) -> None:
        event["at"] = datetime.now(UTC).isoformat()
        event["user"] = change_user()
        fd = _open_own(d / "events.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(json.dumps(event, default=str) + "\n")

    def _version_dirs(self, d: Path) -> list[tuple[int, Path]]:
        if not d.is_dir():
            return []
        out = [(int(p.name[1:]), p) for p in d.iterdir() if re.fullmatch(r"v\d+", p.name)]
        return sorted(out)

    def register(
        self,
        name: str,
        files: Mapping[str, Path],
        metadata: Mapping[str, Any],
        aliases: tuple[str, ...] = (),
    ) -> ModelVersion:
        with self._locked(name) as d:
            existing = self._version_dirs(d)
            version = existing[-1][0] + 1 if existing else 0
            staging = d / f".staging-{uuid.uuid4().hex}"
            staging.mkdir()
            try:
                digests = {}
                for fname, src in files.items():
                    check_file_name(fname, name)
                    shutil.copyfile(src, staging / fname)
                    digests[fname] = sha256_file(staging / fname)
                record = {
                    "name": name,
                    "version": version,
                    "created_at": datetime.now(UTC).isoformat(),
                    "files": digests,
                    "metadata": dict(metadata),
                }
                write_json(staging / "metadata.json", record)
                os.rename(staging, d / f"v{version:04d}")
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            self._event(d, kind="register", version=version, run=metadata.get("metaflow_run"))
            for alias in aliases:
                self._move_alias(d, alias, version, ANY)
        return self.get(name, version)

    def _move_alias(
        self, d: Path, alias: str, version: int, expected: int | None, reason: str = ""
    ) -> None:
        if not any(v == version for v, _ in self._version_dirs(d)):
            raise RegistryError(f"{d.name}: cannot set alias {alias!r}: no version v{version}")
        current = self._aliases(d, repair=expected == ANY)
        held_by = current.get(alias)
        if expected != ANY and held_by != expected:
            raise AliasConflict(
                f"{d.name}: alias {alias!r} is held by v{held_by}, expected v{expected}; "
                "another run moved it first"
            )
        if held_by == version:  # not a move: no event, so rollback never lands on itself
            return
        current[alias] = version
        write_json(d / "aliases.json", current)
        self._event(d, kind="alias", alias=alias, version=version, previous=held_by, reason=reason)

    def set_alias(
        self, name: str, alias: str, version: int, expected: int | None = ANY, reason: str = ""
    ) -> None:
        with self._locked(name) as d:
            self._move_alias(d, alias, version, expected, reason)

    def update_metadata(self, name: str, version: int, changes: Mapping[str, Any]) -> None:
        with self._locked(name) as d:
            path = d / f"v{version:04d}" / "metadata.json"
            if not path.exists():
                raise RegistryError(f"{name}: no version v{version}")
            record = _read_json(path)
            record["metadata"] = {**record["metadata"], **changes}
            write_json(path, record)
            self._event(d, kind="metadata", version=version, keys=sorted(changes))

    def versions(self, name: str) -> list[ModelVersion]:
        d = self._dir(name)
        aliases = self._aliases(d) if d.is_dir() else {}
        out = []
        for v, path in self._version_dirs(d):
            try:
                rec = _read_json(path / "metadata.json")
                if not isinstance(rec, dict) or not {"metadata", "files", "created_at"} <= set(rec):
                    raise RegistryError(f"{path / 'metadata.json'}: not a version record")
            except (RegistryError, OSError) as err:  # one damaged version, not the registry
                log.warning("%s v%d skipped: %s", name, v, err)
                continue
            out.append(
                ModelVersion(
                    name=name,
                    version=v,
                    aliases=tuple(sorted(a for a, av in aliases.items() if av == v)),
                    metadata=rec["metadata"],
                    files=rec["files"],
                    created_at=rec["created_at"],
                    location=str(path),
                )
            )
        return out

    def alias_target(self, name: str, alias: str) -> int | None:
        d = self._dir(name)
        return self._aliases(d).get(alias) if d.is_dir() else None

    def models(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name))

    def events(self, name: str) -> list[dict[str, Any]]:
        """Every registration, alias move and metadata change (`events.jsonl`), oldest first."""
        p = self._dir(name) / "events.jsonl"
        if not p.exists():
            return []
        events, damaged = [], []
        for number, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = None
            if isinstance(event, dict) and isinstance(event.get("kind"), str):
                events.append(event)
            else:
                damaged.append(number)
        if damaged:  # the rest of the history still counts
            log.warning("%s: line(s) %s are not events; skipped", p, damaged[:20])
        return events

    def stored_files(self, mv: ModelVersion) -> dict[str, Path] | None:
        where = Path(mv.location)
        if not mv.location or not all((where / f).is_file() for f in mv.files):
            return None
        return {f: where / f for f in mv.files}

    def download(self, mv: ModelVersion, dest: Path) -> Path:
        for fname in mv.files:
            check_file_name(fname, mv.ref)
        src = Path(mv.location)
        verify_files(mv, src)
        dest.mkdir(parents=True, exist_ok=True)
        for fname in mv.files:
            shutil.copyfile(src / fname, dest / fname)
        verify_files(mv, dest)
        return dest


def _open_own(path: Path, flags: int) -> int:
    """Open a registry file without following a symlink: a link planted as `events.jsonl`
    must not make a promotion append to whatever file it points at."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        if path.is_symlink():
            raise RegistryError(
                f"{path} is a symbolic link; registry files must be plain files (remove the "
                "link and restore the file)"
            ) from err
        raise


def _read_json(path: Path) -> Any:
    """A registry file; a damaged one is named with what to do, not a bare JSONDecodeError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RegistryError(
            f"{path}: not valid JSON ({err}); the registry file is damaged: restore it from a "
            "backup or a teammate's copy (aliases.json can be rebuilt with `modelops registry "
            "promote`)"
        ) from err
