"""Default TrainFlow vs a plain script doing the same fits in one process, in one run.

    .venv/bin/python benchmarks/train_benchmark.py            # full diamonds, default config

The plain script calls the same step functions as the flow: prepare, one search per family
(its trials logged to W&B), select with the ensemble, then the register step's work (W&B runs,
the local registry, the card's figures). By default its families search side by side, one
worker process each, as the flow's foreach tasks do, so the ratio of the two walls is what
running as a Metaflow DAG adds; the script's time up to selection is printed too.
`--script-workers 1` runs them one after another in one process (its wall is then about the
*sum* of the families' limits). The flow's own step times are printed after it, from
Metaflow's client.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _search(name: str, prep: object, seed: int) -> tuple[object, float]:
    """One family's search in a worker process (the flow's foreach task, without Metaflow)."""
    from modelops.training.config import load_config
    from modelops.training.steps import search_logged

    t = time.perf_counter()
    result = search_logged(name=name, prep=prep, config=load_config(), seed=seed, group="script")
    return result, time.perf_counter() - t


def plain_script(
    sample_rows: int, cv_folds: int, seed: int, budget: str, workers: int
) -> tuple[float, str, float]:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from modelops.training import steps
    from modelops.training.candidates import FAMILIES
    from modelops.training.config import load_config
    from modelops.training.steps import prepare_training, select

    tmp = Path(tempfile.mkdtemp(prefix="bench-script-"))
    os.environ |= {
        "MODELOPS_REGISTRY_DIR": str(tmp / "registry"),
        "WANDB_DIR": str(tmp),
        "WANDB_MODE": os.environ.get("WANDB_MODE", "offline"),
    }

    t0 = time.perf_counter()
    config = load_config()
    prep = prepare_training(
        data="diamonds",
        target="",
        task="auto",
        candidates=",".join(FAMILIES),  # every family, as the flow's default
        metric="auto",
        test_size=0.2,
        cv_folds=cv_folds,
        budget_minutes=budget,
        seed=seed,
        sample=sample_rows,
        model_name="",
        config=config,
    )
    results = {}
    # spawned workers, as the flow's tasks are fresh processes (no OpenMP state forked)
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = {n: pool.submit(_search, n, prep, seed) for n in prep.candidates}
        for name, future in futures.items():
            results[name], took = future.result()
            print(f"  script: {name:<24} {took:6.1f}s  holdout {results[name].holdout}")
    scores = [r.score() for r in results.values()]
    sel = select(scores=scores, load=results.__getitem__, prep=prep, config=config, seed=seed)
    print(f"  script: search and selection {time.perf_counter() - t0:6.1f}s")
    from modelops.registry import open_registry

    review = steps.review_champion(sel=sel, prep=prep, seed=seed)
    outcome = steps.register_step(
        registry=open_registry(),
        prep=prep,
        sel=sel,
        policy="auto",
        config=config,
        run_pathspec="script",
        seed=seed,
        group="script",
        review=review,
    )
    steps.selection_card(sel=sel, prep=prep, outcome=outcome, review=review)
    return time.perf_counter() - t0, sel.best.label, sel.best.holdout[prep.metric]


def flow_env(work: Path) -> dict[str, str]:
    """A flow run's environment with its datastore, registry, signing key and W&B runs in
    `work`, so benchmark runs share nothing with each other or the user's own."""
    return os.environ | {
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(work),
        "MODELOPS_REGISTRY_DIR": str(work / "registry"),
        "MODELOPS_SIGNING_KEY_FILE": str(work / "signing.key"),
        "WANDB_DIR": str(work),
        "WANDB_MODE": os.environ.get("WANDB_MODE", "offline"),
        "METAFLOW_USER": os.environ.get("METAFLOW_USER", "bench"),
    }


def flow(
    sample_rows: int, cv_folds: int, seed: int, budget: str, config: str | None = None
) -> tuple[float, str]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-train-"))
    env = flow_env(tmp)
    cmd = [
        sys.executable, str(ROOT / "flows" / "train_flow.py"),
        *(["--config", "config", config] if config else []), "run",
        "--sample-rows", str(sample_rows), "--cv-folds", str(cv_folds), "--seed", str(seed),
        "--budget-minutes", str(budget),
    ]  # fmt: skip
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    (tmp / "flow.log").write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        sys.exit(f"TrainFlow failed; log in {tmp / 'flow.log'}")
    verdict = [
        line for line in out.stdout.splitlines() + out.stderr.splitlines() if " v0 (" in line
    ]
    from modelops.registry import LocalRegistry

    meta = LocalRegistry(tmp / "registry").get("diamonds-price", "latest").metadata
    holdout = ", ".join(f"{k} {v:.4g}" for k, v in meta["metrics"]["holdout"].items())
    trials = {k: v["trials"] for k, v in meta["search"]["families"].items()}
    for step, seconds in step_seconds(out.stdout + out.stderr).items():
        print(f"  flow step {step:<10} {len(seconds)} task(s), longest {max(seconds):6.1f}s")
    return elapsed, (verdict[-1].split("] ", 1)[-1] if verdict else "?") + (
        f" holdout {holdout}; trials {trials}"
    )


def step_seconds(log: str) -> dict[str, list[float]]:
    """Each step's task durations, from the 'Task is starting.' and 'Task finished
    successfully.' lines of `run`'s output (this process may have read another datastore's
    config, so Metaflow's client is not asked)."""
    from datetime import datetime

    started: dict[str, datetime] = {}
    out: dict[str, list[float]] = {}
    for line in log.splitlines():
        if not line.startswith("20") or " [" not in line:
            continue
        when, rest = line[:23], line.split(" [", 1)[1]
        task = rest.split(" ", 1)[0]  # run/step/task
        at = datetime.strptime(when, "%Y-%m-%d %H:%M:%S.%f")
        if "Task is starting." in rest:
            started[task] = at
        elif "Task finished successfully." in rest and task in started:
            step = task.split("/")[1]
            out.setdefault(step, []).append((at - started[task]).total_seconds())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample-rows", type=int, default=0)
    ap.add_argument("--cv-folds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--budget", default="auto", help="--budget-minutes for both (auto or minutes)")
    ap.add_argument("--flow-only", action="store_true", help="skip the plain script")
    ap.add_argument("--config", help="a TrainFlow config to try instead of configs/train.json")
    ap.add_argument(
        "--script-workers",
        type=int,
        default=0,
        help="the script's worker processes (0: one per family, side by side as the flow's "
        "tasks; 1: one family after another)",
    )
    args = ap.parse_args()
    if not args.flow_only:
        from modelops.training.candidates import FAMILIES

        workers = args.script_workers or len(FAMILIES)
        script_s, best, score = plain_script(
            args.sample_rows, args.cv_folds, args.seed, args.budget, workers
        )
        print(f"plain script : {script_s:7.1f} s   best {best} holdout {score:.1f}")
    flow_s, verdict = flow(args.sample_rows, args.cv_folds, args.seed, args.budget, args.config)
    print(f"TrainFlow    : {flow_s:7.1f} s   {verdict}")
    if not args.flow_only:
        print(f"flow/script  : {flow_s / script_s:.2f} ({workers} script worker(s))")
    print(f"TrainFlow wall vs budget: {flow_s:.0f} s for --budget-minutes {args.budget}")


if __name__ == "__main__":
    main()
