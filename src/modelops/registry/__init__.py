"""Model registry: one interface, two backends (embedded local, W&B Registry).

`open_registry()` picks the backend from `MODELOPS_REGISTRY` (`auto`, `local`, `wandb`): `auto`
uses W&B when tracking is online and the local registry otherwise, so flows never know which.
"""

from __future__ import annotations

from modelops.errors import ConfigError
from modelops.registry.base import ANY, PRODUCTION, AliasConflict, ModelVersion, Registry
from modelops.registry.local import LocalRegistry

__all__ = [
    "ANY",
    "PRODUCTION",
    "AliasConflict",
    "LocalRegistry",
    "ModelVersion",
    "Registry",
    "open_registry",
]


def open_registry(backend: str | None = None) -> Registry:
    """The registry for this environment (see module docstring)."""
    from modelops.tracking import project, registry_backend

    choice = registry_backend(backend)
    if choice == "local":
        return LocalRegistry()
    if choice == "wandb":
        from modelops.registry.wandb_backend import WandbRegistry

        return WandbRegistry(project=project())
    raise ConfigError(f"MODELOPS_REGISTRY must be auto, local or wandb, not {choice!r}")
