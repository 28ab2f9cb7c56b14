"""The globals a registered model's pickle may name: one list, kept with the code that reads
pickles.

`tests/unit/test_fixtures.py` walks every committed model fixture (each family, both tasks, the
ensemble) and asserts each global its pickle references is on this list, so a change that makes
models reference something new (a moved class, a library's new helper) is seen and decided on
here. It is the list a restricted unpickler would trust. Loading is guarded by the signature
(`signing.check`), not by this list: a signed pickle is trusted whole.
"""

from __future__ import annotations

# Our own classes and scikit-learn's (estimators, transformers and their helpers).
TRUSTED_PREFIXES = ("modelops.", "sklearn.")

TRUSTED_GLOBALS = frozenset(
    {
        ("builtins", "bytearray"),
        ("builtins", "slice"),
        ("collections", "OrderedDict"),
        ("collections", "defaultdict"),
        ("functools", "partial"),
        ("joblib.numpy_pickle", "NumpyArrayWrapper"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy", "float64"),
        ("numpy", "float32"),
        ("numpy", "int64"),
        ("numpy", "int32"),
        ("numpy", "bool_"),
        ("numpy", "object_"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.random._pcg64", "PCG64"),
        ("numpy.random._mt19937", "MT19937"),
        ("numpy.random._pickle", "__bit_generator_ctor"),
        ("numpy.random._pickle", "__generator_ctor"),
        ("numpy.random._pickle", "__randomstate_ctor"),
        ("numpy.random.mtrand", "RandomState"),
        ("numpy.random.bit_generator", "SeedSequence"),
        ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
        ("pandas.core.indexes.base", "Index"),
        ("pandas.core.indexes.base", "_new_Index"),
        ("catboost.core", "CatBoostClassifier"),
        ("catboost.core", "CatBoostRegressor"),
        ("lightgbm.basic", "Booster"),
        ("xgboost.core", "Booster"),
    }
)


def is_trusted(module: str, name: str) -> bool:
    """Whether a pickle may name `module.name`."""
    return module.startswith(TRUSTED_PREFIXES) or (module, name) in TRUSTED_GLOBALS
