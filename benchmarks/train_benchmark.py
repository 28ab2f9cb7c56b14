"""Default TrainFlow vs a plain script doing the same fits in one process, in one run.

    .venv/bin/python benchmarks/train_benchmark.py            # full diamonds, default config

The plain script calls the same step functions as the flow (prepare, one search per family,
select with the ensemble) in a single process, one family after another, and does no
tracking, registry or cards. Each family searches for its time limit either way, so the
script's wall is about the *sum* of the limits and the flow's about the largest one: compare
the champions' holdout scores, and read the flow's wall against --budget-minutes.
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


def plain_script(
    sample_rows: int, cv_folds: int, seed: int, budget: float
) -> tuple[float, str, float]:
    from modelops.training.candidates import FAMILIES
    from modelops.training.config import load_config
    from modelops.training.steps import prepare_training, search_step, select

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
    for name in prep.candidates:
        t = time.perf_counter()
        results[name] = r = search_step(name=name, prep=prep, config=config, seed=seed)
        print(f"  script: {name:<24} {time.perf_counter() - t:6.1f}s  holdout {r.holdout}")
    scores = [r.score() for r in results.values()]
    sel = select(scores=scores, load=results.__getitem__, prep=prep, config=config, seed=seed)
    return time.perf_counter() - t0, sel.best.label, sel.best.holdout[prep.metric]


def flow(sample_rows: int, cv_folds: int, seed: int, budget: float) -> tuple[float, str]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-train-"))
    env = os.environ | {
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(tmp),
        "MODELOPS_REGISTRY_DIR": str(tmp / "registry"),
        "WANDB_DIR": str(tmp),
        "WANDB_MODE": os.environ.get("WANDB_MODE", "offline"),
        "METAFLOW_USER": os.environ.get("METAFLOW_USER", "bench"),
    }
    cmd = [
        sys.executable, str(ROOT / "flows" / "train_flow.py"), "run",
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
    return elapsed, (verdict[-1].split("] ", 1)[-1] if verdict else "?") + (
        f" holdout {holdout}; trials {trials}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample-rows", type=int, default=0)
    ap.add_argument("--cv-folds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--budget", type=float, default=1.5, help="--budget-minutes for both")
    ap.add_argument(
        "--flow-only", action="store_true", help="skip the script (its wall is the sum of limits)"
    )
    args = ap.parse_args()
    if not args.flow_only:
        script_s, best, score = plain_script(
            args.sample_rows, args.cv_folds, args.seed, args.budget
        )
        print(f"plain script : {script_s:7.1f} s   best {best} holdout {score:.1f}")
    flow_s, verdict = flow(args.sample_rows, args.cv_folds, args.seed, args.budget)
    print(f"TrainFlow    : {flow_s:7.1f} s   {verdict}")
    print(f"TrainFlow wall vs budget: {flow_s:.0f} s for a {args.budget * 60:.0f} s search")


if __name__ == "__main__":
    main()
