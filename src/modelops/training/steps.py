"""TrainFlow's step bodies, as plain typed functions: the flow only wires these together.

Nothing here touches Metaflow's `self` or `current`; the flow passes in what it knows (its run
pathspec, its parameters) and stores what comes back as artifacts. Arguments are keyword-only,
so a call site reads like the flow's parameters and cannot swap two of them.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from modelops import tracking
from modelops.errors import ConfigError
from modelops.metrics import resolve_metric
from modelops.registry import PRODUCTION, ModelVersion, Registry
from modelops.registry.packaging import load_model, model_metadata, write_model_files
from modelops.schema import Schema, Task, infer_schema
from modelops.training import promotion
from modelops.training.candidates import parse_candidates
from modelops.training.config import TrainConfig
from modelops.training.data import (
    Split,
    frame_digest,
    read_table,
    resolve_dataset,
    sample_rows,
    split,
    validate_training_data,
)
from modelops.training.fit import CandidateResult, CandidateScore, CandidateSpec, train_candidate
from modelops.training.selection import leaderboard, rank

log = logging.getLogger(__name__)


def default_model_name(source: str, target: str) -> str:
    """'data/diamonds.csv.gz', 'price' -> 'diamonds-price': one champion per dataset and target."""
    stem = Path(source).name.split(".")[0]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{stem}-{target}").strip("-")[:128]


@dataclass
class Prepared:
    """Validated, split training data and everything decided about the run before fitting."""

    source: str
    target: str
    task: Task
    metric: str
    schema: Schema
    split: Split
    candidates: list[CandidateSpec]
    data_digest: str
    model_name: str
    n_rows: int
    reference: pd.DataFrame = field(repr=False)


def prepare_training(
    *,
    data: str,
    target: str,
    task: str,
    candidates: str,
    metric: str,
    test_size: float,
    seed: int,
    sample: int,
    model_name: str,
    config: TrainConfig,
) -> Prepared:
    """Load, validate and split; resolve 'auto' settings. Fails before any model is fitted."""
    names = parse_candidates(candidates)
    if not 0.0 < test_size < 1.0:
        raise ConfigError(f"--test-size must be between 0 and 1, not {test_size}")
    path, target = resolve_dataset(data, target)
    df = read_table(path)
    resolved = validate_training_data(df, target, task, str(path), config.min_class_rows)
    df = sample_rows(df, sample, seed)
    resolved = validate_training_data(
        df, target, resolved, f"{path} (--sample-rows {sample})", config.min_class_rows
    )
    metric = resolve_metric(resolved, metric)
    schema = infer_schema(df, target, resolved)
    parts = split(df, target, resolved, test_size, seed)
    ref = parts.X_train.sample(min(config.reference_rows, len(parts.X_train)), random_state=seed)
    return Prepared(
        source=str(path),
        target=target,
        task=resolved,
        metric=metric,
        schema=schema,
        split=parts,
        candidates=config.specs(names, resolved),
        data_digest=frame_digest(df),
        model_name=model_name or default_model_name(str(path), target),
        n_rows=len(df),
        reference=ref,
    )


def fit_candidate(
    *, spec: CandidateSpec, prep: Prepared, config: TrainConfig, cv_folds: int, seed: int
) -> CandidateResult:
    """Train one grid point of one candidate (the unit a foreach task runs)."""
    return train_candidate(
        spec,
        prep.task,
        prep.schema,
        prep.split,
        cv_folds=cv_folds,
        seed=seed,
        n_jobs=config.threads(spec.name),
    )


@dataclass
class Selection:
    """The leaderboard and the winner; the losers' fitted pipelines are not carried on."""

    board: pd.DataFrame
    best: CandidateResult


def select(
    *, scores: list[CandidateScore], load: Callable[[int], CandidateResult], prep: Prepared
) -> Selection:
    """Rank on scores alone; load only the winner's fitted pipeline (`load(i)`: i-th input)."""
    ranked = rank(scores, prep.task, prep.metric)
    return Selection(leaderboard(ranked), load(scores.index(ranked[0])))


