"""A change that should change no behaviour, checked: TrainFlow and ScoreFlow at two commits.

    .venv/bin/python benchmarks/same_outputs.py --before b643e00 --after HEAD
    .venv/bin/python benchmarks/same_outputs.py --before b643e00 --table breast_cancer

Each commit is checked out in its own git worktree and run with its own `src` on PYTHONPATH,
this environment, a fresh datastore and registry: TrainFlow on a sample of diamonds with every
family stopped by a trial cap (`search.max_trials`, a budget the clock never reaches, so the
machine's speed cannot change what is trained), then ScoreFlow on `data/new_diamonds.csv`;
with `--table breast_cancer`, the bundled binary table, scored on itself (its classes, their
order and the probabilities' columns are what a classifier's change could move). The
registered champion's CV and holdout metrics, every candidate's leaderboard scores and the
predictions file's bytes must match; fit times, commits and run ids may differ. Exits 1 on a
difference, listing it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCORES = ("candidate", "cv_", "holdout_", "trials", "stopped", "parameters")  # not timings
# what TrainFlow trains on and ScoreFlow scores, per table
TABLES = {
    "diamonds": ("", "", "new_diamonds.csv"),  # the flow's defaults
    "breast_cancer": ("breast_cancer.csv", "diagnosis", "breast_cancer.csv"),
}


def run_at(
    commit: str, where: Path, rows: int, trials: int, table: str, timed_pruning: bool
) -> dict:
    """TrainFlow then ScoreFlow at `commit`; what must not change between two commits."""
    tree = where / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "-f", "--detach", str(tree), commit],
        check=True,
        capture_output=True,
    )
    try:
        config = json.loads((tree / "configs" / "train.json").read_text())
        config["search"]["max_trials"] = trials
        if not timed_pruning:  # the ensemble's speed pruning reads measured predict times
            config["ensemble"]["speed_tolerance"] = 0.0
        (where / "config.json").write_text(json.dumps(config))
        env = os.environ | {
            "PYTHONPATH": str(tree / "src"),
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(where),
            "MODELOPS_REGISTRY_DIR": str(where / "registry"),
            "MODELOPS_SIGNING_KEY_FILE": str(where / "signing.key"),
            "WANDB_DIR": str(where),
            "WANDB_MODE": "offline",
            "METAFLOW_USER": "same-outputs",
        }
        flows = tree / "flows"
        train = [sys.executable, str(flows / "train_flow.py"), "--config", "config"]
        data, target, scored = TABLES[table]
        train += [str(where / "config.json"), "run", "--sample-rows", str(rows)]
        train += ["--budget-minutes", "20"]
        if data:
            train += ["--data", str(tree / "data" / data), "--target", target]
        score = [sys.executable, str(flows / "score_flow.py"), "run"]
        score += ["--input", str(tree / "data" / scored)]
        score += ["--output", str(where / "predictions.csv")]
        started = time.perf_counter()
        for name, command in (("train", train), ("score", score)):
            done = subprocess.run(command, env=env, cwd=where, capture_output=True, text=True)
            (where / f"{name}.log").write_text(done.stdout + done.stderr)
            if done.returncode:
                sys.exit(f"{commit}: {name} failed; see {where / name}.log")
        print(f"{commit}: train and score in {time.perf_counter() - started:.0f} s")
        record = next((where / "registry").glob("*/v0000/metadata.json"))
        meta = json.loads(record.read_text())["metadata"]
        metrics = meta["metrics"]
        return {
            "champion": meta["candidate"],
            "cv": metrics["cv"],
            "holdout": metrics["holdout"],
            "leaderboard": [
                {k: v for k, v in row.items() if k.startswith(SCORES)}
                for row in meta["leaderboard"]
            ],
            "predictions sha256": hashlib.sha256(
                (where / "predictions.csv").read_bytes()
            ).hexdigest(),
        }
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
            capture_output=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the commit before the change")
    parser.add_argument("--after", default="HEAD", help="the commit after it (default HEAD)")
    parser.add_argument("--rows", type=int, default=5000, help="diamonds rows to train on")
    parser.add_argument("--trials", type=int, default=3, help="trials per family (the cap)")
    parser.add_argument("--table", choices=sorted(TABLES), default="diamonds", help="bundled table")
    parser.add_argument(
        "--no-speed-pruning",
        action="store_true",
        help="turn the ensemble's speed pruning off (ensemble.speed_tolerance 0): it ranks "
        "members by their measured CPU time to predict, so two runs of the same commit can "
        "prune a nested fold's blend differently (seen on full diamonds: the ensemble's nested "
        "CV moved while its weights, holdout and predictions did not)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="same-outputs-") as tmp:
        got = {}
        for label in ("before", "after"):
            where = Path(tmp) / label
            where.mkdir()
            commit = getattr(args, label)
            got[label] = run_at(
                commit, where, args.rows, args.trials, args.table, not args.no_speed_pruning
            )
    before, after = got["before"], got["after"]
    differ = [key for key in before if before[key] != after[key]]
    print(f"champion {after['champion']}, holdout {after['holdout']}")
    for label, got_at in got.items():
        print(f"predictions sha256 {label:6s} {got_at['predictions sha256']}")
    if differ:
        for key in differ:
            print(f"DIFFERENT {key}:\n  before {before[key]}\n  after  {after[key]}")
        sys.exit(1)
    print("the same: champion, CV and holdout metrics, every candidate's scores, predictions")


if __name__ == "__main__":
    main()
