"""The body of each flow step, as plain typed functions: flows only wire these together.

Nothing here touches Metaflow's `self` or `current`; the flow passes in what it knows (its run
pathspec, its parameters) and stores what comes back as artifacts.
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

from modelops import promotion, storage
from modelops.candidates import parse_candidates
from modelops.config import TrainConfig
from modelops.data import (
    Split,
    frame_digest,
    read_table,
    resolve_dataset,
    sample_rows,
    split,
    validate_training_data,
)
from modelops.errors import ConfigError
from modelops.evaluation import resolve_metric
from modelops.packaging import load_model, model_metadata, write_model_files
from modelops.registry import PRODUCTION, Registry
from modelops.schema import Schema, Task, infer_schema
from modelops.selection import leaderboard, rank
from modelops.tracking import wandb_run
from modelops.training import CandidateResult, CandidateScore, CandidateSpec, train_candidate

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
    spec: CandidateSpec, prep: Prepared, config: TrainConfig, cv_folds: int, seed: int
) -> CandidateResult:
    """Train one grid point of one candidate (the unit a foreach task runs)."""
    n_jobs = config.threads(spec.name)
    return train_candidate(spec, prep.task, prep.schema, prep.split, cv_folds, seed, n_jobs)


@dataclass
class Selection:
    """The leaderboard and the winner; the losers' fitted pipelines are not carried on."""

    board: pd.DataFrame
    best: CandidateResult


def select(
    scores: list[CandidateScore], load: Callable[[int], CandidateResult], prep: Prepared
) -> Selection:
    """Rank on scores alone; load only the winner's fitted pipeline (`load(i)`: i-th input)."""
    ranked = rank(scores, prep.task, prep.metric)
    return Selection(leaderboard(ranked), load(scores.index(ranked[0])))


def log_training(prep: Prepared, scores: list[CandidateScore], sel: Selection, group: str) -> None:
    """The dataset artifact, one run per candidate and the leaderboard run, in that order.

    All of a training run's W&B logging happens in one task (the register step, which opens
    W&B anyway for the model artifact): W&B's import and start-up cost seconds per process,
    paid once here instead of in three steps.
    """
    from modelops.selection import log_candidates, log_dataset, log_selection

    dataset = log_dataset(
        prep.source, f"{prep.model_name}-data", group,
        {"rows": prep.n_rows, "sha256": prep.data_digest, "source": prep.source},
    )  # fmt: skip
    log_candidates(scores, prep.task, group, dataset)
    log_selection(sel.board, prep.metric, group, sel.best.label)


@dataclass
class Outcome:
    """What the register step leaves behind: the new version and the promotion decision."""

    model_name: str
    version: int
    decision: promotion.Decision
    production_version: int | None
    registry_backend: str
    metadata: dict[str, Any]
    files: dict[str, Path]


def register_and_promote(
    registry: Registry,
    prep: Prepared,
    best: CandidateResult,
    policy: str,
    config: TrainConfig,
    run_pathspec: str,
) -> Outcome:
    """Register the challenger as a new version, then promote it if the policy says so."""
    policy_ = promotion.check_policy(policy)
    metadata = model_metadata(
        prep.schema, prep.metric, best.label, best.params,
        {"holdout": best.holdout, "cv": best.cv, "fit_seconds": best.fit_seconds,
         "family": best.name},
        prep.data_digest, prep.source, run_pathspec,
    )  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="modelops-register-"))

    def load(mv: Any) -> Any:
        return load_model(registry, prep.model_name, mv.version, workdir).pipeline

    def compare() -> tuple[promotion.Champion, promotion.Decision]:
        champ = promotion.rescore_champion(
            registry, prep.model_name, prep.schema, prep.split.X_test, prep.split.y_test, load
        )
        decision = promotion.decide(
            policy_, prep.task, prep.metric, best.holdout,
            config.task_thresholds(prep.task), champ, config.min_improvement,
        )  # fmt: skip
        return champ, decision

    _, decision = compare()
    files = write_model_files(best.pipeline, prep.reference, workdir / "challenger")
    mv = registry.register(prep.model_name, files, metadata | {"decision": decision.to_dict()})
    decision = promotion.promote(registry, prep.model_name, mv.version, decision, compare)
    prod = registry.find(prep.model_name, PRODUCTION)
    log.info("%s v%d registered; promoted=%s", prep.model_name, mv.version, decision.promote)
    return Outcome(
        prep.model_name,
        mv.version,
        decision,
        prod.version if prod else None,
        registry.backend,
        metadata,
        files,
    )


def selection_figures(sel: Selection, prep: Prepared, seed: int) -> dict[str, Any]:
    """The card's plots: leaderboard, best candidate's diagnostic plot and feature importance."""
    from modelops.cards import (
        diagnostic_figure,
        feature_importance,
        importance_figure,
        leaderboard_figure,
    )

    best = sel.best
    X, y = prep.split.X_test, prep.split.y_test
    importance = feature_importance(best.pipeline, X, y, seed)
    return {
        "Candidates": leaderboard_figure(sel.board, prep.metric),
        f"{best.label}: holdout diagnostics": diagnostic_figure(
            best.pipeline, X, y, prep.task, best.label
        ),
        f"{best.label}: feature importance": importance_figure(importance),
    }


def selection_card(sel: Selection, prep: Prepared, outcome: Outcome, seed: int) -> list[Any]:
    """The register step's card: decision, leaderboard, champion diagnostics and importance."""
    from modelops.cards import selection_components

    return selection_components(
        sel.board, prep.metric, outcome.decision.to_dict(),
        f"{outcome.model_name} v{outcome.version}", selection_figures(sel, prep, seed),
    )  # fmt: skip


