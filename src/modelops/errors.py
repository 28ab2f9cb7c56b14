"""Exceptions a user can act on: each message names the file, the column and what was expected."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


class ModelOpsError(Exception):
    """Base class, so callers can catch every error this package raises on purpose."""


class DataError(ModelOpsError):
    """The input data cannot be used: unreadable, empty, wrong target, too few rows per class."""


class SchemaError(ModelOpsError):
    """Input does not match the model's contract (missing columns, wrong types)."""


class ConfigError(ModelOpsError):
    """A setting is unknown or out of range (for example an unknown candidate name)."""


class TrainingError(ModelOpsError):
    """No candidate could be trained: the message lists each family's failure (its search
    task's log has the traceback). Not a configuration problem: often the data is."""


class RegistryError(ModelOpsError):
    """A model, version or alias cannot be found, or a stored file fails its digest check."""


def user_errors(step_function: Callable[..., Any]) -> Callable[..., Any]:
    """A flow step (under `@step`) that ends with the message alone on a user error.

    A ModelOpsError (bad input, bad parameter, missing model) is something the user fixes, so
    the step exits with `error: <message>` instead of Metaflow's 40-line traceback; any other
    exception is a bug and keeps its traceback.
    """

    @functools.wraps(step_function)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return step_function(*args, **kwargs)
        except ModelOpsError as err:
            raise SystemExit(f"error: {err}") from None

    return run
