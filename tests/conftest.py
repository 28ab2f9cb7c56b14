"""Shared fixtures: tiny in-code frames with numbers, categories and missing values."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest


def make_frame(n: int = 240, task: str = "regression", seed: int = 0) -> pd.DataFrame:
    """A small frame whose target really depends on the features, so models can learn it."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "num_a": rng.normal(size=n),
            "num_b": rng.uniform(0, 10, size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
        }
    )
    signal = (
        3 * df["num_a"] + 0.5 * df["num_b"] + df["colour"].map({"red": 2, "green": 0, "blue": -2})
    )
    if task == "regression":
        df["y"] = signal + rng.normal(scale=0.3, size=n)
    elif task == "binary":
        df["y"] = np.where(signal > signal.median(), "yes", "no")
    else:
        df["y"] = pd.qcut(signal, 3, labels=["low", "mid", "high"]).astype(str)
    df.loc[df.index[::17], "num_b"] = np.nan
    df.loc[df.index[::23], "colour"] = np.nan
    return df


@pytest.fixture
def frame():
    return make_frame


ROOT = Path(__file__).resolve().parents[1]


def load_example(name: str) -> ModuleType:
    """A module of `examples/` (scripts outside the library, not an installed package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def linear_version(
    df: pd.DataFrame,
    folder: Path,
    task: str = "regression",
    run: str = "TrainFlow/1",
    family: str = "linear",
):
    """Fit a linear pipeline (or `family`'s, on one thread as a search task fits it) on `df`
    (target `y`) and write its files into `folder`.
    Returns (files, metadata, schema, fitted pipeline), ready for `Registry.register`."""
    from modelops.registry.packaging import model_metadata, write_model_files
    from modelops.schema import infer_schema
    from modelops.training.candidates import make_pipeline

    X, y = df.drop(columns="y"), df["y"]
    schema = infer_schema(df, "y", task)
    pipe = make_pipeline(family, task, schema, {}, 0, n_jobs=1).fit(X, y)
    files = write_model_files(pipe, X.head(50), folder)
    meta = model_metadata(
        schema=schema,
        metric="rmse" if task == "regression" else "log_loss",
        candidate=family,
        params={},
        metrics={},
        data_digest="digest",
        data_source="f.csv",
        run_pathspec=run,
    )
    return files, meta, schema, pipe


def register_linear(tmp_path: Path, df: pd.DataFrame, task: str = "regression"):
    """Fit a linear pipeline on `df` (target `y`) and register it as `m` v0, `production`, in a
    local registry under `tmp_path`. Returns (registry, schema, fitted pipeline)."""
    from modelops.registry import PRODUCTION, LocalRegistry
    from modelops.registry.packaging import signed

    files, meta, schema, pipe = linear_version(df, tmp_path / "files", task)
    reg = LocalRegistry(tmp_path / "reg")
    reg.register("m", files, signed("m", files, meta), aliases=(PRODUCTION,))
    return reg, schema, pipe
