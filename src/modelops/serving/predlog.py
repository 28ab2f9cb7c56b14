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
from modelops.errors import ConfigError

log = logging.getLogger(__name__)


class PredictionLog:
    """Append scored rows; parts are named `predictions-<UTC time>-<sequence>.parquet`.

    A failed write (a full disk, a folder gone) never fails the request that triggered it: the
    rows stay buffered and the write is retried at the next flush; `last_error` says what
    went wrong (the service reports itself degraded) and the counters count failures and any
    rows dropped once the buffer passes `max_buffer_bytes`, oldest first.
    """

    def __init__(
        self,
        directory: str | Path,
        part_bytes: int = 8 << 20,
        flush_seconds: float = 60,
        max_buffer_bytes: int = 256 << 20,
    ):
        self.directory = Path(directory)
        try:
            storage.ensure_writable(self.directory)
        except OSError as err:
            raise ConfigError(
                f"--log-predictions {self.directory}: cannot write there ({err.strerror or err}); "
                "give a folder the service can create and write"
            ) from err
        self.part_bytes = part_bytes
        self.max_buffer_bytes = max(max_buffer_bytes, part_bytes)
        self.last_error: str | None = None
        self.failures = 0
        self.dropped_rows = 0
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
            if (self._bytes >= self.part_bytes and self.last_error is None) or due:
                self._write_locked()
            while self._bytes > self.max_buffer_bytes and len(self._frames) > 1:
                oldest = self._frames.pop(0)
                self._bytes -= int(oldest.memory_usage(deep=True).sum())
                self.dropped_rows += len(oldest)
                log.error("prediction log: buffer full, %d oldest rows dropped", len(oldest))

    @property
    def buffered_rows(self) -> int:
        return sum(len(f) for f in self._frames)

    def flush(self) -> Path | None:
        """Write what is buffered as a part now (at shutdown, say)."""
        with self._lock:
            return self._write_locked()

    def _write_locked(self) -> Path | None:
        self._since = time.monotonic()
        if not self._frames:
            return None
        frame = pd.concat(self._frames, ignore_index=True)
        self._seq += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.directory / f"predictions-{stamp}-{self._seq:06d}.parquet"
        try:
            with storage.atomic_output(str(path)) as tmp:
                frame.to_parquet(tmp, index=False)
        except OSError as err:  # kept buffered; the next flush retries
            self.failures += 1
            self.last_error = f"{path.name}: {err.strerror or err}"
            log.error("prediction log: %d rows not written, kept to retry: %s", len(frame), err)
            return None
        self._frames, self._bytes = [], 0
        if self.last_error is not None:
            log.info("prediction log: writing again after: %s", self.last_error)
        self.last_error = None
        self.parts.append(path)
        log.info("prediction log: %d rows -> %s", len(frame), path)
        return path
