"""Data for the retraining demo: an old period the first model learns, a recent one that drifted.

The old period holds only small stones (carat < 1); the recent period is a random half of all
diamonds, split into rows whose price is known (the retraining data) and rows to score. A model
trained on the old period sees drift in the recent rows, and loses to a model retrained on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class DemoData:
    """The three files of the demo (CSV, written into one working folder)."""

    old: Path
    recent_labelled: Path
    recent: Path


def make_periods(
    frame: pd.DataFrame, workdir: Path, rows: int = 0, seed: int = 0, target: str = "price"
) -> DemoData:
    """Write the old period, the labelled recent rows and the recent rows to score (no target).

    `rows` bounds each file (0 = everything) so a test runs the whole loop on small data.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    half = len(shuffled) // 2
    old = shuffled.iloc[:half]
    old = old[old["carat"] < 1.0]
    recent = shuffled.iloc[half:]
    labelled, unlabelled = recent.iloc[: len(recent) // 2], recent.iloc[len(recent) // 2 :]
    if rows > 0:
        old, labelled, unlabelled = old.head(rows), labelled.head(rows), unlabelled.head(rows)
    data = DemoData(workdir / "old.csv", workdir / "recent_labelled.csv", workdir / "recent.csv")
    old.to_csv(data.old, index=False)
    labelled.to_csv(data.recent_labelled, index=False)
    unlabelled.drop(columns=[target]).to_csv(data.recent, index=False)
    return data
