"""Exceptions a user can act on: each message names the file, the column and what was expected."""

from __future__ import annotations


class ModelOpsError(Exception):
    """Base class, so callers can catch every error this package raises on purpose."""


class DataError(ModelOpsError):
    """The input data cannot be used: unreadable, empty, wrong target, too few rows per class."""


class SchemaError(ModelOpsError):
    """Input does not match the model's contract (missing columns, wrong types)."""


class ConfigError(ModelOpsError):
    """A setting is unknown or out of range (for example an unknown candidate name)."""


class RegistryError(ModelOpsError):
    """A model, version or alias cannot be found, or a stored file fails its digest check."""
