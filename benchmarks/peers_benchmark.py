"""The default TrainFlow against AutoGluon on public tables: score and wall, side by side.

    .venv/bin/python benchmarks/peers_benchmark.py                       # 7 tables x 2 seeds
    .venv/bin/python benchmarks/peers_benchmark.py --tables wine --seeds 42 --no-best

Each table (the loaders of `tables_benchmark.py`: files that installed packages ship) is written
to a CSV and trained as a user would: `python flows/train_flow.py run --data T.csv --target Y
--seed S`, the default budget, a fresh datastore and registry. The wall is the command's. The
flow's split is recomputed in this process (`prepare_training` with the same arguments is
deterministic) and AutoGluon gets exactly those training rows; both models' holdout predictions
are scored here with TrainFlow's metric code, and the gap is given with the promotion gate's
paired bootstrap (90% interval: "better" or "worse" only when it excludes 0).

AutoGluon runs in its own virtualenv (`benchmarks/.venv-autogluon`, created on first use from
`benchmarks/peers/requirements-autogluon.txt` with this machine's pip configuration), never in
Pipfile.lock: `medium_quality` with no time limit (what a user gets by default, typically a few
seconds on these tables) and `best_quality` with the flow's own wall as its time limit. CatBoost
with its defaults, fitted here on the same rows, is the other bar issue #33 sets.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
PEER_VENV = ROOT / "benchmarks" / ".venv-autogluon"
REQUIREMENTS = ROOT / "benchmarks" / "peers" / "requirements-autogluon.txt"
FAMILIES = "linear,random_forest,extra_trees,hist_gradient_boosting,catboost,lightgbm,xgboost"


def peer_python() -> Path:
    """The peer's interpreter, its virtualenv made (once) from the pinned requirements."""
    python = PEER_VENV / "bin" / "python"
    stamp = PEER_VENV / "requirements.txt"
    if python.exists() and stamp.exists() and stamp.read_text() == REQUIREMENTS.read_text():
        return python
    print(f"creating {PEER_VENV} from {REQUIREMENTS.name} (a few minutes, once)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_VENV)], check=True)
    # pip reads this machine's own configuration (index, constraints): nothing is hard-coded
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(REQUIREMENTS.read_text())
    return python


@dataclass
class Result:
    table: str
    seed: int
    rows: int
    metric: str
    ours: float
    ours_wall: float
    champion: str
    peers: dict[str, tuple[float, float, str]]  # preset -> (score, wall, verdict vs ours)


def run_flow(
    csv: Path, target: str, seed: int, work: Path, config: str | None = None
) -> tuple[float, Path, str]:
    """The default command on `csv` (with `config` instead of configs/train.json if given):
    its wall, its registry and its log."""
    from train_benchmark import flow_env

    env = flow_env(work)
    cmd = [
        sys.executable, str(ROOT / "flows" / "train_flow.py"),
        *(["--config", "config", config] if config else []), "run",
        "--data", str(csv), "--target", target, "--seed", str(seed),
    ]  # fmt: skip
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    log = out.stdout + out.stderr
    (work / "flow.log").write_text(log)
    if out.returncode != 0:
        sys.exit(f"TrainFlow failed on {csv.name}; log in {work / 'flow.log'}")
    return wall, work / "registry", log


def main() -> None:
    from tables_benchmark import TABLES
    from train_benchmark import step_seconds

    from modelops.registry import LocalRegistry
    from modelops.registry.packaging import load_model
    from modelops.training.config import load_config
    from modelops.training.predictions import metrics_of, predict_aligned
    from modelops.training.steps import prepare_training

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", default=",".join(TABLES), help="comma-separated table names")
    ap.add_argument("--seeds", default="42,7", help="comma-separated seeds")
    ap.add_argument("--no-best", action="store_true", help="skip AutoGluon best_quality")
    ap.add_argument("--config", help="a TrainFlow config to try instead of configs/train.json")
    args = ap.parse_args()
    python = peer_python()
    results: list[Result] = []
    for name in args.tables.split(","):
        df, target = TABLES[name]()
        for seed in (int(s) for s in args.seeds.split(",")):
            work = Path(tempfile.mkdtemp(prefix=f"peers-{name}-{seed}-"))
            csv = work / f"{name}.csv"
            df.to_csv(csv, index=False)
            wall, registry_dir, log = run_flow(csv, target, seed, work, args.config)
            os.environ["MODELOPS_SIGNING_KEY_FILE"] = str(work / "signing.key")
            registry = LocalRegistry(registry_dir)
            (model_name,) = registry.models()
            model = load_model(registry, model_name, "latest")
            meta = model.version.metadata
            prep = prepare_training(
                data=str(csv), target=target, task="auto", candidates=FAMILIES, metric="auto",
                test_size=0.2, cv_folds=3, budget_minutes="auto", seed=seed, sample=0,
                model_name=model_name, config=load_config(args.config),
            )  # fmt: skip
            X_tr, X_te = prep.split.X_train, prep.split.X_test
            y_te = prep.split.y_test
            ours_pred = predict_aligned(model.pipeline, X_te, prep.problem)
            ours = metrics_of(prep.problem, y_te, ours_pred)[prep.metric]
            recorded = meta["metrics"]["holdout"][prep.metric]
            if not np.isclose(ours, recorded, rtol=1e-4):  # the split is the flow's, or stop
                sys.exit(f"{name}: holdout {ours} here, {recorded} in the flow: not its split")
            X_tr.assign(**{target: prep.split.y_train}).to_csv(work / "train.csv", index=False)
            X_te.assign(**{target: y_te}).to_csv(work / "test.csv", index=False)
            steps = {k: max(v) for k, v in step_seconds(log).items()}
            print(
                f"{name} seed {seed}: TrainFlow {wall:.1f} s, {meta['candidate']}, "
                f"{prep.metric} {ours:.4f}; steps "
                + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()),
                flush=True,
            )
            peers: dict[str, tuple[float, float, str]] = {}
            presets = [("medium_quality", 3600.0)] + (
                [] if args.no_best else [("best_quality", wall)]
            )
            for preset, limit in presets:
                out = work / f"ag-{preset}.csv"
                t0 = time.perf_counter()
                done = subprocess.run(
                    [str(python), str(ROOT / "benchmarks" / "peers" / "autogluon_fit.py"),
                     str(work / "train.csv"), str(work / "test.csv"), target, prep.task,
                     prep.metric, preset, str(limit), str(out)],
                    capture_output=True, text=True,
                )  # fmt: skip
                ag_wall = time.perf_counter() - t0
                if done.returncode != 0:
                    print(f"  AutoGluon {preset} failed: {done.stderr[-2000:]}")
                    continue
                pred = pd.read_csv(out)
                if prep.task == "regression":
                    ag_pred = pred.iloc[:, 0].to_numpy(dtype=float)
                else:  # AutoGluon's columns are its class labels, as text after the CSV
                    ag_pred = pred[[_column(pred, c) for c in prep.classes]].to_numpy(dtype=float)
                score, verdict, gap = against(prep, y_te, ours_pred, ag_pred, seed)
                info = json.loads(done.stdout.strip().splitlines()[-1])
                peers[preset] = (score, ag_wall, verdict)
                print(
                    f"  AutoGluon {preset}: {ag_wall:.1f} s (fit {info['fit_s']:.1f} s, "
                    f"{info['best']}), {prep.metric} {score:.4f}; TrainFlow is {verdict} "
                    f"[{gap.low:+.4f}, {gap.high:+.4f}]",
                    flush=True,
                )
            # the other bar: CatBoost with its defaults on the same rows
            cb_pred, cb_wall = untuned_catboost(prep, seed)
            score, verdict, gap = against(prep, y_te, ours_pred, cb_pred, seed)
            peers["catboost"] = (score, cb_wall, verdict)
            print(
                f"  CatBoost untuned: {cb_wall:.1f} s, {prep.metric} {score:.4f}; TrainFlow is "
                f"{verdict} [{gap.low:+.4f}, {gap.high:+.4f}]",
                flush=True,
            )
            results.append(
                Result(name, seed, len(df), prep.metric, ours, wall, meta["candidate"], peers)
            )
    print()
    print(report(results))


