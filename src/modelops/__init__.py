"""modelops: train, register, promote and score tabular models."""

import logging


def configure_logging(level: int = logging.INFO) -> None:
    """Route the library's log records to stderr, which Metaflow captures per task."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
