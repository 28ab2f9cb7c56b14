"""`pip install .` gets what the package imports: every third-party module imported anywhere
under src/modelops comes from a distribution pyproject.toml declares (fastapi was missing, so
`modelops serve` failed after a plain install)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported_top_level() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "src" / "modelops").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"modelops", "__future__"}


def _declared() -> set[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {re.split(r"[\[<>=!~ ;]", d, maxsplit=1)[0].lower().replace("_", "-") for d in deps}


def test_every_imported_distribution_is_declared():
    owners = packages_distributions()
    declared = _declared()
    missing = {}
    for module in sorted(_imported_top_level()):
        dists = {d.lower().replace("_", "-") for d in owners.get(module, [])}
        assert dists, f"{module} is imported by src/modelops but not installed here"
        if not dists & declared:
            missing[module] = sorted(dists)
    assert not missing, f"imported but not in pyproject.toml's dependencies: {missing}"
