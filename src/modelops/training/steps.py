"""TrainFlow's step bodies, as plain typed functions: the flow only wires these together.

Nothing here touches Metaflow's `self` or `current`; the flow passes in what it knows (its run
pathspec, its parameters) and stores what comes back as artifacts. Arguments are keyword-only,
so a call site reads like the flow's parameters and cannot swap two of them.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from modelops import tracking
from modelops.errors import ConfigError, DataError, TrainingError
from modelops.metrics import resolve_metric
from modelops.registry import PRODUCTION, Registry, signing
from modelops.schema import DATE_PARTS, id_columns, infer_schema
from modelops.threads import cores
from modelops.training import promotion
from modelops.training.candidates import check_feature_names, parse_candidates
from modelops.training.config import DataProfile, TrainConfig
from modelops.training.data import (
    Split,
    explain_task,
    frame_digest,
    read_table,
    resolve_dataset,
    sample_rows,
    split,
    validate_training_data,
)
from modelops.training.ensemble import build_ensemble
from modelops.training.fit import Folds, make_folds
from modelops.training.prepared import Prepared
from modelops.training.registering import Outcome, Review, register_and_promote
from modelops.training.search import CandidateResult, CandidateScore, search_family
from modelops.training.selection import (
    Selection,
    describe_choice,
    leaderboard,
    leakage_warning,
    rank,
    readable_leaderboard,
)

log = logging.getLogger(__name__)


# what changes from one month's or one export's file to the next: dates, versions, counters
_VARIANT = re.compile(
    r"[-_. ]*\d{4}[-_]?\d{2}([-_]?\d{2})?([tT_-]?\d{2}[-_:]?\d{2}([-_:]?\d{2})?)?$"
    r"|[-_. ]+(v\d+|\d+|latest|final|new|copy|export|snapshot|shuf|shuffled|sample)$",
    re.IGNORECASE,
)


def default_model_name(source: str, target: str) -> str:
    """'data/diamonds.csv.gz', 'price' -> 'diamonds-price': one champion per dataset and target.

    Date, version and copy suffixes are dropped (`churn_2024-06.parquet`, `churn-v2.csv` and
    `churn_final.csv` are all `churn-<target>`), so next month's file is compared with this
    month's champion rather than starting a new model with none to beat.
    """
    stem = Path(source).name.split(".")[0]
    while (shorter := _VARIANT.sub("", stem)) and shorter != stem:
        stem = shorter
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{stem}-{target}").strip("-")[:128]


def prepare_training(
    *,
    data: str,
    target: str,
    task: str,
    candidates: str,
    metric: str,
    test_size: float,
    cv_folds: int,
    budget_minutes: float | str,
    seed: int,
    sample: int,
    model_name: str,
    config: TrainConfig,
    ignore_columns: str = "",
    keep_columns: str = "",
    promotion_policy: str = "auto",
    delimiter: str = "",
    frame: pd.DataFrame | None = None,
    time_column: str = "",
    group_column: str = "",
) -> Prepared:
    """Load, validate and split; resolve 'auto' settings; fix the folds and each family's time.

    Everything that can be wrong with the data, the parameters or the config fails here,
    before any model is fitted. With `frame`, that DataFrame is the data and `data` only names
    it (in messages, the metadata and the default model name).
    """
    promotion.check_policy(promotion_policy)
    names = parse_candidates(candidates)
    for name in names:
        config.family(name)
    if not 0.0 < test_size < 1.0:
        raise ConfigError(f"--test-size must be between 0 and 1, not {test_size}")
    if cv_folds < 2:
        raise ConfigError(
            f"--cv-folds must be at least 2, not {cv_folds}: out-of-fold predictions rank the "
            "families and build the ensemble"
        )
    minutes = parse_budget(budget_minutes)
    if sample < 0:
        raise ConfigError(f"--sample-rows must be 0 (all rows) or positive, not {sample}")
    path, target = resolve_dataset(data, target)
    notes: list[str] = []
    df = frame.reset_index(drop=True) if frame is not None else read_table(path, delimiter, notes)
    resolved = validate_training_data(df, target, task, str(path))
    ignore = left_out_columns(
        df,
        target=target,
        source=str(path),
        ignore=_names(ignore_columns) + config.ignore_columns,
        keep=_names(keep_columns) + config.keep_columns,
        notes=notes,
    )
    df = sample_rows(df, sample, seed)
    source = f"{path} (--sample-rows {sample})" if sample else str(path)
    resolved = validate_training_data(df, target, resolved, source)
    metric = resolve_metric(resolved, metric)
    schema = infer_schema(df, target, resolved, ignore=ignore)
    if not schema.columns:
        raise DataError(
            f"{source}: no feature columns: {list(schema.ignored)} are left out (identifiers "
            "or --ignore-columns); pass --keep-columns to use a column detection left out"
        )
    _check_split_columns(df, target, source, time_column, group_column)
    parts = split(
        df,
        target,
        resolved,
        test_size,
        seed,
        source,
        time_column=time_column,
        group_column=group_column,
    )
    if time_column:
        notes.append(
            f"--time-column {time_column}: the holdout is the latest {len(parts.X_test)} rows "
            f"(from {parts.X_test[time_column].min()} to {parts.X_test[time_column].max()}), "
            "so the promotion gate measures how the model does on what comes next; the CV "
            "folds chain forward (each validates a block of time on a model fitted on the "
            "blocks before it), not shuffled rows"
        )
    if group_column:
        notes.append(
            f"--group-column {group_column}: {parts.X_test[group_column].nunique()} of "
            f"{df[group_column].nunique()} groups held out whole; no group is in both the "
            "training and the holdout rows, and the CV folds are grouped the same way"
        )
    for col in (c for c in schema.columns if c.kind == "datetime"):
        unused = [p for p in DATE_PARTS if p not in col.date_parts]
        notes.append(
            f"column {col.name!r} holds dates: the models use its {', '.join(col.date_parts)}"
            + (f" ({', '.join(unused)}: the same on every row, left out)" if unused else "")
        )
    if task == "auto":
        why = explain_task(df[target])[1]
        notes.append(f"--task auto: {resolved} because {why}; pass --task to override")
    n_folds = cv_folds
    if resolved != "regression":
        smallest = parts.y_train.value_counts()
        n_folds = min(cv_folds, int(smallest.min()))
        if n_folds < 2:
            raise DataError(
                f"{source}: class(es) {smallest[smallest < 2].to_dict()} of {target!r} have "
                "too few rows to appear in both the training rows and the cross-validation "
                "folds; add rows of those classes or merge them"
            )
        if n_folds < cv_folds:
            notes.append(
                f"{n_folds} folds instead of --cv-folds {cv_folds}: the smallest class has "
                f"{int(smallest.min())} training rows"
            )
        small = smallest[smallest < config.min_class_rows]
        if not small.empty:
            notes.append(
                f"class(es) {small.to_dict()} have fewer than {config.min_class_rows} training "
                "rows: their scores are noisy"
            )
    few_rows = len(parts.X_train) < config.cv.small_rows
    repeats = config.cv.small_repeats if few_rows and not time_column else 1
    stopping = config.cv.small_stopping if few_rows else 0.0
    if repeats > 1:
        notes.append(
            f"{len(parts.X_train)} training rows (< {config.cv.small_rows}): CV repeated "
            f"{repeats} times so that the ranking is not noise"
        )
    if stopping > 0:
        notes.append(
            f"boosters early-stop on {stopping:.0%} of each fold's training rows, not on the "
            "rows it is scored on, so that their CV scores are not flattered, then refit on "
            "all of them with the iteration count so learned"
        )
    folds = make_folds(
        parts.y_train,
        resolved,
        n_folds=n_folds,
        repeats=repeats,
        seed=seed,
        stopping=stopping,
        groups=parts.X_train[group_column].astype("string") if group_column else None,
        ordered=bool(time_column),
    )
    if resolved != "regression" and (time_column or group_column):
        _check_classes_everywhere(parts, folds, source)
    config.check_parameters(names, resolved, schema)
    check_feature_names(names, schema.feature_names)
    profile = DataProfile.of(schema, len(parts.X_train))
    if minutes is None:  # auto: grows with the work; families that cannot fit are left out
        classes = len(schema.classes) if resolved != "regression" else 1
        minutes = config.search.budget.minutes(profile, classes)
        notes.append(
            f"--budget-minutes auto: {minutes:.2f} minutes for {profile.rows} training rows x "
            f"{profile.columns} columns"
            + (f" x {classes} classes" if classes > 2 else "")
            + "; each family may also stop earlier when its search has converged; set "
            "--budget-minutes to choose"
        )
    limits = config.check_budget(
        names,
        budget_seconds=minutes * 60,
        profile=profile,
        fits=len(folds.splits),
        notes=notes if str(budget_minutes).strip().lower() == "auto" else None,
    )
    names = [n for n in names if n in limits]
    groups = config.family_groups(names, profile, cores())
    if len(groups) < len(names):
        notes.append(
            f"a small table: the {len(names)} families search in {len(groups)} tasks, one per "
            f"core, one family after another ({'; '.join(', '.join(g) for g in groups)}): "
            f"a task per family, all starting at once on {cores()} cores, spent longer starting "
            "than searching"
        )
    ref = parts.X_train.sample(min(config.reference_rows, len(parts.X_train)), random_state=seed)
    if not model_name:
        model_name = default_model_name(str(path), target)
        notes.append(
            f"registered as model {model_name!r} (from the file name, without date or version "
            "suffixes, and the target); set another with --model-name"
        )
    return (
        Prepared(  # the notes are the caller's to show (the flow prints them, the card lists them)
            source=str(path),
            target=target,
            task=resolved,
            metric=metric,
            schema=schema,
            split=parts,
            candidates=names,
            limits=limits,
            folds=folds,
            profile=profile,
            data_digest=frame_digest(df),
            model_name=model_name,
            n_rows=len(df),
            notes=notes,
            reference=ref,
            groups=groups,
        )
    )


def parse_budget(value: float | str) -> float | None:
    """`--budget-minutes`: a positive number of minutes, or 'auto' (None: sized to the table)."""
    if str(value).strip().lower() == "auto":
        return None
    try:
        minutes = float(value)
    except ValueError:
        minutes = math.nan
    if not minutes > 0 or not math.isfinite(minutes):
        raise ConfigError(f"--budget-minutes must be 'auto' or a positive number, not {value!r}")
    return minutes


def _check_classes_everywhere(parts: Split, folds: Folds, source: str) -> None:
    """Time or group splits cannot stratify: every class must still be in every training side."""
    classes = set(parts.y_train) | set(parts.y_test)
    sides = [("the training rows", parts.y_train)] + [
        (f"fold {i + 1}'s training rows", parts.y_train.iloc[tr])
        for i, (tr, _) in enumerate(folds.splits)
    ]
    for where, y in sides:
        missing = classes - set(y)
        if missing:
            raise DataError(
                f"{source}: class(es) {sorted(missing, key=str)[:5]} are not in {where} of this "
                f"{folds.kind} split; a model cannot learn a class it never sees: use fewer "
                "--cv-folds, a smaller --test-size, or drop the time/group column"
            )


def _check_split_columns(
    df: pd.DataFrame, target: str, source: str, time_column: str, group_column: str
) -> None:
    if time_column and group_column:
        raise ConfigError("--time-column and --group-column cannot be combined; choose one")
    for flag, name in (("--time-column", time_column), ("--group-column", group_column)):
        if name and (name not in df.columns or name == target):
            raise ConfigError(
                f"{flag} {name!r} is not a feature column of {source}; its columns are "
                f"{[str(c) for c in df.columns if c != target]}"
            )


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def left_out_columns(
    df: pd.DataFrame,
    *,
    target: str,
    source: str,
    ignore: list[str],
    keep: list[str],
    notes: list[str],
) -> set[str]:
    """The columns that are not features: identifiers found by `id_columns` (unless kept) and
    those the user names; each decision is added to `notes`. Detection runs on the file's own
    row order, before any sampling, so a sequence is still a sequence."""
    columns = [str(c) for c in df.columns]
    for flag, given in (("--ignore-columns", ignore), ("--keep-columns", keep)):
        unknown = [c for c in given if c not in columns or c == target]
        if unknown:
            raise ConfigError(
                f"{flag}: {unknown} are not feature columns of {source}; its columns are "
                f"{[c for c in columns if c != target]}"
            )
    both = sorted(set(ignore) & set(keep))
    if both:
        raise ConfigError(f"{both} are both in --ignore-columns and --keep-columns")
    detected = id_columns(df, target)
    ids = {c: why for c, why in detected.items() if c not in keep}
    if ids:
        described = "; ".join(f"{c}: {why}" for c, why in ids.items())
        notes.append(
            f"column(s) {list(ids)} look like identifiers ({described}): left out of the "
            "features and carried through at scoring; --keep-columns to use them"
        )
    kept = [c for c in keep if c in detected]
    if kept:
        notes.append(f"column(s) {kept} look like identifiers but are kept (--keep-columns)")
    if ignore:
        notes.append(f"column(s) {ignore} left out of the features (--ignore-columns)")
    return set(ids) | set(ignore)


def check_registry(*, registry: Registry, model_name: str) -> None:
    """Read the model's versions and audit trail before any fitting, so an invalid model name,
    a damaged registry file or a too-short signing key fails in `start`, not after every
    family trained."""
    signing.signing_key()
    registry.versions(model_name)
    registry.events(model_name)


def search_step(
    *,
    name: str,
    prep: Prepared,
    config: TrainConfig,
    seed: int,
    on_trial: Callable[[Any], None] | None = None,
    seconds: float | None = None,
) -> CandidateResult:
    """Search one family within its time limit (`seconds`, default its share of the budget);
    `on_trial` sees each trial as it ends."""
    return search_family(
        name=name,
        block=config.space(name, prep.task, prep.profile),
        problem=prep.problem,
        schema=prep.schema,
        data=prep.split,
        folds=prep.folds,
        seconds=prep.limits[name] if seconds is None else seconds,
        seed=seed,
        n_jobs=config.threads(name),
        max_trials=config.search.max_trials,
        early_stopping_rounds=config.search.early_stopping_rounds,
        refit_seeds=config.family(name).refit_seeds,
        temperature=config.search.temperature,
        patience=config.search.patience,
        first_trial_grace=config.search.first_trial_grace,
        on_trial=on_trial,
    )


def search_logged(
    *,
    name: str,
    prep: Prepared,
    config: TrainConfig,
    seed: int,
    group: str,
    seconds: float | None = None,
) -> CandidateResult:
    """`search_step` inside the family's one W&B run (job_type `search`, group = the Metaflow
    run): each trial is a step logged as it ends (live when online), then the trials table
    and the family's result, so W&B's panels show the search without a run per trial."""
    metric = prep.metric
    with tracking.wandb_run("search", group, name, {"family": name, "metric": metric}) as tracker:
        result = search_step(
            name=name,
            prep=prep,
            config=config,
            seed=seed,
            on_trial=lambda t: tracker.log(tracking.trial_step(t, metric)),
            seconds=seconds,
        )
        summary = {f"cv/{k}": v for k, v in result.cv.items()} | {
            f"holdout/{k}": v for k, v in result.holdout.items()
        }
        summary |= {"trials": len(result.trials), "stopped": result.stopped}
        tracker.log_table("trials", tracking.trial_rows(result.trials, metric))
        tracker.summary(summary)
    return result


def search_group(
    *,
    names: list[str],
    prep: Prepared,
    config: TrainConfig,
    seed: int,
    group: str,
    search: Callable[..., CandidateResult] | None = None,
    started: float | None = None,
) -> list[CandidateResult]:
    """The families of one search task (the unit the flow's foreach runs), each in its W&B
    run. Alone, a family has its share of the budget; in a group (a small table) the task has
    the budget's wall and each family, when it starts, the share of what is left that its
    share is of the families left, so what a family that converged did not use goes to the
    ones after it (the boosters come last), and what one overran is not taken from the next.
    `search` replaces `search_logged` (`modelops.fit` searches without W&B).

    `started` (a `time.perf_counter()` value: the task's process start) counts the task's own
    start in its time, up to half of it: on full diamonds seven tasks starting at once on two
    cores (imports, the prepared data, a W&B run each) spent about 12 s before their clocks
    started, and the search step ran that much past the budget."""

    def run(name: str, seconds: float | None) -> CandidateResult:
        kwargs = {"name": name, "prep": prep, "config": config, "seed": seed, "seconds": seconds}
        return search(**kwargs) if search else search_logged(group=group, **kwargs)

    spent = 0.0 if started is None else max(time.perf_counter() - started, 0.0)
    if len(names) == 1:
        limit = prep.limits[names[0]]
        if spent:
            log.info("%s: %.0f s of its %.0f s spent starting the task", names[0], spent, limit)
        return [run(names[0], max(limit - spent, limit / 2))]
    wall = max(prep.limits[n] / config.family(n).share for n in names)
    shares = {n: config.family(n).share for n in names}
    counted = min(spent, wall / 2)
    start, results = time.perf_counter() - counted, []
    for i, name in enumerate(names):
        left = wall - (time.perf_counter() - start)
        share = shares[name] / sum(shares[n] for n in names[i:])
        # never less than its share of the task's wall (less its start): a family before it
        # that ran over (a first trial may take twice its time) makes the task longer rather
        # than leave the next one nothing (wine: CatBoost's first trial took 25 s of a 12 s
        # share, and XGBoost was left 3 s for one trial)
        seconds = max(left * share, (wall - counted) * shares[name] / sum(shares.values()))
        log.info("%s: %.0f s of the task's %.0f s left", name, seconds, max(left, 0.0))
        results.append(run(name, seconds))
    return results


def result_loader(tasks: list[Any]) -> Callable[[str], CandidateResult]:
    """`select`'s `load` over the search tasks (the `register` join's inputs, or anything
    with `scores` and `results`): a candidate's fitted result from the task that searched it,
    reading that task's `results` (its fitted pipelines) only when the champion needs one."""
    task_of = {s.label: t for t in tasks for s in t.scores}
    return lambda label: next(r for r in task_of[label].results if r.label == label)


def within_limit(scores: list[CandidateScore], limit: float | None) -> list[CandidateScore]:
    """The candidates that predict within `limit` ms per 1,000 rows (all when there is none);
    a clear error when none does, naming the cheapest."""
    if limit is None:
        return scores
    fast = [s for s in scores if not s.failed and s.predict_ms <= limit]
    if not fast:
        measured = [s for s in scores if not s.failed and math.isfinite(s.predict_ms)]
        cheapest = min(measured, key=lambda s: s.predict_ms, default=None)
        fastest = (
            f"the fastest, {cheapest.label}, takes {cheapest.predict_ms:.0f} ms"
            if cheapest
            else "no candidate's cost was measured"
        )
        raise ConfigError(
            f"--infer-limit {limit:g} ms per 1,000 rows: no candidate predicts that fast "
            f"({fastest}); raise --infer-limit or add a cheaper family to --candidates"
        )
    return [*fast, *[s for s in scores if s.failed]]


def select(
    *,
    scores: list[CandidateScore],
    load: Callable[[str], CandidateResult],
    prep: Prepared,
    config: TrainConfig,
    seed: int,
) -> Selection:
    """Rank families on CV; the ensemble is the champion when its nested CV beats choosing one
    family by CV scored the same way; load only the pipelines the champion needs."""
    if all(s.failed for s in scores):
        raise TrainingError(
            "every candidate family failed (each search task's log has the traceback): "
            + "; ".join(f"{s.label}: {s.failed}" for s in scores if s.failed)
        )
    fast = within_limit(scores, config.infer_limit_ms)
    # over the user's --infer-limit: on the leaderboard, after every candidate that may win
    slow = rank([s for s in scores if s not in fast], prep.problem)
    ranked = rank(fast, prep.problem)
    choice = build_ensemble(fast, prep, config, seed=seed)
    if choice is None:
        return Selection(leaderboard([*ranked, *slow]), load(ranked[0].label), [*ranked, *slow], {})
    comparison = {
        "metric": prep.metric,
        "ensemble_cv": choice.score.cv[prep.metric],
        "one_family_cv": choice.one_family_cv,
        "bags": config.ensemble.bags,
        "chosen": "ensemble" if choice.wins(prep.problem) else ranked[0].label,
        "pruned_for_speed": choice.pruned,
        "infer_limit_ms": config.infer_limit_ms,
        "over_infer_limit": [s.label for s in slow],
    }
    weights = choice.score.params["weights"]
    if comparison["chosen"] == "ensemble" and len(weights) == 1:
        # the greedy kept one member (randhie: XGBoost, weight 1): that family's own model
        # predicts the same without the ensemble's wrapper, and is named for what it is
        comparison["chosen"], comparison["one_member"] = next(iter(weights)), True
    if comparison["chosen"] != "ensemble":
        champion = next(s for s in ranked if s.label == comparison["chosen"])
        others = [s for s in ranked if s is not champion]
        ranked = [champion, *rank([*others, choice.score], prep.problem), *slow]
        return Selection(leaderboard(ranked), load(champion.label), ranked, {}, comparison)
    from modelops.estimators import EnsembleClassifier, EnsembleRegressor

    top, ranked = choice.score, [choice.score, *ranked, *slow]
    members = [load(label) for label in weights]
    cls = EnsembleRegressor if prep.problem.regression else EnsembleClassifier
    model = cls(
        members=[m.pipeline for m in members],
        weights=list(weights.values()),
        labels=list(weights),
        task=prep.task,
    ).fit()  # its members are fitted: this works out what their encoders share
    # an ensemble predicts with every member: its cost is theirs, summed
    top.predict_ms = sum(m.predict_ms for m in members)
    best = CandidateResult(**vars(top), pipeline=model)
    best.params = {"weights": weights} | {m.label: m.params for m in members}
    return Selection(leaderboard(ranked), best, ranked, dict(weights), comparison)


def log_training(*, tracker: tracking.Tracker, prep: Prepared, sel: Selection) -> None:
    """What the training run records before the model: data, leaderboard, candidates' charts,
    ensemble weights, the champion's metrics (one W&B run for all of it, not one per family:
    W&B's start-up is paid once)."""
    tracking.log_training(
        tracker,
        source=prep.source,
        dataset=f"{prep.model_name}-data",
        data_metadata={"rows": prep.n_rows, "sha256": prep.data_digest, "source": prep.source},
        board=sel.board,
        metric=prep.metric,
        task=prep.task,
        best=sel.best.label,
        candidates=sel.scores,
        weights=sel.ensemble,
        comparison=sel.comparison,
        figures={"parameters": parameters_figure(sel, prep)} if tracker.active else None,
    )


def parameters_figure(sel: Selection, prep: Prepared) -> Any:
    """Each family's trials as parallel coordinates of its parameters (None: nothing to
    draw), for the card and the W&B train run."""
    from modelops.cards import parameters_figure as figure

    trials = {s.label: s.trials for s in sel.scores if s.trials}
    return figure(trials, prep.metric, prep.problem.higher)


def register_step(
    *,
    registry: Registry,
    prep: Prepared,
    sel: Selection,
    policy: str,
    config: TrainConfig,
    run_pathspec: str,
    seed: int,
    group: str,
    resumed_from: str | None = None,
    review: Review | None = None,
    parameters: dict[str, Any] | None = None,
) -> Outcome:
    """register_and_promote inside the run's one W&B `train` run (named after the model; its
    config every flow parameter and the Metaflow run, its tags model, data, task and metric),
    which records the data, the candidates, the decision and the model."""
    plain = {k: v for k, v in (parameters or {}).items() if isinstance(v, str | int | float)}
    run_config = plain | {
        "model_name": prep.model_name,
        "metaflow_run": run_pathspec,
        "metric": prep.metric,
        "task": prep.task,
    }
    tags = [prep.model_name, Path(prep.source).name, prep.task, prep.metric]
    with tracking.wandb_run("train", group, prep.model_name, run_config, tags) as tracker:
        log_training(tracker=tracker, prep=prep, sel=sel)

        def log_model(outcome: Outcome, files: dict[str, Path], stored: bool) -> None:
            tracker.summary(
                {
                    "registered_version": outcome.version,
                    "promoted": outcome.decision.promote,
                    "production_version": outcome.production_version,
                    "decision": "; ".join(outcome.decision.reasons),
                }
            )
            champion = outcome.decision.champion_version
            if champion is not None:  # lineage: the production model this one was gated on
                tracker.use_artifact(
                    tracking.artifact_ref(outcome.model_name, champion, outcome.registry_backend)
                )
            if outcome.registry_backend != "wandb":  # the W&B backend logged it as it registered
                # `local-v<n>`: W&B numbers the artifact's versions itself, so the local number
                # is an alias of its own (`artifact_ref`), never mistaken for W&B's `v<n>`
                aliases = [f"local-v{outcome.version}"] + (
                    [PRODUCTION] if outcome.decision.promote else []
                )
                tracker.log_artifact(
                    outcome.model_name, "model", files, outcome.metadata, aliases, in_place=stored
                )

        outcome = register_and_promote(
            registry=registry,
            prep=prep,
            sel=sel,
            policy=policy,
            config=config,
            run_pathspec=run_pathspec,
            seed=seed,
            on_registered=log_model,
            resumed_from=resumed_from,
            review=review,
        )
    from modelops.reports import save_run_report

    save_run_report(group=group, metric=prep.metric, model_name=prep.model_name)
    return outcome


def review_champion(*, sel: Selection, prep: Prepared, seed: int) -> Review:
    """Permutation importance of the champion's input columns on the holdout, and the leakage
    guard on it (shown in the terminal and at the top of the card, never a refusal)."""
    from modelops.cards import feature_importance

    best = sel.best
    importance = feature_importance(best.pipeline, prep.split.X_test, prep.split.y_test, seed)
    # the caller shows the warning (the flow prints it, fit() adds it to its notes): once
    return Review(importance, leakage_warning(best.holdout, importance))


def selection_report(sel: Selection, metric: str) -> str:
    """What the terminal shows once the join has chosen: the leaderboard (long parameter
    lists cut at 72 characters, so a row stays a line) and how ensemble and family were weighed."""
    board = readable_leaderboard(sel.scores, metric).to_string(index=False, max_colwidth=72)
    return f"{board}\n{describe_choice(sel.comparison)}"


def outcome_report(outcome: Outcome, label: str) -> str:
    """The gate's verdict on the registered version, then each reason on a line of its own
    (the benchmarks read the first line from the flow's log)."""
    verdict = "promoted to production" if outcome.decision.promote else "not promoted"
    head = f"{outcome.model_name} v{outcome.version} ({label}) {verdict}:"
    return "\n".join([head] + [f"  - {reason}" for reason in outcome.decision.reasons])


def selection_card(
    *, sel: Selection, prep: Prepared, outcome: Outcome, review: Review
) -> list[Any]:
    """The register step's card: decision, leaderboard, champion diagnostics and importance."""
    from modelops.cards import (
        diagnostic_figure,
        importance_figure,
        leaderboard_figure,
        search_figure,
        selection_components,
        weights_figure,
    )

    best = sel.best
    X, y = prep.split.X_test, prep.split.y_test
    trials = {s.label: s.trials for s in sel.scores if s.trials}
    figures = {
        "Candidates": leaderboard_figure(sel.board, prep.metric),
        "Search history: best CV score so far, by family": search_figure(
            trials, prep.metric, prep.problem.higher
        ),
        f"{best.label}: holdout diagnostics": diagnostic_figure(
            best.pipeline, X, y, prep.task, best.label
        ),
        f"{best.label}: feature importance": importance_figure(review.importance),
        "Parameters tried, by family (parallel coordinates, coloured by CV score)": (
            parameters_figure(sel, prep)
        ),
    }
    if sel.ensemble:
        figures["Ensemble weights"] = weights_figure(sel.ensemble)
    figures = {title: fig for title, fig in figures.items() if fig is not None}
    return selection_components(
        sel.board,
        prep.metric,
        outcome.decision.to_dict(),
        f"{outcome.model_name} v{outcome.version}",
        figures,
        notes=[
            f"{len(prep.split.X_train)} training rows, {len(prep.split.X_test)} holdout rows; "
            f"families ranked by {prep.folds.description} cross-validation"
        ]
        + prep.notes,
        ensemble=sel.ensemble,
        choice=describe_choice(sel.comparison),
        warning=review.warning,
    )
