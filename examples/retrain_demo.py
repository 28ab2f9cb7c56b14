"""The retraining loop on one machine, without GitHub: what monitor.yml + train.yml do.

    python flows/retrain_demo.py                  # make retrain-demo
    python flows/retrain_demo.py --rows 1500      # small and fast

1. TrainFlow on an old period (small stones only) -> v0 takes production.
2. ScoreFlow on recent rows -> drift; the monitor's rule (modelops.monitoring.policy) says retrain.
3. TrainFlow on the labelled recent rows -> the champion is re-scored on the new holdout and
   the challenger takes production only if it is better.
4. ScoreFlow again with the new production model -> the drift is gone.

Everything goes to its own folder and registry (--workdir), so the demo never touches your
diamonds-price champion.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from demo_data import make_periods  # beside this script

from modelops.monitoring.policy import load_drift, retrain_decision
from modelops.registry import PRODUCTION, LocalRegistry
from modelops.scoring.outputs import sibling
from modelops.training.data import bundled_path

HERE = Path(__file__).resolve().parent
FLOWS = HERE.parent / "flows"
MODEL = "retrain-demo"


def flow(name: str, args: list[str], env: dict[str, str], config: str | None = None) -> None:
    cmd = [sys.executable, str(FLOWS / name)]
    if config and name == "train_flow.py":
        cmd += ["--config", "config", config]
    print(f"\n$ {' '.join(cmd[1:])} run {' '.join(args)}", flush=True)
    done = subprocess.run([*cmd, "run", *args], env=env)
    if done.returncode:
        sys.exit(f"retrain demo: {name} failed (exit {done.returncode}); its output is above")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path("retrain-demo"), help="demo folder")
    ap.add_argument("--rows", type=int, default=6000, help="rows per period file (0 = all)")
    ap.add_argument("--config", default=None, help="TrainFlow config file (default: configs/)")
    ap.add_argument("--candidates", default="linear,hist_gradient_boosting,catboost")
    args = ap.parse_args(argv)

    work = args.workdir.resolve()
    data = make_periods(pd.read_csv(bundled_path("diamonds")), work, args.rows)
    registry = LocalRegistry(work / "registry")
    env = os.environ | {"MODELOPS_REGISTRY": "local", "MODELOPS_REGISTRY_DIR": str(registry.root)}
    train = ["--model-name", MODEL, "--target", "price", "--candidates", args.candidates]
    score_args = ["--model-name", MODEL, "--overwrite", "True"]

    def score(version: int) -> dict:
        """ScoreFlow with production (v`version`); its drift summary, read as monitor.yml does."""
        output = work / f"recent.v{version}.predictions.csv"
        flow(
            "score_flow.py",
            ["--input", str(data.recent), "--output", str(output), *score_args],
            env,
        )
        return load_drift(sibling(output, ".drift.json"))

    flow("train_flow.py", ["--data", str(data.old), *train], env, args.config)
    first = registry.get(MODEL, PRODUCTION).version
    drift = score(first)
    decision = retrain_decision(drift)
    print(f"\nmonitor: {decision.reason}")
    if decision.retrain:
        flow("train_flow.py", ["--data", str(data.recent_labelled), *train], env, args.config)
    second = registry.get(MODEL, PRODUCTION).version
    after = score(second)

    summary = {
        "first_production": first,
        "drift_before": drift["share"],
        "drifted_before": drift["drifted"],
        "weighted_before": drift.get("weighted_share"),
        "retrained": decision.retrain,
        "production": second,
        "promoted": second != first,
        "drift_after": after["share"],
        "drifted_after": after["drifted"],
    }
    print("\nretrain demo:", json.dumps(summary))
    (work / "summary.json").write_text(json.dumps(summary, indent=2))
    print(
        f"registry: MODELOPS_REGISTRY_DIR={registry.root} python -m modelops.registry list {MODEL}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