def log_training(
    *, prep: Prepared, scores: list[CandidateScore], sel: Selection, group: str
) -> None:
    """The dataset artifact, one run per candidate and the leaderboard run, in that order.

    All of a training run's W&B logging happens in one task (the register step, which opens
    W&B anyway for the model artifact): W&B's import and start-up cost seconds per process,
    paid once here instead of in three steps.
    """
    metadata = {"rows": prep.n_rows, "sha256": prep.data_digest, "source": prep.source}
    dataset = tracking.log_dataset(prep.source, f"{prep.model_name}-data", group, metadata)
    for score in scores:
        config = {"candidate": score.name, "label": score.label, **score.params}
        with tracking.wandb_run("train_candidate", group, score.label, config) as tracker:
            tracker.use_artifact(dataset)
            tracker.summary(score.summary())
            if score.sample is not None:
                tracker.log_predictions("holdout", score.sample, prep.task, score.label)
    tracking.log_selection(sel.board, prep.metric, group, sel.best.label)


@dataclass
class Outcome:
    """What the register step leaves behind: the new version and the promotion decision."""

    model_name: str
    version: int
    decision: promotion.Decision
    production_version: int | None
    registry_backend: str
    metadata: dict[str, Any]


def register_and_promote(
    *,
    registry: Registry,
    prep: Prepared,
    best: CandidateResult,
    policy: str,
    config: TrainConfig,
    run_pathspec: str,
    on_registered: Callable[[Outcome, dict[str, Path]], None] | None = None,
) -> Outcome:
    """Register the challenger as a new version, then promote it if the policy says so.

    `on_registered(outcome, files)` runs while the model files still exist (W&B logging).
    """
    policy_ = promotion.check_policy(policy)
    metadata = model_metadata(
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
    )

    def load(mv: ModelVersion) -> Any:
        return load_model(registry, prep.model_name, mv.version).pipeline

    def compare() -> tuple[promotion.Champion, promotion.Decision]:
        champ = promotion.rescore_champion(
            registry, prep.model_name, prep.schema, prep.split.X_test, prep.split.y_test, load
        )
        decision = promotion.decide(
            policy=policy_,
            task=prep.task,
            metric=prep.metric,
            challenger=best.holdout,
            thresholds=config.task_thresholds(prep.task),
            champion=champ,
            min_improvement=config.min_improvement,
        )
        return champ, decision

    _, decision = compare()
    with tempfile.TemporaryDirectory(prefix="modelops-register-") as tmp:
        files = write_model_files(best.pipeline, prep.reference, Path(tmp))
        mv = registry.register(prep.model_name, files, metadata | {"decision": decision.to_dict()})
        decision = promotion.promote(registry, prep.model_name, mv.version, decision, compare)
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
            on_registered(outcome, files)
    log.info("%s v%d registered; promoted=%s", prep.model_name, mv.version, decision.promote)
    return outcome


def register_step(
    *,
    registry: Registry,
    prep: Prepared,
    best: CandidateResult,
    policy: str,
    config: TrainConfig,
    run_pathspec: str,
    group: str,
) -> Outcome:
    """register_and_promote inside a W&B `register` run that records the decision and model."""
    with tracking.wandb_run(
        "register", group, "register", {"model_name": prep.model_name}
    ) as tracker:

        def log_model(outcome: Outcome, files: dict[str, Path]) -> None:
            tracker.summary(
                {
                    "registered_version": outcome.version,
                    "promoted": outcome.decision.promote,
                    "production_version": outcome.production_version,
                    "decision": "; ".join(outcome.decision.reasons),
                }
            )
            if outcome.registry_backend != "wandb":  # the W&B backend logged it as it registered
                aliases = [f"v{outcome.version}"] + (
                    [PRODUCTION] if outcome.decision.promote else []
                )
                tracker.log_artifact(outcome.model_name, "model", files, outcome.metadata, aliases)

        return register_and_promote(
            registry=registry,
            prep=prep,
            best=best,
            policy=policy,
            config=config,
            run_pathspec=run_pathspec,
            on_registered=log_model,
        )


def selection_card(*, sel: Selection, prep: Prepared, outcome: Outcome, seed: int) -> list[Any]:
    """The register step's card: decision, leaderboard, champion diagnostics and importance."""
    from modelops.cards import (
        diagnostic_figure,
        feature_importance,
        importance_figure,
        leaderboard_figure,
        selection_components,
    )

    best = sel.best
    X, y = prep.split.X_test, prep.split.y_test
    figures = {
        "Candidates": leaderboard_figure(sel.board, prep.metric),
        f"{best.label}: holdout diagnostics": diagnostic_figure(
            best.pipeline, X, y, prep.task, best.label
        ),
        f"{best.label}: feature importance": importance_figure(
            feature_importance(best.pipeline, X, y, seed)
        ),
    }
    return selection_components(
        sel.board,
        prep.metric,
        outcome.decision.to_dict(),
        f"{outcome.model_name} v{outcome.version}",
        figures,
    )
