"""TrainFlow's search against untuned CatBoost and LightGBM on public tables, in one run.

    .venv/bin/python benchmarks/tables_benchmark.py                  # 7 tables x 2 seeds
    .venv/bin/python benchmarks/tables_benchmark.py --tables wine --seeds 1 --budget 0.2
    .venv/bin/python benchmarks/tables_benchmark.py --cache /tmp/searches  # again: reselects only

Tables come from files that installed packages ship (nothing is downloaded): the bundled breast
cancer data, scikit-learn's diabetes and wine, statsmodels' Fair affairs survey and 1996
election survey (a 0/1 target), Vega's cars (categoricals and missing values) and Vega's
Seattle weather (a date column, five unbalanced classes). Each table is written to a CSV and
trained from it as a user would: the same `prepare_training` -> `search_step` per family ->
`select` (with the ensemble) as TrainFlow, in one process, families one after another on one
core each. The baselines are CatBoost and LightGBM with their library defaults, given the
same columns (dates as the same parts, ID-like columns dropped), fitted on the same training
rows and scored on the same holdout rows.

Noise: a paired bootstrap of the champion's gap to the better baseline on the holdout rows
(the promotion gate's own `paired_bootstrap`), and the spread of that gap between seeds (each
seed draws a new split, new folds and a new search).

`--outer-folds K` replaces the one random holdout by each fold of a K-fold partition in turn
(stratified for classifiers, drawn from the seed): K runs per table and seed, and every row is
held out exactly once. The scores are then also pooled over all rows. On a small table a
random 20% holdout is decided by where a few hard rows fall: on wine, four of 178 rows carry
56% of untuned CatBoost's out-of-fold log loss and 71% of LightGBM's.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _breast_cancer() -> tuple[pd.DataFrame, str]:
    return pd.read_csv(ROOT / "data" / "breast_cancer.csv"), "diagnosis"


def _diabetes() -> tuple[pd.DataFrame, str]:
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True, scaled=False).frame, "target"


def _wine() -> tuple[pd.DataFrame, str]:
    from sklearn.datasets import load_wine

    df = load_wine(as_frame=True).frame
    return df.assign(target=df["target"].map({0: "class_0", 1: "class_1", 2: "class_2"})), "target"


def _fair() -> tuple[pd.DataFrame, str]:
    from statsmodels.datasets import fair

    df = fair.load_pandas().data
    # the survey's yes/no question (any time in affairs), not the zero-inflated hours
    return df.assign(had_affair=(df.pop("affairs") > 0).map({True: "yes", False: "no"})), (
        "had_affair"
    )


def _cars() -> tuple[pd.DataFrame, str]:
    from vega_datasets import data

    df = data.cars().drop(columns=["Name", "Year"]).dropna(subset=["Miles_per_Gallon"])
    return df, "Miles_per_Gallon"


def _seattle_weather() -> tuple[pd.DataFrame, str]:
    from vega_datasets import data

    # daily weather, 5 unbalanced classes (snow: 23 of 1,461 days), a date column
    return data("seattle-weather"), "weather"


def _anes96() -> tuple[pd.DataFrame, str]:
    from statsmodels.datasets import anes96

    # the 1996 US election survey: voted Dole (1) or Clinton (0), a target of numbers
    return anes96.load_pandas().data, "vote"


TABLES: dict[str, Callable[[], tuple[pd.DataFrame, str]]] = {
    "breast_cancer": _breast_cancer,
    "diabetes": _diabetes,
    "wine": _wine,
    "fair": _fair,
    "cars": _cars,
    "seattle_weather": _seattle_weather,
    "anes96": _anes96,
}


@dataclass
class Row:
    table: str
    seed: int
    task: str
    metric: str
    rows: int
    champion: str
    ours: float
    catboost: float
    lightgbm: float
    gap: float  # ours vs the better baseline, in the metric's units (positive: ours better)
    gap_low: float  # its paired-bootstrap interval on the holdout rows
    gap_high: float
    seconds: float
    fold: int = -1  # the outer fold held out (--outer-folds), -1: a random holdout
    preds: dict[str, Any] | None = field(default=None, repr=False)  # y and each model's


def _baselines(prep, seed: int) -> dict[str, object]:
    """CatBoost and LightGBM as a user would call them: library defaults, categoricals native."""
    import numpy as np
    from catboost import CatBoostClassifier, CatBoostRegressor
    from lightgbm import LGBMClassifier, LGBMRegressor

    from modelops.features import coercer
    from modelops.training.predictions import predict_aligned

    s = prep.split
    cats = list(prep.schema.categorical)
    # the same columns as ours: dates as their parts, ID-like columns dropped; text as read
    coerce = coercer(prep.schema).fit(s.X_train)

    def features(X: pd.DataFrame) -> pd.DataFrame:
        return coerce.transform(X).assign(**{c: X[c] for c in cats})

    def as_category(X: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        for c in cats:
            X[c] = pd.Categorical(X[c], categories=sorted(s.X_train[c].dropna().unique()))
        return X

    def filled(X: pd.DataFrame) -> pd.DataFrame:
        return X.assign(**{c: X[c].fillna("missing").astype(str) for c in cats})

    regression = prep.task == "regression"
    cb = (CatBoostRegressor if regression else CatBoostClassifier)(
        random_seed=seed, verbose=False, thread_count=1, cat_features=cats or None
    )
    X_train, X_test = features(s.X_train), features(s.X_test)
    cb.fit(filled(X_train), s.y_train)
    lgb = (LGBMRegressor if regression else LGBMClassifier)(random_state=seed, n_jobs=1, verbose=-1)
    lgb.fit(as_category(X_train), s.y_train)
    return {
        "catboost": np.asarray(predict_aligned(cb, filled(X_test), prep.problem)),
        "lightgbm": np.asarray(predict_aligned(lgb, as_category(X_test), prep.problem)),
    }


def _hold_out_fold(outer: tuple[int, int]) -> None:
    """Make TrainFlow's split hold out fold `i` of a `k`-fold partition (drawn from the seed),
    in this worker process, instead of a random `test_size` of the rows."""
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold

    from modelops.training import steps
    from modelops.training.data import Split

    k, i = outer

    def split(df: pd.DataFrame, target: str, task: str, test_size: float, seed: int) -> Split:
        splitter = (KFold if task == "regression" else StratifiedKFold)(
            k, shuffle=True, random_state=seed
        )
        train, test = list(splitter.split(np.zeros(len(df)), df[target]))[i]
        X, y = df.drop(columns=[target]), df[target]
        return Split(X.iloc[train], y.iloc[train], X.iloc[test], y.iloc[test])

    steps.split = split


def _search(
    table: str, seed: int, budget: float, folds: int, outer: tuple[int, int] | None = None
) -> tuple[object, dict, float]:
    """Prepare `table` from a CSV and search every family, as TrainFlow does."""
    from modelops.training.candidates import FAMILIES
    from modelops.training.config import load_config
    from modelops.training.steps import prepare_training, search_step

    if outer is not None:
        _hold_out_fold(outer)
    df, target = TABLES[table]()
    with tempfile.TemporaryDirectory(prefix="bench-tables-") as tmp:
        path = Path(tmp) / f"{table}.csv"
        df.to_csv(path, index=False)
        t0 = time.perf_counter()
        config = load_config()
        prep = prepare_training(
            data=str(path),
            target=target,
            task="auto",
            candidates=",".join(FAMILIES),  # every family, as the flow's default
            metric="auto",
            test_size=0.2,
            cv_folds=folds,
            budget_minutes=budget,
            seed=seed,
            sample=0,
            model_name="",
            config=config,
        )
        results = {
            name: search_step(name=name, prep=prep, config=config, seed=seed)
            for name in prep.candidates
        }
    return prep, results, time.perf_counter() - t0


def run_one(
    table: str,
    seed: int,
    budget: float,
    cache: str = "",
    folds: int = 3,
    outer: tuple[int, int] | None = None,
) -> Row:
    """Train `table` from a CSV as TrainFlow does, then fit and score both baselines.

    With `cache`, the searches are kept there (one pickle per table and seed) and read back on
    the next run with the same folder, so a change to selection alone is measured on the very
    same searches (the selection step and the baselines run again).
    """
    import pickle

    from modelops.metrics import greater_is_better
    from modelops.storage import atomic_output
    from modelops.training.config import load_config
    from modelops.training.predictions import metrics_of, predict_aligned
    from modelops.training.promotion import paired_bootstrap
    from modelops.training.steps import select

    name = f"{table}-{seed}-{budget}" + (f"-{folds}fold" if folds != 3 else "")
    name += f"-outer{outer[0]}.{outer[1]}" if outer else ""
    stored = Path(cache) / f"{name}.pkl" if cache else None
    if stored is not None and stored.exists():
        prep, results, search_seconds = pickle.loads(stored.read_bytes())
    else:
        prep, results, search_seconds = _search(table, seed, budget, folds, outer)
        if stored is not None:  # whole or not at all: a run stopped midway leaves no pickle
            with atomic_output(stored) as part:
                part.write_bytes(pickle.dumps((prep, results, search_seconds)))
    t0 = time.perf_counter()
    sel = select(
        scores=[r.score() for r in results.values()],
        load=results.__getitem__,
        prep=prep,
        config=load_config(),
        seed=seed,
    )
    seconds = search_seconds + time.perf_counter() - t0
    s, metric = prep.split, prep.metric
    ours = predict_aligned(sel.best.pipeline, s.X_test, prep.problem)
    base = _baselines(prep, seed)
    scores = {k: metrics_of(prep.problem, s.y_test, p)[metric] for k, p in base.items()}
    better = max if greater_is_better(prep.task, metric) else min
    rival = better(scores, key=scores.__getitem__)
    gap = paired_bootstrap(
        prep.problem,
        s.y_test,
        ours,
        base[rival],
        resamples=1000,
        confidence=0.9,
        seed=seed,
    )
    return Row(
        table=table,
        seed=seed,
        task=prep.task,
        metric=metric,
        rows=prep.n_rows,
        champion=sel.best.label,
        ours=metrics_of(prep.problem, s.y_test, ours)[metric],
        catboost=scores["catboost"],
        lightgbm=scores["lightgbm"],
        gap=gap.mean,
        gap_low=gap.low,
        gap_high=gap.high,
        seconds=seconds,
        fold=outer[1] if outer else -1,
        preds={"y": s.y_test, "classes": prep.classes, "ours": ours, **base},
    )


BASELINES = ("catboost", "lightgbm")


def pooled(rows: list[Row]) -> list[Row]:
    """One row per table and seed from its outer folds: every row of the table held out once,
    each model scored on all of them, and the gap's paired bootstrap over all of them."""
    import numpy as np

    from modelops.problem import Problem
    from modelops.training.predictions import metrics_of
    from modelops.training.promotion import paired_bootstrap

    out = []
    for key in dict.fromkeys((r.table, r.seed) for r in rows):
        part = [r for r in rows if (r.table, r.seed) == key]
        first = part[0]
        classes = first.preds["classes"]
        y = pd.concat([r.preds["y"] for r in part])
        pred = {m: np.concatenate([r.preds[m] for r in part]) for m in ("ours", *BASELINES)}
        problem = Problem(first.task, first.metric, tuple(classes))
        score = {m: metrics_of(problem, y, p)[first.metric] for m, p in pred.items()}
        better = max if problem.higher else min
        rival = better(BASELINES, key=score.__getitem__)
        gap = paired_bootstrap(
            problem,
            y,
            pred["ours"],
            pred[rival],
            resamples=1000,
            confidence=0.9,
            seed=first.seed,
        )
        champions = sorted({r.champion for r in part})
        out.append(
            Row(
                table=first.table,
                seed=first.seed,
                task=first.task,
                metric=first.metric,
                rows=first.rows,
                champion="/".join(champions),
                ours=score["ours"],
                catboost=score["catboost"],
                lightgbm=score["lightgbm"],
                gap=gap.mean,
                gap_low=gap.low,
                gap_high=gap.high,
                seconds=sum(r.seconds for r in part),
            )
        )
    return out


