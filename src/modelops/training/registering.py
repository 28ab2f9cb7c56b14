"""Register the challenger and promote it through the gate: the register step's work.

`register_and_promote` writes the model's files, registers a version carrying its contract
(`version_metadata`) and moves `production` to it when the `Gate` says so, race-safely and
at most once per run, resumes included. Out of `steps` (which wires it inside the W&B run) so
that the release logic reads in one place; `Outcome` is re-exported by `steps`, which keeps
the `outcome` artifact of runs pickled before the move readable.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from modelops.registry import PRODUCTION, ModelVersion, Registry
from modelops.registry.packaging import (
    class_path,
    load_model,
    model_metadata,
    signed,
    write_model_files,
)
from modelops.training import promotion
from modelops.training.config import TrainConfig
from modelops.training.prepared import Prepared
from modelops.training.search import CandidateResult
from modelops.training.selection import Selection, readable_leaderboard

log = logging.getLogger(__name__)


@dataclass
class Review:
    """What the champion relies on, and a leak warning when that looks too good to be true."""

    importance: pd.Series
    warning: str | None


@dataclass
class Outcome:
    """What the register step leaves behind: the new version and the promotion decision."""

    model_name: str
    version: int
    decision: promotion.Decision
    production_version: int | None
    registry_backend: str
    metadata: dict[str, Any]


def version_metadata(
    *, prep: Prepared, sel: Selection, run_pathspec: str, review: Review | None
) -> dict[str, Any]:
    """What a registered version records beside its files: the model's contract (schema,
    metric, data digest, run), the leaderboard, what the champion relies on, the ensemble and
    the search that found it."""
    best = sel.best
    return model_metadata(
        schema=prep.schema,
        metric=prep.metric,
        candidate=best.label,
        params=best.params,
        metrics={
            "holdout": best.holdout,
            "cv": best.cv,
            "fit_seconds": best.fit_seconds,
            "family": best.name,
        },
        data_digest=prep.data_digest,
        data_source=prep.source,
        run_pathspec=run_pathspec,
    ) | {
        "model_class": class_path(best.pipeline),
        "leaderboard": readable_leaderboard(sel.scores, prep.metric).to_dict("records"),
        "importance": (
            {str(k): round(float(v), 6) for k, v in review.importance.items()} if review else {}
        ),
        "leak_warning": review.warning if review else None,
        "ensemble": [{"member": k, "weight": v} for k, v in sel.ensemble.items()],
        "selection": sel.comparison,
        "search": {
            "folds": prep.folds.description,
            "training_rows": len(prep.split.X_train),
            "families": {
                s.label: {"trials": len(s.trials), "failed": s.failed, "cv": s.cv}
                for s in sel.scores
                if s.name != "ensemble"
            },
        },
    }


@dataclass
class Gate:
    """The promotion gate for one challenger: production rescored on the same holdout rows,
    the paired bootstrap between them, and the trivial model (mean or class prior) both must
    beat. `compare` is called again when a concurrent promotion moved production meanwhile."""

    registry: Registry
    prep: Prepared
    challenger: CandidateResult
    policy: promotion.Policy
    config: TrainConfig
    seed: int

    def __post_init__(self) -> None:
        prep = self.prep
        metrics, pred = promotion.baseline(prep.problem, prep.split.y_train, prep.split.y_test)
        self.trivial = promotion.Champion(None, metrics, pred=pred)

    def bootstrap(self, champion_pred: Any) -> promotion.Interval:
        """The challenger's gain over the champion on the holdout rows, resampled in pairs."""
        prep, resampling = self.prep, self.config.promotion
        return promotion.paired_bootstrap(
            prep.problem,
            prep.split.y_test,
            self.challenger.holdout_pred,
            champion_pred,
            resamples=resampling.bootstrap_resamples,
            confidence=resampling.confidence,
            seed=self.seed,
        )

    def load(self, mv: ModelVersion) -> Any:
        return load_model(self.registry, self.prep.model_name, mv.version).pipeline

    def compare(self) -> tuple[promotion.Champion, promotion.Decision]:
        """Production as it is now, rescored, and the decision against it."""
        prep, resampling = self.prep, self.config.promotion
        champ = promotion.rescore_champion(
            self.registry,
            prep.model_name,
            prep.schema,
            prep.problem,
            prep.split.X_test,
            prep.split.y_test,
            self.load,
        )
        decision = promotion.decide(
            policy=self.policy,
            problem=prep.problem,
            challenger=self.challenger.holdout,
            thresholds=self.config.task_thresholds(prep.task),
            champion=champ,
            min_improvement=resampling.min_improvement,
            bootstrap=self.bootstrap if resampling.bootstrap_resamples > 0 else None,
            trivial=self.trivial,
        )
        return champ, decision


def register_and_promote(
    *,
    registry: Registry,
    prep: Prepared,
    sel: Selection,
    policy: str,
    config: TrainConfig,
    run_pathspec: str,
    seed: int,
    on_registered: Callable[[Outcome, dict[str, Path], bool], None] | None = None,
    resumed_from: str | None = None,
    review: Review | None = None,
) -> Outcome:
    """Register the challenger as a new version, then promote it if the policy says so.

    With `review`, the version records the champion's permutation importance (the drift
    verdict weighs drifted columns by it) and any leak warning.

    `on_registered(outcome, files, stored)` runs while the model files still exist (W&B
    logging); `stored`: the files are the registry's own copies, which are never rewritten.
    `resumed_from` ('TrainFlow/<run id>') is the run a `resume` continues: a version that run
    already registered is reused (and promoted if it was not yet), never registered twice.
    """
    best = sel.best
    metadata = version_metadata(prep=prep, sel=sel, run_pathspec=run_pathspec, review=review)
    gate = Gate(
        registry=registry,
        prep=prep,
        challenger=best,
        policy=promotion.check_policy(policy),
        config=config,
        seed=seed,
    )
    earlier = registered_by(registry, prep.model_name, resumed_from) if resumed_from else None
    _, decision = gate.compare()
    with tempfile.TemporaryDirectory(prefix="modelops-register-") as tmp:
        files = write_model_files(best.pipeline, prep.reference, Path(tmp))
        if earlier is not None and PRODUCTION in earlier.aliases:
            mv, decision = earlier, promotion.Decision.from_dict(earlier.metadata["decision"])
        else:
            mv = earlier or registry.register(
                prep.model_name,
                files,
                signed(prep.model_name, files, metadata | {"decision": decision.to_dict()}),
            )
            first = decision.to_dict()
            decision = promotion.promote(
                registry, prep.model_name, mv.version, decision, gate.compare
            )
            if decision.to_dict() != first:  # re-decided (a concurrent promotion, a resume)
                registry.update_metadata(
                    prep.model_name, mv.version, {"decision": decision.to_dict()}
                )
        prod = registry.find(prep.model_name, PRODUCTION)
        outcome = Outcome(
            model_name=prep.model_name,
            version=mv.version,
            decision=decision,
            production_version=prod.version if prod else None,
            registry_backend=registry.backend,
            metadata=metadata,
        )
        if on_registered is not None:
            stored = registry.stored_files(mv)
            on_registered(outcome, stored or files, stored is not None)
    log.info("%s v%d registered; promoted=%s", prep.model_name, mv.version, decision.promote)
    return outcome


def registered_by(registry: Registry, name: str, run: str) -> ModelVersion | None:
    """The latest version registered by Metaflow run `run` ('TrainFlow/<run id>'), if any."""
    for mv in reversed(registry.versions(name)):
        if str(mv.metadata.get("metaflow_run", "")).startswith(f"{run}/"):
            return mv
    return None
