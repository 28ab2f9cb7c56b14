"""Who may put code into a reader's process: registered models are signed, and readers verify.

A pickled pipeline is code. The SHA-256 digests a version records only prove the files are
the ones registered; whoever can write the registry can replace files and digests together.
So every registration signs (HMAC-SHA256, the standard library's `hmac`) the model name, every
file's name and digest, and the input schema, and a reader refuses, before anything is
unpickled, a version that is unsigned, signed with another key, or whose files or schema differ
from what was signed. Failing closed is the default:

- The key is `MODELOPS_SIGNING_KEY` when set (CI secrets, remote tasks); otherwise a key file
  kept outside the registry (`MODELOPS_SIGNING_KEY_FILE`, default
  `~/.config/modelops/signing.key`, mode 0600), created by the first registration, so a fresh
  clone signs and verifies with no set-up and a registry writer cannot forge a signature.
- A signed version and no key here: refused, with how to provide the key.
- An unsigned version: refused unless the reader opts in (`MODELOPS_TRUST_UNSIGNED=1`), which
  is logged as a warning on every load.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelops.errors import ConfigError, RegistryError
from modelops.registry.base import ModelVersion

log = logging.getLogger(__name__)

KEY_ENV = "MODELOPS_SIGNING_KEY"
KEY_FILE_ENV = "MODELOPS_SIGNING_KEY_FILE"
TRUST_UNSIGNED_ENV = "MODELOPS_TRUST_UNSIGNED"
SCHEME = "hmac-sha256"
_MIN_KEY_CHARS = 32


def key_file() -> Path:
    """Where the local key lives: outside the repository and the registry, per user."""
    if explicit := os.environ.get(KEY_FILE_ENV):
        return Path(explicit).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "modelops" / "signing.key"


def _checked(raw: str, where: str) -> bytes:
    raw = raw.strip()
    if len(raw) < _MIN_KEY_CHARS:
        raise ConfigError(
            f"{where} has {len(raw)} characters; use at least {_MIN_KEY_CHARS} random ones "
            '(for example: python -c "import secrets; print(secrets.token_hex(32))")'
        )
    return raw.encode()


def _read_key_file(path: Path) -> bytes:
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path} (the signing key) is not a regular file; refusing to use it")
    if info.st_mode & 0o077:
        raise ConfigError(
            f"{path} (the signing key) can be read by other users (mode "
            f"{stat.S_IMODE(info.st_mode):o}); run: chmod 600 {path}"
        )
    return _checked(path.read_text(encoding="utf-8"), str(path))


def _create_key_file(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_hex(32)
    try:  # O_EXCL: two first registrations at once keep one key, the other reads it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key_file(path)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    log.warning(
        "created the signing key %s (key id %s): registrations are signed with it and readers "
        "verify with it; give it to other machines as %s",
        path,
        key_id(key.encode()),
        KEY_ENV,
    )
    return key.encode()


def signing_key() -> bytes | None:
    """The key a reader verifies with: `MODELOPS_SIGNING_KEY`, else the key file, else None.
    A short or group/world-readable key is refused rather than used."""
    if raw := os.environ.get(KEY_ENV, ""):
        return _checked(raw, KEY_ENV)
    path = key_file()
    if path.exists() or path.is_symlink():
        return _read_key_file(path)
    return None


def writer_key() -> bytes:
    """The key a registration signs with: the reader's key, or a key file made on first use."""
    return signing_key() or _create_key_file(key_file())


def withhold_key() -> None:
    """Drop the key from this process's environment (and its children's): TrainFlow's search
    tasks run third-party model code and never sign or verify anything."""
    os.environ.pop(KEY_ENV, None)


def trust_unsigned() -> bool:
    """Whether this reader opted in to loading unsigned versions."""
    return os.environ.get(TRUST_UNSIGNED_ENV, "").strip().lower() in ("1", "true", "yes")


def key_id(key: bytes) -> str:
    """A public fingerprint of the key, so 'signed with another key' can be told apart."""
    return hashlib.sha256(b"modelops-key-id:" + key).hexdigest()[:16]


def _message(name: str, files: Mapping[str, str], schema: Any) -> bytes:
    body = {"name": name, "files": dict(sorted(files.items())), "schema": schema}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(name: str, files: Mapping[str, str], schema: Any, key: bytes) -> dict[str, str]:
    """The signature block stored in a version's metadata under 'signature'."""
    digest = hmac.new(key, _message(name, files, schema), hashlib.sha256).hexdigest()
    return {"scheme": SCHEME, "key_id": key_id(key), "value": digest}


def _provide_key_hint() -> str:
    return (
        f"set {KEY_ENV} to the key it was signed with, or copy that key into {key_file()} "
        "(mode 0600)"
    )


def check(mv: ModelVersion) -> None:
    """Raise unless this reader may unpickle `mv`: signed with our key, or unsigned and the
    reader opted in with MODELOPS_TRUST_UNSIGNED=1 (logged)."""
    sig = mv.metadata.get("signature")
    key = signing_key()
    if sig is None:
        if trust_unsigned():
            log.warning(
                "%s is not signed; loading it because %s is set: anyone who could write the "
                "registry can run code here",
                mv.ref,
                TRUST_UNSIGNED_ENV,
            )
            return
        sign_hint = (
            f"modelops registry sign {mv.name} v{mv.version}"
            if key is not None
            else f"{KEY_ENV} or a key file, then modelops registry sign {mv.name} v{mv.version}"
        )
        raise RegistryError(
            f"{mv.ref} is not signed, so it is refused (a pickle runs code when loaded); if you "
            f"trust whoever registered it, sign it ({sign_hint}) or set {TRUST_UNSIGNED_ENV}=1"
        )
    if key is None:
        kid = sig.get("key_id") if isinstance(sig, dict) else None
        raise RegistryError(
            f"{mv.ref} is signed (key id {kid!r}) but there is no signing key here to verify "
            f"it; {_provide_key_hint()}"
        )
    verify(mv, key)


def verify(mv: ModelVersion, key: bytes) -> None:
    """Raise unless the version's metadata 'signature' signs its files and schema with `key`."""
    ref, name, files, metadata = mv.ref, mv.name, mv.files, mv.metadata
    sig = metadata.get("signature")
    if not isinstance(sig, dict) or sig.get("scheme") != SCHEME:
        raise RegistryError(
            f"{ref} is not signed with {SCHEME}, so it is refused; if you trust this version, "
            f"sign it with: modelops registry sign {name} v{mv.version}"
        )
    if sig.get("key_id") != key_id(key):
        raise RegistryError(
            f"{ref} was signed with another key (key id {sig.get('key_id')!r}, this reader's "
            f"key has key id {key_id(key)}); refusing to load it; {_provide_key_hint()}"
        )
    expected = sign(name, files, metadata.get("schema"), key)["value"]
    if not hmac.compare_digest(expected, str(sig.get("value", ""))):
        raise RegistryError(
            f"{ref}: the signature does not match its files and schema (they were changed "
            "after signing); refusing to load it"
        )
