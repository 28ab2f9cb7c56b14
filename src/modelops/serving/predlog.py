"""Served predictions kept for monitoring: append-only Parquet parts in a folder.

Rows (the request's feature values, the prediction columns, the model version and the time)
are buffered and written as a new part once the buffer holds about `part_bytes` of data, every
`flush_seconds`, and when the service stops. A part is never rewritten, and it appears only
complete (`storage.atomic_output`), so a reader (`pd.read_parquet(DIR)`, or ScoreFlow's drift
check on a part) never sees half a file. The drift check can then run on what the service saw.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from modelops import storage

log = logging.getLogger(__name__)


class PredictionLog:
    """Append scored rows; parts are named `predictions-<UTC time>-<sequence>.parquet`."""

    def __init__(self, directory: str | Path, part_bytes: int = 8 << 20, flush_seconds: float = 60):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.part_bytes = part_bytes
        self.flush_seconds = flush_seconds
        self._frames: list[pd.DataFrame] = []
        self._bytes = 0
        self._since = time.monotonic()
        self._seq = 0
        self._lock = threading.Lock()
        self.parts: list[Path] = []

    def append(self, rows: pd.DataFrame) -> None:
        """Buffer `rows`; write a part when the buffer is big or old enough."""
        if rows.empty:
            return
        stamped = rows.assign(served_at=datetime.now(UTC).isoformat(timespec="milliseconds"))
        with self._lock:
            self._frames.append(stamped)
            self._bytes += int(stamped.memory_usage(deep=True).sum())
            due = time.monotonic() - self._since >= self.flush_seconds
            if self._bytes >= self.part_bytes or due:
                self._write_locked()

    def flush(self) -> Path | None:
        """Write what is buffered as a part now (at shutdown, say)."""
        with self._lock:
            return self._write_locked()

    def _write_locked(self) -> Path | None:
        self._since = time.monotonic()
        if not self._frames:
            return None
        frame = pd.concat(self._frames, ignore_index=True)
        self._frames, self._bytes = [], 0
        self._seq += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.directory / f"predictions-{stamp}-{self._seq:06d}.parquet"
        with storage.atomic_output(str(path)) as tmp:
            frame.to_parquet(tmp, index=False)
        self.parts.append(path)
        log.info("prediction log: %d rows -> %s", len(frame), path)
        return path
