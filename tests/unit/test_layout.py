"""Where code lives: the package's modules import each other without cycles (lazy imports
inside functions included), so any module can be imported, and moved, on its own."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "modelops").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every modelops module `name` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    package = name.rsplit(".", 1)[0] if name.count(".") else name
    return {m for m in found if m in modules and m not in (name, package)}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for dep in sorted(graph[module]):
            if state.get(dep) == 1:
                return path[path.index(dep) :] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        state[module] = 2
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_modules_import_each_other_without_cycles():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert "modelops.estimators" in graph["modelops.pipelines"]  # the walk sees imports
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_monitor_command_lives_in_the_package_entry_point():
    run = [sys.executable, "-m"]
    ok = subprocess.run([*run, "modelops.monitoring", "decide", "--help"], capture_output=True)
    assert ok.returncode == 0 and b"--drift" in ok.stdout
    moved = subprocess.run([*run, "modelops.monitoring.policy", "decide"], capture_output=True)
    assert moved.returncode != 0  # never a silent success without a decision
    assert b"python -m modelops.monitoring decide" in moved.stderr


def test_every_name_imported_from_the_package_exists():
    """Benchmarks, examples, notebooks and flows import the package lazily, inside functions,
    so a moved function breaks them only when they run (a move broke infer_benchmark.py's
    import of speed_pruning once): every `from modelops... import name` there must resolve."""
    import importlib
    import json

    root = SRC.parent
    sources = {
        path: path.read_text()
        for folder in ("benchmarks", "examples", "flows")
        for path in (root / folder).glob("*.py")
    }
    for notebook in (root / "notebooks").glob("*.ipynb"):
        cells = json.loads(notebook.read_text())["cells"]
        code = [c["source"] for c in cells if c["cell_type"] == "code"]
        sources[notebook] = "\n".join("".join(c) if isinstance(c, list) else c for c in code)
    missing = []
    for path, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module):
                continue
            if not node.module.startswith("modelops"):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):
                    try:
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        missing.append(f"{path.name}:{node.lineno} {node.module}.{alias.name}")
    assert len(sources) > 10  # the walk found the files
    assert not missing, missing


@pytest.mark.parametrize(
    "name, home",
    [
        ("Prepared", "modelops.training.prepared"),
        ("Selection", "modelops.training.selection"),
        ("Outcome", "modelops.training.registering"),
    ],
)
def test_artifacts_pickled_before_a_move_still_load(name, home):
    """TrainFlow stores these as artifacts; a run made before they left `steps` pickled them
    as `modelops.training.steps.<name>`, and reading that run's artifacts must still work:
    the old path resolves to the class in its new home."""
    import pickle

    old = "modelops.training.steps"
    # PROTO 4; the module and the class name as short strings; STACK_GLOBAL; STOP
    payload = b"\x80\x04" + b"".join(
        b"\x8c" + bytes([len(text)]) + text.encode() + b"\x94" for text in (old, name)
    )
    payload += b"\x93\x94."
    assert pickle.loads(payload) is getattr(importlib.import_module(home), name)
