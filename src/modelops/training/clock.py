"""The search's clock inside a fit: what a stopped fit raises, and the check after one; and
when this process started, so that a task's own start counts in its time."""

from __future__ import annotations

import os
import time


class OutOfTime(Exception):
    """A fit was stopped at its deadline (the search prunes that trial)."""


def check_time(stop_at: float | None) -> None:
    """Raise `OutOfTime` once `stop_at` (a `time.perf_counter()` value) has passed."""
    if stop_at is not None and time.perf_counter() > stop_at:
        raise OutOfTime("the fold ran past the search's deadline")


def process_started() -> float:
    """When this process started, as a `time.perf_counter()` value (now where /proc does not
    say: not Linux)."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        since_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - since_boot
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter()
    return time.perf_counter() - max(age, 0.0)