def report(rows: list[Row]) -> str:
    """Markdown table and a summary: how often the champion beats the better baseline, and its
    gap in units of the bootstrap interval's half-width (scale-free across metrics)."""
    lines = [
        "| table | seed | rows | metric | champion | ours | CatBoost | LightGBM "
        "| gap to the better | 90% interval | search s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        seed = f"{r.seed}" + (f" fold {r.fold}" if r.fold >= 0 else "")
        lines.append(
            f"| {r.table} | {seed} | {r.rows} | {r.metric} | {r.champion} | {r.ours:.4g} "
            f"| {r.catboost:.4g} | {r.lightgbm:.4g} | {r.gap:+.3g} "
            f"| [{r.gap_low:+.3g}, {r.gap_high:+.3g}] | {r.seconds:.0f} |"
        )
    z = [r.gap / max((r.gap_high - r.gap_low) / 2, 1e-12) for r in rows]
    lines.append("")
    lines.append(
        f"Better than the better baseline in {sum(r.gap > 0 for r in rows)} of {len(rows)} runs; "
        f"worse beyond the interval in {sum(r.gap_high < 0 for r in rows)}; mean gap "
        f"{sum(z) / len(z):+.2f} half-widths (positive: better)."
    )
    lines += ["", *by_table(rows)]
    return "\n".join(lines)


def by_table(rows: list[Row]) -> list[str]:
    """Per table with two or more runs: the mean gap and its run-to-run spread (each run is a
    new holdout, new folds and a new search, so this is the noise a user's one run carries)."""
    import statistics

    out = []
    for table in dict.fromkeys(r.table for r in rows):
        gaps = [r.gap for r in rows if r.table == table]
        if len(gaps) < 2:
            continue
        out.append(
            f"- {table}: mean gap {statistics.mean(gaps):+.3g} over {len(gaps)} runs, "
            f"run-to-run standard deviation {statistics.stdev(gaps):.3g}, "
            f"better in {sum(g > 0 for g in gaps)}"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--tables", default=",".join(TABLES), help="comma-separated, of: " + ", ".join(TABLES)
    )
    ap.add_argument("--seeds", default="42,7", help="comma-separated seeds (split, folds, search)")
    ap.add_argument(
        "--budget", type=float, default=0.5, help="--budget-minutes (each family gets its share)"
    )
    ap.add_argument(
        "--jobs", type=int, default=2, help="table/seed runs side by side (1 core each)"
    )
    ap.add_argument("--cv-folds", type=int, default=3, help="TrainFlow's --cv-folds")
    ap.add_argument(
        "--outer-folds",
        type=int,
        default=0,
        help="hold out each fold of a K-fold partition in turn (K runs per table and seed, "
        "every row held out once, scores also pooled over all rows); 0: one random 20%% holdout",
    )
    ap.add_argument(
        "--cache",
        default="",
        help="keep each search in this folder and reuse it (to compare selection rules alone)",
    )
    args = ap.parse_args()
    k = args.outer_folds
    outer = [(k, i) for i in range(k)] if k else [None]
    work = [
        (t, int(s), o) for t in args.tables.split(",") for s in args.seeds.split(",") for o in outer
    ]
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [
            pool.submit(run_one, t, s, args.budget, args.cache, args.cv_folds, o)
            for t, s, o in work
        ]
        rows = []
        for f in futures:
            try:
                rows.append(f.result())
            except BaseException:
                pool.shutdown(cancel_futures=True)  # fail now, not after every queued run
                raise
            r = rows[-1]
            print(
                f"{r.table} seed {r.seed}"
                + (f" fold {r.fold}" if r.fold >= 0 else "")
                + f": {r.champion} {r.ours:.4g} vs CatBoost {r.catboost:.4g}, "
                f"LightGBM {r.lightgbm:.4g} ({r.seconds:.0f} s)",
                flush=True,
            )
    print()
    print(report(rows))
    if k:
        print(f"\nPooled over the {k} outer folds (every row held out once):\n")
        print(report(pooled(rows)))


if __name__ == "__main__":
    main()
