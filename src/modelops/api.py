"""Train in a notebook or a script: the flow's step functions in this process, no Metaflow.

    import modelops
    result = modelops.fit(df, target="price", budget_minutes=1)
    result.leaderboard                 # every family and the ensemble, best first
    result.model.predict(new_rows)     # the fitted pipeline (or ensemble) is the model
    modelops.register(result)          # the same gate as TrainFlow's register step

`fit` runs what TrainFlow's `start`, `search` (one worker process per family, side by side as
the flow's foreach tasks run) and the ranking and ensemble of its `register` step run, and
`register` the rest of that step (W&B offline without credentials, the registry, the
champion/baseline gate). Flows stay the way to run it in production: resumable, scaled out,
with cards.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

import pandas as pd

from modelops.errors import ModelOpsError
from modelops.estimators import predict_threads
from modelops.threads import cores
from modelops.training.candidates import FAMILIES
from modelops.training.config import TrainConfig, load_config
from modelops.training.search import CandidateResult
from modelops.training.selection import readable_leaderboard
from modelops.training.steps import (
    Outcome,
    Prepared,
    Review,
    Selection,
    prepare_training,
    register_step,
    review_champion,
    search_group,
    search_step,
    select,
)


@dataclass
class FitResult:
    """What `fit` found: the champion model, the leaderboard, and what `register` needs."""

    model: Any
    leaderboard: pd.DataFrame
    notes: list[str]
    prepared: Prepared = field(repr=False)
    selection: Selection = field(repr=False)
    review: Review = field(repr=False)
    config: TrainConfig = field(repr=False)
    seed: int = 42

    def predict(self, rows: pd.DataFrame) -> Any:
        """Predictions of the champion (`model.predict`)."""
        return self.model.predict(rows)


def _search(name: str, prep: Prepared, config: TrainConfig, seed: int) -> CandidateResult:
    return search_step(name=name, prep=prep, config=config, seed=seed)


def _search_group(
    names: list[str], prep: Prepared, config: TrainConfig, seed: int
) -> list[CandidateResult]:
    return search_group(
        names=names, prep=prep, config=config, seed=seed, group="", search=search_step
    )


def _side_by_side(
    prep: Prepared, config: TrainConfig, seed: int, workers: int
) -> dict[str, CandidateResult]:
    # spawned workers, as the flow's tasks are fresh processes (no OpenMP state forked); the
    # flow's groups: on a small table a worker per core, its families one after another
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_search_group, g, prep, config, seed) for g in prep.groups]
            return {r.label: r for f in futures for r in f.result()}
    except BrokenProcessPool as err:
        raise ModelOpsError(
            "the family searches run in worker processes, which import your script again: "
            'call modelops.fit under `if __name__ == "__main__":`, or pass workers=1 '
            "(one family after another in this process)"
        ) from err


def fit(
    data: pd.DataFrame | str,
    *,
    target: str,
    task: str = "auto",
    budget_minutes: float = 1.0,
    candidates: str = ",".join(FAMILIES),
    metric: str = "auto",
    test_size: float = 0.2,
    cv_folds: int = 3,
    seed: int = 42,
    ignore_columns: str = "",
    keep_columns: str = "",
    time_column: str = "",
    group_column: str = "",
    infer_limit: float = 0.0,
    config: TrainConfig | None = None,
    workers: int | None = None,
    name: str = "DataFrame",
) -> FitResult:
    """Search every family within `budget_minutes` and pick the champion, as TrainFlow does;
    the parameters are TrainFlow's (`--help`). `data` is a DataFrame (named `name` in the
    metadata) or a file path; `workers` processes search at once (default: one per core; on
    a small table each runs a group of families, as the flow's tasks do)."""
    config = (config or load_config()).with_infer_limit(infer_limit)
    frame = data if isinstance(data, pd.DataFrame) else None
    prep = prepare_training(
        data=name if frame is not None else str(data),
        target=target,
        task=task,
        candidates=candidates,
        metric=metric,
        test_size=test_size,
        cv_folds=cv_folds,
        budget_minutes=budget_minutes,
        seed=seed,
        sample=0,
        model_name="",
        config=config,
        ignore_columns=ignore_columns,
        keep_columns=keep_columns,
        time_column=time_column,
        group_column=group_column,
        frame=frame,
    )
    workers = workers or min(len(prep.candidates), cores())
    if workers == 1:  # one after another in this process: about the sum of the shares
        results = {n: _search(n, prep, config, seed) for n in prep.candidates}
    else:
        results = _side_by_side(prep, config, seed, workers)
    sel = select(
        scores=[r.score() for r in results.values()],
        load=results.__getitem__,
        prep=prep,
        config=config,
        seed=seed,
    )
    # fitted on one thread each, side by side; the model handed back predicts on every core
    predict_threads(sel.best.pipeline, cores())
    review = review_champion(sel=sel, prep=prep, seed=seed)
    notes = prep.notes + ([f"WARNING: {review.warning}"] if review.warning else [])
    return FitResult(
        model=sel.best.pipeline,
        leaderboard=readable_leaderboard(sel.scores, prep.metric),
        notes=notes,
        prepared=prep,
        selection=sel,
        review=review,
        config=config,
        seed=seed,
    )


def register(
    result: FitResult, *, model_name: str = "", promotion: str = "auto", registry: Any = None
) -> Outcome:
    """Register the champion and promote it through TrainFlow's gate (it must beat production,
    or for a first model the trivial baseline, beyond noise); W&B as the flows log it."""
    from modelops.registry import open_registry

    prep = result.prepared
    if model_name:
        prep.model_name = model_name
    return register_step(
        registry=registry or open_registry(),
        prep=prep,
        sel=result.selection,
        policy=promotion,
        config=result.config,
        run_pathspec=f"in-process/{os.getpid()}",
        seed=result.seed,
        group="in-process",
        review=result.review,
    )
