"""Default TrainFlow vs a plain script doing the same fits in one process, in one run.

    .venv/bin/python benchmarks/train_benchmark.py            # full diamonds, default config

The plain script uses the library exactly as the flow does (same data preparation, same
candidate configurations, same CV and holdout scoring) but fits them one after another in a
single process with every core per fit, and does no tracking, registry or cards. The ratio
flow / script is the price of Metaflow orchestration, W&B logging and promotion.
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


def plain_script(sample_rows: int, cv_folds: int, seed: int) -> tuple[float, str, float]:
    from modelops.training.config import load_config
    from modelops.training.fit import train_candidate
    from modelops.training.selection import rank
    from modelops.training.steps import prepare_training

    t0 = time.perf_counter()
    config = load_config()
    prep = prepare_training(
        data="diamonds",
        target="",
        task="auto",
        candidates="linear,random_forest,hist_gradient_boosting,catboost",
        metric="auto",
        test_size=0.2,
        seed=seed,
        sample=sample_rows,
        model_name="",
        config=config,
    )
    results = []
    for spec in prep.candidates:
        t = time.perf_counter()
        r = train_candidate(
            spec, prep.task, prep.schema, prep.split, cv_folds=cv_folds, seed=seed, n_jobs=-1
        )
        print(f"  script: {spec.label:<26} {time.perf_counter() - t:6.1f}s  holdout {r.holdout}")
        results.append(r)
    best = rank(results, prep.task, prep.metric)[0]
    return time.perf_counter() - t0, best.label, best.holdout[prep.metric]


def flow(sample_rows: int, cv_folds: int, seed: int) -> tuple[float, str]:
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
    return elapsed, (verdict[-1].split("] ", 1)[-1] if verdict else "?")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample-rows", type=int, default=0)
    ap.add_argument("--cv-folds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    script_s, best, score = plain_script(args.sample_rows, args.cv_folds, args.seed)
    flow_s, verdict = flow(args.sample_rows, args.cv_folds, args.seed)
    print(f"plain script : {script_s:7.1f} s   best {best} holdout {score:.1f}")
    print(f"TrainFlow    : {flow_s:7.1f} s   {verdict}")
    print(f"ratio        : {flow_s / script_s:7.2f} x  (target <= 1.15, and TrainFlow < 300 s)")


if __name__ == "__main__":
    main()
