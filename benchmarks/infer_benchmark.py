"""What pruning an ensemble for speed costs and buys: holdout score against throughput.

    .venv/bin/python benchmarks/infer_benchmark.py                       # default diamonds run
    .venv/bin/python benchmarks/infer_benchmark.py --run TrainFlow/123   # an existing run

Runs the default TrainFlow on the bundled diamonds (in a scratch datastore, registry and W&B
folder) unless `--run` names one, then takes its search tasks' candidates (their OOF and
holdout predictions, measured costs and fitted pipelines) and, for each setting of the
pruning (`ensemble.speed_tolerance` as a share of the best member's CV standard error, and
`--infer-limit`s), chooses the ensemble as `select` does on all OOF rows. Each ensemble is
then timed predicting `--rows` rows in this process on every core (best of three), with
its members' threads set as loading it for scoring sets them (`--threads`, default every
core), and scored on the holdout. The first line (tolerance 0, no limit) is the ensemble
without pruning.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from train_benchmark import flow_env  # noqa: E402


def default_run() -> tuple[str, Path]:
    work = Path(tempfile.mkdtemp(prefix="bench-infer-"))
    env = flow_env(work)
    cmd = [sys.executable, str(ROOT / "flows" / "train_flow.py"), "run"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True)
    (work / "flow.log").write_text(out.stdout + out.stderr)
    if out.returncode:
        sys.exit(f"TrainFlow failed; see {work / 'flow.log'}")
    print(f"default TrainFlow: {time.perf_counter() - t0:.1f} s ({work})")
    os.environ |= env
    from metaflow import Flow, namespace

    namespace(None)
    return Flow("TrainFlow").latest_run.pathspec, work


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="TrainFlow/<run id> to read (default: run one)")
    ap.add_argument("--rows", type=int, default=100_000, help="rows predicted per timing")
    ap.add_argument("--tolerances", default="0,0.25,0.5,1,2")
    ap.add_argument("--limits", default="", help="comma-separated ms per 1,000 rows")
    ap.add_argument(
        "--threads", type=int, default=0, help="threads each member predicts on (0: every core)"
    )
    ap.add_argument(
        "--remeasure", action="store_true", help="time each member here, not in its task"
    )
    args = ap.parse_args()
    pathspec = args.run or default_run()[0]  # before metaflow is imported: its datastore

    import numpy as np
    from metaflow import Run, namespace
    from threadpoolctl import threadpool_limits

    from modelops.estimators import EnsembleClassifier, EnsembleRegressor, predict_threads
    from modelops.threads import cores
    from modelops.training.config import load_config
    from modelops.training.ensemble import greedy_selection, speed_pruning
    from modelops.training.predictions import metrics_of, predict_aligned
    from modelops.training.search import predict_cost
    from modelops.training.selection import rank

    namespace(None)
    run = Run(pathspec)
    prep = run["start"].task["prepared"].data
    results = [r for t in run["search"].tasks() for r in t["results"].data]
    members = [r for r in rank(results, prep.problem) if r.oof is not None]
    if args.remeasure:
        for m in members:
            m.predict_ms = predict_cost(m.pipeline, prep.split.X_test, prep.problem)
    print(f"{pathspec}: " + ", ".join(f"{m.label} {m.predict_ms:.0f} ms" for m in members))
    rows = prep.folds.scored
    y = prep.split.y_train.iloc[rows]
    oofs = {m.label: m.oof[rows] for m in members}
    by_label = {m.label: m for m in members}
    X = prep.split.X_test
    big = X.iloc[np.arange(args.rows) % len(X)].reset_index(drop=True)
    cls = EnsembleRegressor if prep.task == "regression" else EnsembleClassifier
    settings = [(float(t), None) for t in args.tolerances.split(",")]
    settings += [(0.5, float(x)) for x in args.limits.split(",") if x]
    print(
        "| tolerance (x SE) | infer limit | members | CPU ms/1k | holdout "
        + prep.metric
        + " | rows/s |"
    )
    print("|---|---|---|---:|---:|---:|")
    for share, limit in settings:
        base = load_config()
        ensemble = base.ensemble.model_copy(update={"speed_tolerance": share})
        config = base.model_copy(update={"ensemble": ensemble, "infer_limit_ms": limit})
        pruning = speed_pruning(members, prep, config)
        g = greedy_selection(
            oofs,
            y,
            prep.problem,
            iterations=config.ensemble.iterations,
            bags=config.ensemble.bags,
            seed=42,
            min_weight=config.ensemble.min_weight if prep.folds.repeats == 1 else 0.0,
            **pruning,
        )
        model = cls(
            members=[by_label[n].pipeline for n in g.weights],
            weights=list(g.weights.values()),
            labels=list(g.weights),
            task=prep.task,
        )
        predict_threads(model, args.threads or cores())
        pred = predict_aligned(model, X, prep.problem)
        score = metrics_of(prep.problem, prep.split.y_test, pred)[prep.metric]
        best = math.inf
        with threadpool_limits(limits=None):
            for _ in range(3):
                t0 = time.perf_counter()
                predict_aligned(model, big, prep.problem)
                best = min(best, time.perf_counter() - t0)
        names = ", ".join(f"{n} {w:.2f}" for n, w in g.weights.items())
        cost = sum(by_label[n].predict_ms for n in g.weights)
        print(
            f"| {share:g} ({pruning.get('tolerance', 0):.3g}) | {limit or '-'} | {names} | "
            f"{cost:.1f} | {score:.4g} | {args.rows / best:,.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
