"""Fit AutoGluon on a training CSV and predict a holdout CSV; run in the peer's own virtualenv.

    python autogluon_fit.py TRAIN TEST TARGET PROBLEM METRIC PRESET TIME_LIMIT OUT

Prints one JSON line: the preset, fit and predict seconds, and the best model. Writes OUT: the
holdout predictions (regression) or class probabilities (one column per class), row for row,
which the benchmark scores with TrainFlow's own metric code.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time

import pandas as pd
from autogluon.tabular import TabularPredictor

# TrainFlow's metric names -> AutoGluon's
METRICS = {"rmse": "root_mean_squared_error", "roc_auc": "roc_auc", "log_loss": "log_loss"}


def main() -> None:
    train, test, target, problem, metric, preset, limit, out = sys.argv[1:9]
    tr, te = pd.read_csv(train), pd.read_csv(test)
    with tempfile.TemporaryDirectory() as path:
        t0 = time.perf_counter()
        predictor = TabularPredictor(
            label=target, problem_type=problem, eval_metric=METRICS[metric], path=path, verbosity=0
        ).fit(tr, presets=preset, time_limit=float(limit))
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        x = te.drop(columns=[target])
        pred = predictor.predict(x) if problem == "regression" else predictor.predict_proba(x)
        predict_s = time.perf_counter() - t0
        pd.DataFrame(pred).to_csv(out, index=False)
        best = predictor.model_best
    print(json.dumps({"preset": preset, "fit_s": fit_s, "predict_s": predict_s, "best": best}))


if __name__ == "__main__":
    main()
