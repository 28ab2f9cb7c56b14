"""The registry interface both backends implement, and what they share (digests, references)."""

from __future__ import annotations

import getpass
import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops.errors import RegistryError

PRODUCTION = "production"
# Sentinel for set_alias(expected=...): "do not check what the alias points at now".
ANY = -1


@dataclass(frozen=True)
class ModelVersion:
    """One registered version: its number, aliases, metadata and the SHA-256 of each file."""

    name: str
    version: int
    aliases: tuple[str, ...]
    metadata: dict[str, Any]
    files: dict[str, str]
    created_at: str
    location: str = ""

    @property
    def ref(self) -> str:
        return f"{self.name}:v{self.version}"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks so large models do not load twice into memory."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_file_name(name: str, where: str) -> None:
    """A registered file name is a plain name inside its version folder: metadata naming
    `../x` or `/etc/x` must not make a download write outside the folder it was given."""
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\0" in name
        or Path(name).is_absolute()
    ):
        raise RegistryError(f"{where}: file name {name!r} is not a plain name; refusing it")


def verify_files(mv: ModelVersion, directory: Path) -> None:
    """Refuse to load a file whose digest differs from the one recorded at registration."""
    for name in mv.files:
        check_file_name(name, mv.ref)
    for name, digest in mv.files.items():
        path = directory / name
        if not path.exists():
            raise RegistryError(f"{mv.ref}: file {name!r} is missing from {directory}")
        actual = sha256_file(path)
        if actual != digest:
            raise RegistryError(
                f"{mv.ref}: file {name!r} has SHA-256 {actual}, but {digest} was registered; "
                "the stored model was changed or corrupted, refusing to load it"
            )


def parse_ref(ref: str | int) -> tuple[str, int | str]:
    """'v3' or 3 -> ('version', 3); 'latest' -> ('latest', ...); anything else is an alias."""
    if isinstance(ref, int):
        return "version", ref
    s = str(ref).strip()
    if s[:1] in ("v", "V") and s[1:].isdigit():
        return "version", int(s[1:])
    if s.isdigit():
        return "version", int(s)
    if s == "latest":
        return "latest", s
    return "alias", s