def against(
    prep: object, y_te: object, ours: np.ndarray, pred: np.ndarray, seed: int
) -> tuple[float, str, object]:
    """A peer's holdout score, and ours against it (the promotion gate's paired bootstrap)."""
    from modelops.training import promotion
    from modelops.training.predictions import metrics_of

    score = metrics_of(prep.problem, y_te, pred)[prep.metric]
    gap = promotion.paired_bootstrap(
        prep.problem, y_te, ours, pred,
        resamples=2000, confidence=0.9, seed=seed,
    )  # fmt: skip
    verdict = "better" if gap.low > 0 else "worse" if gap.high < 0 else "level"
    return score, verdict, gap


def untuned_catboost(prep: object, seed: int) -> tuple[np.ndarray, float]:
    """CatBoost with its defaults (every core, text columns as categories) fitted on the
    flow's training rows: its holdout predictions (probabilities in `prep.classes` order)
    and its wall."""
    from catboost import CatBoostClassifier, CatBoostRegressor

    X_tr, X_te = prep.split.X_train.copy(), prep.split.X_test.copy()
    cats = [c for c in X_tr.columns if not pd.api.types.is_numeric_dtype(X_tr[c])]
    for X in (X_tr, X_te):
        X[cats] = X[cats].astype(str)
    cls = CatBoostRegressor if prep.task == "regression" else CatBoostClassifier
    model = cls(random_seed=seed, verbose=0, cat_features=cats, allow_writing_files=False)
    t0 = time.perf_counter()
    model.fit(X_tr, prep.split.y_train)
    if prep.task == "regression":
        pred = model.predict(X_te)
    else:
        order = [list(map(str, model.classes_)).index(str(c)) for c in prep.classes]
        pred = model.predict_proba(X_te)[:, order]
    return np.asarray(pred, dtype=float), time.perf_counter() - t0


def _column(pred: pd.DataFrame, label: object) -> str:
    """AutoGluon's probability column for a class: by text, else by number (0.0 as '0')."""
    cols = {str(c): c for c in pred.columns}
    if str(label) in cols:
        return cols[str(label)]
    by_number = {float(c): c for c in pred.columns if c.replace(".", "", 1).isdigit()}
    return by_number[float(label)]


def report(results: list[Result]) -> str:
    """One markdown row per table and seed; the ratio is our wall over AutoGluon medium's."""
    lines = [
        "| table | rows | seed | metric | TrainFlow | wall | AG medium | wall | ratio | vs medium "
        "| AG best (same wall) | vs best | CatBoost untuned | vs CatBoost |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---|---:|---|",
    ]
    for r in results:
        med = r.peers.get("medium_quality")
        best = r.peers.get("best_quality")
        cb = r.peers.get("catboost")
        lines.append(
            f"| {r.table} | {r.rows} | {r.seed} | {r.metric} | {r.ours:.4f} | {r.ours_wall:.0f} s "
            + (
                f"| {med[0]:.4f} | {med[1]:.0f} s | {r.ours_wall / med[1]:.1f} | {med[2]} "
                if med
                else "| | | | "
            )
            + (f"| {best[0]:.4f} | {best[2]} " if best else "| | ")
            + (f"| {cb[0]:.4f} | {cb[2]} |" if cb else "| | |")
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