def register_step(
    registry: Registry,
    prep: Prepared,
    best: CandidateResult,
    policy: str,
    config: TrainConfig,
    run_pathspec: str,
    group: str,
) -> Outcome:
    """register_and_promote inside a W&B `register` run that records the decision and model."""
    with wandb_run("register", group, "register", {"model_name": prep.model_name}) as tracker:
        outcome = register_and_promote(registry, prep, best, policy, config, run_pathspec)
        tracker.summary(
            {
                "registered_version": outcome.version,
                "promoted": outcome.decision.promote,
                "production_version": outcome.production_version,
                "decision": "; ".join(outcome.decision.reasons),
            }
        )
        if outcome.registry_backend != "wandb":  # the W&B backend logged it as it registered
            aliases = [f"v{outcome.version}"] + ([PRODUCTION] if outcome.decision.promote else [])
            tracker.log_artifact(
                outcome.model_name, "model", outcome.files, outcome.metadata, aliases
            )
    return outcome


@dataclass
class ScorePlan:
    """What ScoreFlow decides before scoring: the verified model version and the shards."""

    model_name: str
    version: int
    model_metadata: dict[str, Any]
    input: str
    output: str
    parts_dir: str
    shards: list[Any]
    reference: pd.DataFrame = field(repr=False)


@dataclass
class Scored:
    """What ScoreFlow's join leaves: the merged result and the model's contract and reference."""

    result: Any
    model_metadata: dict[str, Any]
    model_ref: str
    reference: pd.DataFrame = field(repr=False)


def plan_scoring(
    registry: Registry,
    model_name: str,
    ref: str,
    input_path: str,
    output: str,
    overwrite: bool,
    shard_mb: float,
    run_id: str,
    flow_name: str = "ScoreFlow",
) -> ScorePlan:
    """Resolve and verify the model, check the input against its schema, cut it into shards.

    Everything that can fail for the whole file fails here, before any task scores a row.
    """
    from modelops.ingest import check_input, plan_shards
    from modelops.scoring import check_output, default_output

    loaded = load_model(registry, model_name, ref)
    src = input_path
    check_input(src, loaded.schema)
    dest = output or default_output(src)
    check_output(dest, overwrite)
    shards = plan_shards(src, max(int(shard_mb * (1 << 20)), 1))
    if storage.is_s3(src) or storage.is_s3(dest):  # workers share S3, not a disk
        parts = storage.run_prefix(flow_name, run_id, "score-parts")
    else:
        parts = str(storage.with_name(dest, f".{storage.name(dest)}.parts-{run_id}"))
    return ScorePlan(
        model_name, loaded.version.version, loaded.version.metadata, str(src), str(dest),
        parts, shards, loaded.reference(),
    )  # fmt: skip


def score_shard_step(registry: Registry, plan: ScorePlan, shard: Any, drift_sample: int) -> Any:
    """Score one shard with the planned version (its digest is checked again on this worker)."""
    from modelops.scoring import score_shard

    loaded = load_model(registry, plan.model_name, plan.version)
    parquet = storage.is_parquet(plan.output)
    return score_shard(
        loaded, plan.input, shard, plan.parts_dir, sample_rows=drift_sample, parquet=parquet
    )


def merge_step(
    registry: Registry,
    plan: ScorePlan,
    results: list[Any],
    overwrite: bool,
    max_reject_rate: float,
    drift_sample: int,
    seconds: float,
) -> Scored:
    """Merge shard parts in input order into the output; apply the reject-rate limit."""
    from modelops.scoring import merge_shards

    loaded = load_model(registry, plan.model_name, plan.version)
    result = merge_shards(
        loaded, plan.input, results, plan.output, overwrite=overwrite,
        max_reject_rate=max_reject_rate, sample_rows=drift_sample, seconds=seconds,
    )  # fmt: skip
    return Scored(result, plan.model_metadata, loaded.version.ref, plan.reference)


def drift_step(scored: Scored, drift_share: float, group: str) -> Any:
    """Compare the scored rows with the model's training reference; log the summary to W&B."""
    from modelops.monitoring import compute_drift
    from modelops.schema import Schema
    from modelops.scoring import sibling

    r = scored.result
    html = sibling(r.output, ".drift.html")
    schema = Schema.from_dict(scored.model_metadata["schema"])
    local = storage.staging(html)
    drift = compute_drift(scored.reference, r.sample, schema, drift_share, local)
    storage.publish(local, html)
    drift.html = str(html)
    storage.write_json(sibling(r.output, ".drift.json"), drift.to_dict())  # for automation
    config = {"model": scored.model_ref, "input": r.input, "output": r.output}
    with wandb_run("scoring", group, "scoring", config) as tracker:
        tracker.use_artifact(f"wandb-registry-model/{r.model_name}:v{r.model_version}")
        tracker.summary(
            {
                f"accounting/{k}": v
                for k, v in r.accounting.to_dict().items()
                if not isinstance(v, dict)
            }
            | {"drift/drifted": drift.drifted, "drift/share": drift.share}
            | {f"drift/{c}": v["score"] for c, v in drift.columns.items()}
        )
    return drift


def performance_step(scored: Scored, labels: str) -> Any:
    """Realised metrics once labels arrive: the output's `labels` column vs its predictions."""
    from modelops.data import read_table
    from modelops.monitoring import compute_performance
    from modelops.schema import Schema
    from modelops.scoring import sibling

    r = scored.result
    html = sibling(r.output, ".performance.html")
    schema = Schema.from_dict(scored.model_metadata["schema"])
    training = scored.model_metadata.get("metrics", {}).get("holdout", {})
    with storage.fetch(r.output) as out:
        frame = read_table(out)
    local = storage.staging(html)
    result = compute_performance(frame, labels, schema, training, local)
    storage.publish(local, html)
    result.html = str(html)
    return result
