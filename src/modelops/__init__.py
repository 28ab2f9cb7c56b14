"""modelops: train, register, promote and score tabular models."""

import logging


def configure_logging(level: int = logging.INFO) -> None:
    """Route the library's log records to stderr, which Metaflow captures per task; Metaflow
    stamps every line with the time, so the records carry none of their own."""
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def __getattr__(name: str) -> object:
    """`modelops.fit` and `modelops.register` (see `modelops.api`), imported on first use so
    that `import modelops` stays light (flows import it in every task)."""
    if name in ("fit", "register", "FitResult"):
        from modelops import api

        return getattr(api, name)
    raise AttributeError(f"module 'modelops' has no attribute {name!r}")
