"""Same-source drift false alarms: how often ScoreFlow's drift verdict fires on a fresh sample
of the very table the model was trained on (it never should).

For each public table (the ones `tables_benchmark.py` uses, plus the bundled diamonds) and seed,
the rows are split in half: the first half trains a quick model (HistGradientBoosting, its
permutation importance on the second half is what a registration records) and gives the drift
reference (at most 5,000 rows, as registered); batches of 200 and 1,000 rows drawn from the
second half are then checked as ScoreFlow checks them. Reported per table: the batches whose
verdict was drift, by the column count alone (before) and weighted by the model's importance
(now), and the largest number of columns flagged in one batch.

    .venv/bin/python benchmarks/drift_false_alarms.py --seeds 10
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _tables() -> dict:
    spec = importlib.util.spec_from_file_location(
        "tables_benchmark", ROOT / "benchmarks" / "tables_benchmark.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["tables_benchmark"] = module
    spec.loader.exec_module(module)
    tables = dict(module.TABLES)
    tables["diamonds"] = lambda: (pd.read_csv(ROOT / "data" / "diamonds.csv.gz"), "price")
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--sizes", default="200,1000")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)

    from modelops.cards import feature_importance
    from modelops.monitoring.drift import compute_drift
    from modelops.schema import infer_schema
    from modelops.training.candidates import make_pipeline
    from modelops.training.data import infer_task

    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        "| table | rows | columns tested | batches | drift: distance only (before) "
        "| drift: distance + BH | drift: distance + BH, weighted (now) "
        "| most columns past distance / drifted in one batch |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, load in _tables().items():
        df, target = load()
        task = infer_task(df[target])
        before = corrected = now = batches = tested = most_far = most_drifted = 0
        for seed in range(args.seeds):
            shuffled = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
            half = len(shuffled) // 2
            train, rest = shuffled.iloc[:half], shuffled.iloc[half:]
            schema = infer_schema(train, target, task)
            X, y = train.drop(columns=target), train[target]
            pipe = make_pipeline("hist_gradient_boosting", task, schema, {}, seed, 1).fit(X, y)
            importance = feature_importance(pipe, rest.drop(columns=target), rest[target], seed)
            reference = X.sample(min(5000, len(X)), random_state=seed)
            for size in sizes:
                if len(rest) < size:
                    continue
                batch = rest.drop(columns=target).sample(size, random_state=seed)
                d = compute_drift(reference, batch, schema, importance=importance.to_dict())
                far = sum(v["beyond_threshold"] for v in d.columns.values())
                batches += 1
                before += far / d.n_columns >= d.drift_share
                corrected += d.share >= d.drift_share
                now += d.drifted
                most_far, most_drifted = max(most_far, far), max(most_drifted, d.n_drifted)
                tested = d.n_columns
        print(
            f"| {name} | {len(df)} | {tested} | {batches} | {before} | {corrected} | {now} "
            f"| {most_far} / {most_drifted} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
