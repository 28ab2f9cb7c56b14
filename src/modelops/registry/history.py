"""Moving `production` back: the previous holder from the audit trail, or a named version."""

from __future__ import annotations

from modelops.errors import ModelOpsError
from modelops.registry.base import PRODUCTION, Registry


def previous_production(registry: Registry, name: str) -> int:
    """The version that held production before the current holder (the audit trail)."""
    moves = [
        e
        for e in registry.events(name)
        if e.get("kind") == "alias" and e.get("alias") == PRODUCTION and "version" in e
    ]
    current = registry.get(name, PRODUCTION).version
    for event in reversed(moves):
        previous = event.get("previous")
        # re-promoting the holder was once recorded as a move (previous == version): skip it
        if event["version"] == current and previous is not None and previous != current:
            return int(previous)
    raise ModelOpsError(f"{name}: no earlier production version to roll back to")


def rollback(registry: Registry, name: str, to: str | None = None) -> tuple[int, int]:
    """Move production back (to `to`, or to the previous holder); returns (from, to)."""
    current = registry.get(name, PRODUCTION).version
    target = registry.get(name, to).version if to else previous_production(registry, name)
    if target == current:
        raise ModelOpsError(f"{name}: v{current} already holds production; nothing to roll back")
    registry.set_alias(
        name, PRODUCTION, target, expected=current, reason=f"rollback from v{current}"
    )
    return current, target
