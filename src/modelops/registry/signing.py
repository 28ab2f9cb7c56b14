"""Who may put code into a reader's process: signing registered models with a shared key.

A pickled pipeline is code. The SHA-256 digests a version records only prove the files are
the ones registered; whoever can write the registry can replace files and digests together.
With `MODELOPS_SIGNING_KEY` set, a registration signs (HMAC-SHA256, the standard library's
`hmac`) the model name, every file's name and digest, and the input schema; a reader with the
same key refuses, before anything is unpickled, a version that is unsigned, signed with
another key, or whose files or schema differ from what was signed. Without the key nothing is
signed or checked, and anyone who can write the registry is trusted (README, "Trust model").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Any

from modelops.errors import ConfigError, RegistryError
from modelops.registry.base import ModelVersion

KEY_ENV = "MODELOPS_SIGNING_KEY"
SCHEME = "hmac-sha256"
_MIN_KEY_CHARS = 32


def signing_key() -> bytes | None:
    """The key from the environment, or None; a short key is refused rather than used."""
    raw = os.environ.get(KEY_ENV, "")
    if not raw:
        return None
    if len(raw) < _MIN_KEY_CHARS:
        raise ConfigError(
            f"{KEY_ENV} has {len(raw)} characters; use at least {_MIN_KEY_CHARS} random ones "
            '(for example: python -c "import secrets; print(secrets.token_hex(32))")'
        )
    return raw.encode()


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


def verify(mv: ModelVersion, key: bytes) -> None:
    """Raise unless the version's metadata 'signature' signs its files and schema with `key`."""
    ref, name, files, metadata = mv.ref, mv.name, mv.files, mv.metadata
    sig = metadata.get("signature")
    if not isinstance(sig, dict) or sig.get("scheme") != SCHEME:
        raise RegistryError(
            f"{ref} is not signed, and {KEY_ENV} is set, so unsigned models are refused; "
            f"if you trust this version, sign it with: modelops registry sign {name} v{mv.version}"
        )
    if sig.get("key_id") != key_id(key):
        raise RegistryError(
            f"{ref} was signed with another key (key id {sig.get('key_id')}, "
            f"{KEY_ENV} has key id {key_id(key)}); refusing to load it"
        )
    expected = sign(name, files, metadata.get("schema"), key)["value"]
    if not hmac.compare_digest(expected, str(sig.get("value", ""))):
        raise RegistryError(
            f"{ref}: the signature does not match its files and schema (they were changed "
            "after signing); refusing to load it"
        )