class Registry(ABC):
    """Register model versions with files and metadata; move aliases; resolve references.

    Semantics shared by every backend: versions are numbered v0, v1, ... in registration
    order (as W&B does);
    an alias is held by at most one version of a model at a time; files are addressed by
    SHA-256 and checked before they are handed out.
    """

    backend: str = "abstract"

    @abstractmethod
    def register(
        self,
        name: str,
        files: Mapping[str, Path],
        metadata: Mapping[str, Any],
        aliases: tuple[str, ...] = (),
    ) -> ModelVersion:
        """Store files and metadata as the next version of `name`."""

    @abstractmethod
    def set_alias(
        self, name: str, alias: str, version: int, expected: int | None = ANY, reason: str = ""
    ) -> None:
        """Point `alias` at `version`, taking it off whichever version held it; `reason` goes
        into the audit trail where the backend keeps one.

        `expected` makes the move conditional (compare-and-set): the version the caller saw
        holding the alias (None: no version held it). A mismatch raises AliasConflict, so two
        promotions racing never silently overwrite each other's decision.
        """

    @abstractmethod
    def update_metadata(self, name: str, version: int, changes: Mapping[str, Any]) -> None:
        """Merge `changes` into a version's metadata (its files never change).

        For what is only known after registering, such as the final promotion decision when a
        concurrent run promoted first.
        """

    @abstractmethod
    def versions(self, name: str) -> list[ModelVersion]:
        """All versions of `name`, oldest first (empty if the model does not exist)."""

    @abstractmethod
    def download(self, mv: ModelVersion, dest: Path) -> Path:
        """Copy the version's files into `dest`, verified against their digests."""

    @abstractmethod
    def events(self, name: str) -> list[dict[str, Any]]:
        """The audit trail of `name`, oldest first: `register` events (version, at, user, run)
        and `alias` moves (alias, version, previous holder or None, at, user, reason); what
        `modelops registry history` shows and rollback reads. Re-pointing an alias at the
        version that holds it is not a move."""

    def missing_hint(self) -> str:
        """What to do when a model is not found (backends know where they looked)."""
        return ""

    def models(self) -> list[str]:
        """Names of registered models (backends that can list them override this)."""
        return []

    def stored_files(self, mv: ModelVersion) -> dict[str, Path] | None:
        """The registry's own copies of a version's files, when they are files on this machine
        (never rewritten, so W&B can log them in place instead of copying 285 MB), else None."""
        return None

    def alias_target(self, name: str, alias: str) -> int | None:
        """The version number an alias records, even when that version cannot be read
        (backends that can tell override this)."""
        return None

    def default_model(self) -> str:
        """The model to use when none is named: the only one, or the one registered last."""
        latest: dict[str, str] = {}
        for name in self.models():
            versions = self.versions(name)
            if versions:
                latest[name] = str(versions[-1].created_at)
        if not latest:
            raise RegistryError(
                f"no registered models in the {self.backend} registry; pass the model name "
                "(--model-name)" + self.missing_hint()
            )
        return max(latest, key=lambda n: latest[n])

    def get(self, name: str, ref: str | int = PRODUCTION) -> ModelVersion:
        """Resolve an alias ('production'), a version ('v3', 3) or 'latest'."""
        kind, value = parse_ref(ref)
        all_versions = self.versions(name)

        def mixup() -> str:  # a model's name where its alias belongs (--model for --model-name)
            if kind != "alias" or str(ref) == name or str(ref) not in self.models():
                return ""
            return (
                f" ({ref!r} is a registered model's name, not an alias: pass it as the model "
                f"name, for example ScoreFlow's --model-name {ref})"
            )

        def others() -> str:  # the user trained, but under another name
            names = [m for m in self.models() if m != name]
            if not names:
                return ""
            return (
                f"; registered models here: {names[:10]}: pass one as the model name (for "
                "example ScoreFlow's --model-name)"
            )

        def not_promoted() -> str:  # why no version holds the alias, when TrainFlow said so
            latest = all_versions[-1]
            decision = latest.metadata.get("decision") or {}
            if kind != "alias" or decision.get("promote") is not False:
                return ""
            reasons = "; ".join(decision.get("reasons") or []) or "no reason recorded"
            return (
                f". The latest, v{latest.version}, was not promoted ({reasons}): use it anyway "
                f"by version (ScoreFlow's --model v{latest.version}), or promote it "
                f"(modelops registry promote {name} v{latest.version})"
            )

        if not all_versions:
            raise RegistryError(
                f"model {name!r} has no registered versions ({self.backend} registry)"
                + (mixup() or others() or self.missing_hint())
            )
        if kind == "latest":
            return all_versions[-1]
        for mv in all_versions:
            if (kind == "version" and mv.version == value) or (
                kind == "alias" and value in mv.aliases
            ):
                return mv
        known = [f"v{mv.version}{list(mv.aliases) or ''}" for mv in all_versions]
        target = self.alias_target(name, str(value)) if kind == "alias" else None
        if target is not None:
            raise RegistryError(
                f"model {name!r}: alias {value!r} points at v{target}, which is missing or "
                f"damaged; versions: {known}. Move the alias to a good version: modelops "
                f"registry promote {name} vN (or modelops registry rollback {name} --to vN)"
            )
        raise RegistryError(
            f"model {name!r} has no {kind} {value!r}; versions: {known}"
            + (mixup() or not_promoted())
        )

    def find(self, name: str, ref: str | int = PRODUCTION) -> ModelVersion | None:
        """Like get, but None when the model or reference does not exist (no champion yet)."""
        try:
            return self.get(name, ref)
        except RegistryError:
            return None


def change_user() -> str:
    """Who made a change, for the audit trail: the Metaflow user, else the login name."""
    try:
        return os.environ.get("METAFLOW_USER") or getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"uid {os.getuid()}"


class AliasConflict(RegistryError):
    """A conditional alias move found the alias somewhere other than the caller expected."""
