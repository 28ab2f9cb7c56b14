"""Scoring throughput and peak memory: ScoreFlow, the library's score_file, and a naive baseline.

    .venv/bin/python benchmarks/score_benchmark.py                  # 1M and 4M rows
    .venv/bin/python benchmarks/score_benchmark.py --rows 200000    # quick look

Generates diamonds-like files (rows of the bundled data resampled, with an id column) under
a temporary folder, trains one CatBoost pipeline on the bundled data and registers it in a
temporary local registry, then measures, each in a fresh process so peak RSS is its own:

- naive: `pd.read_csv` of the whole file + `pipeline.predict` + `DataFrame.to_csv`
- library: `modelops.scoring.score_file` (block-wise read, rejects, accounting, atomic write)
- flow: `python flows/score_flow.py run` end to end (all tasks; includes the drift step)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_file(rows: int, path: Path) -> None:
    import numpy as np
    import pandas as pd

    df = pd.read_csv(ROOT / "data" / "diamonds.csv.gz").drop(columns="price")
    rng = np.random.default_rng(0)
    with open(path, "w") as f:
        for start in range(0, rows, 500_000):
            n = min(500_000, rows - start)
            part = df.iloc[rng.integers(0, len(df), n)].reset_index(drop=True)
            part.insert(0, "id", np.arange(start, start + n))
            part.to_csv(f, index=False, header=start == 0)


def train(registry: Path) -> None:
    import pandas as pd

    from modelops.registry import PRODUCTION, LocalRegistry
    from modelops.registry.packaging import model_metadata, write_model_files
    from modelops.schema import infer_schema
    from modelops.training.candidates import make_pipeline

    df = pd.read_csv(ROOT / "data" / "diamonds.csv.gz")
    schema = infer_schema(df, "price", "regression")
    pipe = make_pipeline("catboost", "regression", schema, {"iterations": 1000}, 0)
    pipe.fit(df.drop(columns="price"), df["price"])
    files = write_model_files(
        pipe, df.drop(columns="price").sample(5000, random_state=0), registry.parent / "m"
    )
    meta = model_metadata(
        schema=schema,
        metric="rmse",
        candidate="catboost",
        params={},
        metrics={},
        data_digest="-",
        data_source="diamonds",
        run_pathspec="bench",
    )
    LocalRegistry(registry).register("bench", files, meta, aliases=(PRODUCTION,))


def measure(kind: str, src: str, out: str, registry: str) -> dict:
    """Run one measurement in this (fresh) process; report seconds and peak RSS."""
    os.environ["MODELOPS_REGISTRY_DIR"] = registry
    from modelops.registry import LocalRegistry
    from modelops.registry.packaging import load_model

    model = load_model(LocalRegistry(registry), "bench", "production")
    t0 = time.perf_counter()
    if kind == "naive":
        import pandas as pd

        df = pd.read_csv(src)
        df["prediction"] = model.pipeline.predict(df)
        df.to_csv(out, index=False)
    elif kind == "library":
        from modelops.scoring.batch import score_file

        score_file(model, src, out, overwrite=True, sample_rows=0)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_flow(src: str, out: str, registry: str, state: str) -> dict:
    env = os.environ | {
        "MODELOPS_REGISTRY_DIR": registry,
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": state,
        "WANDB_MODE": "offline",
        "WANDB_DIR": state,
        "METAFLOW_USER": os.environ.get("METAFLOW_USER", "bench"),
    }
    cmd = [sys.executable, str(ROOT / "flows" / "score_flow.py"), "run", "--input", src,
           "--output", out, "--model-name", "bench", "--overwrite", "True"]  # fmt: skip
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if p.returncode:
        sys.exit(p.stdout[-3000:] + p.stderr[-3000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "peak_rss_mb": peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 4_000_000])
    ap.add_argument("--measure", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--flow", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    if args.flow:
        print(json.dumps(run_flow(*args.flow)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-score-"))
    registry = tmp / "registry"
    train(registry)
    print("| rows | method | seconds | rows/s | peak RSS MB |\n|---|---|---|---|---|")
    for rows in args.rows:
        src = tmp / f"in_{rows}.csv"
        make_file(rows, src)
        results = {}
        for kind in ("naive", "library", "flow"):
            out = str(tmp / f"out_{rows}_{kind}.csv")
            flag = "--flow" if kind == "flow" else "--measure"
            extra = (
                [str(src), out, str(registry), str(tmp / "state")]
                if kind == "flow"
                else [kind, str(src), out, str(registry)]
            )
            p = subprocess.run(
                [sys.executable, __file__, flag, *extra], capture_output=True, text=True, check=True
            )
            r = json.loads(p.stdout.strip().splitlines()[-1])
            results[kind] = r
            rate = rows / r["seconds"]
            row = (
                f"| {rows:,} | {kind} | {r['seconds']:.1f} | {rate:,.0f} | {r['peak_rss_mb']:.0f} |"
            )
            print(row, flush=True)
        n, lib, fl = results["naive"], results["library"], results["flow"]
        print(f"ratios at {rows:,}: library/naive throughput {n['seconds'] / lib['seconds']:.2f}x, "
              f"memory {lib['peak_rss_mb'] / n['peak_rss_mb']:.2f}x; flow/naive throughput "
              f"{n['seconds'] / fl['seconds']:.2f}x", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
