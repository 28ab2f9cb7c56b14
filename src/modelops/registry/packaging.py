"""A model is its fitted pipeline plus its contract; this module writes and reads both.

The pipeline is stored with joblib; the contract (schema, task, metrics, data digest, code
version, Metaflow run, library versions) goes into the registry metadata, and a sample of the
training rows is stored beside the model as the drift reference.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline

from modelops import paths
from modelops.errors import ConfigError, RegistryError
from modelops.estimators import Ensemble, predict_threads
from modelops.registry import signing
from modelops.registry.base import ModelVersion, Registry, sha256_file
from modelops.schema import Schema
from modelops.threads import cores

log = logging.getLogger(__name__)

MODEL_FILE = "model.joblib"
MODEL_TYPES = (Pipeline, Ensemble)  # what TrainFlow registers: a pipeline, or an ensemble of them
REFERENCE_FILE = "reference.parquet"
_LIBRARIES = ("scikit-learn", "catboost", "lightgbm", "xgboost", "pandas", "numpy", "modelops")


def code_version() -> str:
    """The git commit the code came from ('+dirty' if modified), or 'unknown' outside git."""
    try:
        root = paths.root()
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError, ConfigError):
        return os.environ.get("GITHUB_SHA", "unknown")
    return sha + ("+dirty" if dirty else "")


def library_versions() -> dict[str, str]:
    """Versions that must match to unpickle the pipeline safely."""
    out = {}
    for lib in _LIBRARIES:
        try:
            out[lib] = importlib_metadata.version(lib)
        except importlib_metadata.PackageNotFoundError:
            out[lib] = "missing"
    return out


def write_model_files(
    pipeline: Pipeline, reference: pd.DataFrame, directory: Path
) -> dict[str, Path]:
    """Write the pipeline and the drift reference sample; return {file name: path}."""
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    joblib.dump(pipeline, model_path)
    ref_path = directory / REFERENCE_FILE
    reference.reset_index(drop=True).to_parquet(ref_path, index=False)
    return {MODEL_FILE: model_path, REFERENCE_FILE: ref_path}


def model_metadata(
    *,
    schema: Schema,
    metric: str,
    candidate: str,
    params: dict[str, Any],
    metrics: dict[str, Any],
    data_digest: str,
    data_source: str,
    run_pathspec: str,
) -> dict[str, Any]:
    """The contract a registered version carries."""
    return {
        "schema": schema.to_dict(),
        "task": schema.task,
        "metric": metric,
        "candidate": candidate,
        "params": params,
        "metrics": metrics,
        "training_data_sha256": data_digest,
        "training_data_source": data_source,
        "git_commit": code_version(),
        "metaflow_run": run_pathspec,
        "libraries": library_versions(),
    }


def signed(name: str, files: dict[str, Path], metadata: dict[str, Any]) -> dict[str, Any]:
    """`metadata` plus a signature of these files with the signing key (created on first use:
    every registration is signed, so readers can refuse what nobody holding the key wrote)."""
    key = signing.writer_key()
    digests = {fname: sha256_file(path) for fname, path in files.items()}
    return metadata | {"signature": signing.sign(name, digests, metadata.get("schema"), key)}


@dataclass
class LoadedModel:
    """A verified, loaded version: the pipeline to call and the contract to check input with."""

    version: ModelVersion
    pipeline: Pipeline
    schema: Schema


def _files(registry: Registry, name: str, ref: str | int, dest: Path) -> ModelVersion:
    mv = registry.get(name, ref)
    if MODEL_FILE not in mv.files:
        raise RegistryError(f"{mv.ref}: no {MODEL_FILE} registered (files: {sorted(mv.files)})")
    signing.check(mv)  # before any byte is downloaded, let alone unpickled
    registry.download(mv, dest)
    return mv


ALLOW_VERSIONS_ENV = "MODELOPS_ALLOW_VERSION_MISMATCH"


def _major_minor(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return None


def check_library_versions(mv: ModelVersion) -> list[str]:
    """Compare the library versions a version was pickled with to the installed ones, before
    unpickling: another major version is refused (classes and their state change between
    majors; AutoGluon's `require_version_match` does the same), unless
    MODELOPS_ALLOW_VERSION_MISMATCH=1; another minor version is a warning. Returns the
    differences found."""
    recorded = mv.metadata.get("libraries") or {}
    installed = library_versions()
    majors, minors = [], []
    for lib, then in recorded.items():
        now = installed.get(lib)
        if lib == "modelops" or now is None or then == now:
            continue  # our own classes are held to their pickles by tests/fixtures
        a, b = _major_minor(str(then)), _major_minor(str(now))
        if a is None or b is None:
            continue
        (majors if a[0] != b[0] else minors if a != b else []).append(f"{lib} {then} -> {now}")
    if majors and os.environ.get(ALLOW_VERSIONS_ENV, "") not in ("1", "true", "yes"):
        raise RegistryError(
            f"{mv.ref} was saved with another major version of {', '.join(majors)} "
            f"(saved -> installed); loading it could fail or predict differently. Install the "
            f"recorded versions, retrain, or set {ALLOW_VERSIONS_ENV}=1 to try anyway"
        )
    for diff in majors + minors:
        log.warning("%s: saved with %s (saved -> installed)", mv.ref, diff)
    return majors + minors


def load_model(
    registry: Registry, name: str, ref: str | int, *, threads: int | None = None
) -> LoadedModel:
    """Resolve `ref`, check its signature (with a key), download and digest-check the files,
    then unpickle the pipeline, set to predict on `threads` threads (default: every core this
    process may use; its search tasks fitted it on one).

    The download lives in a temporary folder that is gone when this returns.
    """
    with tempfile.TemporaryDirectory(prefix="modelops-model-") as tmp:
        mv = _files(registry, name, ref, Path(tmp))
        check_library_versions(mv)
        pipeline = joblib.load(Path(tmp) / MODEL_FILE)
    check_model_type(mv, pipeline)
    predict_threads(pipeline, threads or cores())
    return LoadedModel(mv, pipeline, Schema.from_dict(mv.metadata["schema"]))


def class_path(obj: Any) -> str:
    """`module.Class` of an object, as recorded in the metadata and named in errors."""
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def check_model_type(mv: ModelVersion, obj: Any) -> None:
    """Refuse a loaded object that is not a model this package fits (a pipeline or an ensemble
    of them) of the class the metadata records, so a service never reports ready on
    something that fails every row."""
    recorded = mv.metadata.get("model_class")
    if not isinstance(obj, MODEL_TYPES) or (recorded and class_path(obj) != recorded):
        expected = recorded or " or ".join(f"{t.__module__}.{t.__qualname__}" for t in MODEL_TYPES)
        raise RegistryError(
            f"{mv.ref}: {MODEL_FILE} holds a {class_path(obj)}, not the {expected} a model "
            "must be; refusing it"
        )


def sign_version(registry: Registry, name: str, ref: str | int) -> ModelVersion:
    """Sign an existing version (one registered before a key existed, say) after checking its
    files still match their digests; whoever runs this vouches for the pickle inside."""
    key = signing.writer_key()
    with tempfile.TemporaryDirectory(prefix="modelops-model-") as tmp:
        mv = registry.get(name, ref)
        registry.download(mv, Path(tmp))
    sig = signing.sign(name, mv.files, mv.metadata.get("schema"), key)
    registry.update_metadata(name, mv.version, {"signature": sig})
    return registry.get(name, mv.version)


def load_reference(
    registry: Registry, name: str, ref: str | int
) -> tuple[ModelVersion, pd.DataFrame]:
    """The version and its verified drift reference sample, without unpickling the model."""
    with tempfile.TemporaryDirectory(prefix="modelops-model-") as tmp:
        mv = _files(registry, name, ref, Path(tmp))
        return mv, pd.read_parquet(Path(tmp) / REFERENCE_FILE)
