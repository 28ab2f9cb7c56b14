"""Atomic small-file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
from typing import Any

from modelops.storage import Location, write_text


def write_json_atomic(path: Location, data: Any) -> None:
    """JSON through a temporary file and a rename (a single PUT on S3)."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str))
