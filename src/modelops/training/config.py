"""The versioned training configuration (configs/train.json), loaded by Metaflow's `Config`.

Per-run choices are flow Parameters; what is tried (candidate grids), what counts as good
enough (validation thresholds) and promotion margins live here, reviewed like code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops import paths
from modelops.errors import ConfigError
from modelops.schema import Task
from modelops.training.candidates import CANDIDATES
from modelops.training.fit import CandidateSpec


@dataclass(frozen=True)
class TrainConfig:
    candidates: dict[str, dict[str, Any]]
    thresholds: dict[str, dict[str, float]]
    min_improvement: float = 0.0
    min_class_rows: int = 10
    reference_rows: int = 5000
    n_jobs: int = -1

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> TrainConfig:
        raw = _plain(raw)
        unknown = sorted(set(raw.get("candidates", {})) - set(CANDIDATES))
        if unknown:
            raise ConfigError(
                f"config: unknown candidate(s) {unknown}; known: {sorted(CANDIDATES)}"
            )
        return cls(
            candidates=raw.get("candidates", {}),
            thresholds=raw.get("thresholds", {}),
            min_improvement=float(raw.get("promotion", {}).get("min_improvement", 0.0)),
            min_class_rows=int(raw.get("min_class_rows", 10)),
            reference_rows=int(raw.get("reference_rows", 5000)),
            n_jobs=int(raw.get("n_jobs", -1)),
        )

    def candidate_grid(self, name: str, task: Task) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(base parameters, search overrides) of a candidate for a task.

        An entry holds shared `params`, task-family overrides under `regression` or
        `classification`, and a `search` list (or a per-family `search_<family>` list).
        """
        entry = self.candidates.get(name, {})
        family = "regression" if task == "regression" else "classification"
        params = dict(entry.get("params", {})) | dict(entry.get(family, {}))
        search = list(entry.get(f"search_{family}", entry.get("search", [])))
        return params, search

    def specs(self, names: list[str], task: Task) -> list[CandidateSpec]:
        """One foreach item per grid point: `catboost` (base parameters), `catboost-1`, ..."""
        out = []
        for name in names:
            params, search = self.candidate_grid(name, task)
            out.append(CandidateSpec(name, name, params))
            out += [
                CandidateSpec(name, f"{name}-{i}", params | override)
                for i, override in enumerate(search, 1)
            ]
        return out

    def threads(self, name: str) -> int:
        """Threads for one candidate task: its own `n_jobs`, else the global one (-1: all)."""
        return int(self.candidates.get(name, {}).get("n_jobs", self.n_jobs))

    def task_thresholds(self, task: Task) -> dict[str, float]:
        return dict(self.thresholds.get(task, {}))


def _plain(obj: Any) -> Any:
    """Metaflow's ConfigValue -> plain dicts and lists (it is read-only and not JSON-able)."""
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def load_config(path: Path | str | None = None) -> TrainConfig:
    """The config file at `path`, by default the project's `configs/train.json`."""
    import json

    return TrainConfig.from_mapping(json.loads(Path(path or paths.default_config()).read_text()))
