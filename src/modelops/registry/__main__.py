"""Inspect the registry and move `production` by hand.

python -m modelops.registry list                      # models, or versions of one model
python -m modelops.registry list diamonds-price
python -m modelops.registry show diamonds-price production
python -m modelops.registry promote diamonds-price v3
python -m modelops.registry rollback diamonds-price   # back to the previous production
"""

from __future__ import annotations

import argparse
import json
import sys

from modelops.errors import ModelOpsError
from modelops.registry import PRODUCTION, LocalRegistry, Registry, open_registry


def previous_production(registry: Registry, name: str) -> int:
    """The version that held production before the current holder (local audit trail)."""
    if not isinstance(registry, LocalRegistry):
        raise ModelOpsError("rollback without --to needs the local registry's audit trail")
    moves = [e for e in registry.events(name) if e["kind"] == "alias" and e["alias"] == PRODUCTION]
    current = registry.get(name, PRODUCTION).version
    for event in reversed(moves):
        if event["version"] == current and event.get("previous") is not None:
            return int(event["previous"])
    raise ModelOpsError(f"{name}: no earlier production version to roll back to")


def rollback(registry: Registry, name: str, to: str | None = None) -> tuple[int, int]:
    """Move production back (to `to`, or to the previous holder); returns (from, to)."""
    current = registry.get(name, PRODUCTION).version
    target = registry.get(name, to).version if to else previous_production(registry, name)
    registry.set_alias(name, PRODUCTION, target, expected=current)
    return current, target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m modelops.registry", description=__doc__)
    ap.add_argument("--backend", default=None, help="auto (default), local or wandb")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("list", help="list models, or the versions of MODEL")
    p.add_argument("model", nargs="?")
    p = sub.add_parser("show", help="metadata of one version (alias or vN)")
    p.add_argument("model")
    p.add_argument("ref", nargs="?", default=PRODUCTION)
    p = sub.add_parser("promote", help="give REF the production alias")
    p.add_argument("model")
    p.add_argument("ref")
    p = sub.add_parser("rollback", help="move production back to the previous (or --to) version")
    p.add_argument("model")
    p.add_argument("--to", default=None, help="version or alias to roll back to")
    args = ap.parse_args(argv)
    reg = open_registry(args.backend)
    try:
        if args.cmd == "list" and not args.model:
            for name in reg.models():
                print(name)
        elif args.cmd == "list":
            for mv in reg.versions(args.model):
                m = mv.metadata
                metric = m.get("metric", "")
                score = m.get("metrics", {}).get("holdout", {}).get(metric)
                aliases = ",".join(mv.aliases)
                print(
                    f"v{mv.version:<4} {aliases:<12} {m.get('candidate', ''):<26} "
                    f"{metric}={score if score is None else round(score, 4)}  "
                    f"{mv.created_at[:19]}  {m.get('metaflow_run', '')}"
                )
        elif args.cmd == "show":
            mv = reg.get(args.model, args.ref)
            info = {"version": mv.version, "aliases": mv.aliases, "files": mv.files}
            print(json.dumps(info | {"metadata": mv.metadata}, indent=2, default=str))
        elif args.cmd == "promote":
            version = reg.get(args.model, args.ref).version
            reg.set_alias(args.model, PRODUCTION, version)
            print(f"{args.model}: production -> v{version}")
        elif args.cmd == "rollback":
            old, new = rollback(reg, args.model, args.to)
            print(f"{args.model}: production v{old} -> v{new}")
    except ModelOpsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
