"""The search's clock inside a fit: what a stopped fit raises, and the check after one."""

from __future__ import annotations

import time


class OutOfTime(Exception):
    """A fit was stopped at its deadline (the search prunes that trial)."""


def check_time(stop_at: float | None) -> None:
    """Raise `OutOfTime` once `stop_at` (a `time.perf_counter()` value) has passed."""
    if stop_at is not None and time.perf_counter() > stop_at:
        raise OutOfTime("the fold ran past the search's deadline")
