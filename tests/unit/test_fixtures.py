"""Registered models keep loading: a fitted model of every family and task, and an ensemble,
committed under tests/fixtures/models/ (tests/fixtures/make_models.py says when to regenerate
them), load with the current code and predict what they predicted when they were saved; and
every global their pickles name is on the one trusted list."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from joblib import numpy_pickle

from modelops.registry.trusted import is_trusted

MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "models"
EXPECTED = json.loads((MODELS / "expected.json").read_text())


def _globals(path: Path) -> set[tuple[str, str]]:
    """Every (module, name) the pickle asks for, read with joblib's own unpickler."""
    seen: set[tuple[str, str]] = set()

    class Recording(numpy_pickle.NumpyUnpickler):
        def find_class(self, module: str, name: str):  # noqa: ANN201
            seen.add((module, name))
            return super().find_class(module, name)

    with (
        open(path, "rb") as raw,
        numpy_pickle._validate_fileobject_and_memmap(raw, str(path), None) as (fobj, _),
    ):
        Recording(str(path), fobj, ensure_native_byte_order=True).load()
    return seen


def test_every_family_and_task_has_a_fixture():
    from modelops.training.candidates import FAMILIES

    names = {
        f"{t}-{f}.joblib" for t in ("regression", "multiclass") for f in [*FAMILIES, "ensemble"]
    }
    # and the wrappers a family's trial may add: CatBoost on the square root of the target
    assert set(EXPECTED) == names | {"regression-catboost_sqrt.joblib"}


@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_a_registered_model_loads_and_predicts_as_it_did(file):
    model = joblib.load(MODELS / file)
    want = EXPECTED[file]
    assert f"{type(model).__module__}.{type(model).__qualname__}" == want["class"]
    task = file.split("-")[0]
    X = pd.read_csv(MODELS / f"input-{task}.csv")
    got = model.predict(X) if task == "regression" else model.predict_proba(X)
    np.testing.assert_allclose(got, np.asarray(want["predictions"]), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_every_global_a_model_pickle_names_is_trusted(file):
    untrusted = sorted(g for g in _globals(MODELS / file) if not is_trusted(*g))
    assert not untrusted, f"{file} names {untrusted}: add them to modelops.registry.trusted"
