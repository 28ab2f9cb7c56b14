"""Pipfile.lock's default packages as a hash-pinned requirements file (for the image).

    python container/lock_requirements.py Pipfile.lock container/build/requirements.txt
    python container/lock_requirements.py --constraints Pipfile.lock constraints.txt

With `--constraints`, the same pins without hashes, as a pip constraints file: `pip install
-c constraints.txt wandb` installs what a package needs at the lock's versions and nothing
else (the registry's light environment, `make registry-env`; the fresh-install test).

Only the `default` section (no test or lint tools), each `name==version` with every hash the
lock records and its environment marker, so `pip install --require-hashes` installs exactly
the locked wheels and nothing else.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def requirements(lock: dict, hashed: bool = True) -> list[str]:
    lines = []
    for name, spec in sorted(lock["default"].items()):
        if "path" in spec:  # this project itself: installed from the build context
            continue
        if "version" not in spec:
            raise SystemExit(f"{name}: not pinned by version in the lock ({spec}); cannot hash-pin")
        line = f"{name}{spec['version']}"
        if spec.get("markers"):
            line += f" ; {spec['markers']}"
        hashes = " ".join(f"--hash={h}" for h in spec.get("hashes", [])) if hashed else ""
        lines.append(f"{line} {hashes}".rstrip())
    return lines


def main() -> None:
    args = sys.argv[1:]
    hashed = "--constraints" not in args
    src, dest = (Path(a) for a in args if a != "--constraints")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("\n".join(requirements(json.loads(src.read_text()), hashed)) + "\n")


if __name__ == "__main__":
    main()
