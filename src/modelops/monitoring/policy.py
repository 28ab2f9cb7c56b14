"""When monitoring should retrain: drift verdict, mode and cooldown, decided in one place.

The monitor workflow and `make retrain-demo` both ask `retrain_decision`, so the rule a user
reads in the README is the rule that runs on GitHub:

    python -m modelops.monitoring decide --drift out.predictions.drift.json \
        --mode auto --cooldown-hours 72 --last-retrain 2026-11-20T06:17:00Z

prints the decision as JSON and, on GitHub Actions, writes `retrain=true|false` to
`$GITHUB_OUTPUT` and the reason to the job summary.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from modelops.errors import ConfigError, ModelOpsError
from modelops.monitoring.drift import DriftResult

MODES = ("auto", "report-only")


@dataclass(frozen=True)
class RetrainDecision:
    """Whether to start a retrain, and the sentence that says why (shown to the user)."""

    retrain: bool
    reason: str
    drifted: bool
    share: float
    data: str = ""  # what the retrain trains on (`with_source`): the drifted window's data

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def retrain_decision(
    drift: dict[str, Any],
    mode: str = "auto",
    last_retrain: datetime | None = None,
    cooldown: timedelta = timedelta(hours=72),
    now: datetime | None = None,
) -> RetrainDecision:
    """Retrain on drift, unless in report-only mode or a retrain started within the cooldown.

    `drift` is ScoreFlow's drift summary (`DriftResult.to_dict()`, saved next to the output as
    `<output>.drift.json`). The cooldown counts from the last retrain *started* (queued or
    running ones included), so drift on consecutive days queues one retrain, not one a day.
    """
    if mode not in MODES:
        raise ConfigError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    drifted, share = bool(drift["drifted"]), float(drift["share"])
    if drift.get("insufficient"):
        rows = drift.get("current_rows", "?")
        return RetrainDecision(
            False, f"no decision: {rows} scored rows are too few for a drift verdict", False, share
        )
    columns = [c for c, v in drift.get("columns", {}).items() if v.get("drifted")]
    weighted = drift.get("weighted_share")
    weight = f", {weighted:.0%} of the model's importance" if weighted is not None else ""
    found = f"drift in {len(columns)} column(s) {columns} (share {share:.0%}{weight})"
    if not drifted:
        if columns:
            return RetrainDecision(
                False,
                f"no drift that matters: {len(columns)} column(s) {columns} over their "
                f"threshold{weight or f' (share {share:.0%})'}, below the verdict's bar",
                drifted,
                share,
            )
        return RetrainDecision(False, f"no drift (share {share:.0%})", drifted, share)
    if mode == "report-only":
        return RetrainDecision(False, f"{found}; report-only mode, no retrain", drifted, share)
    now = now or datetime.now(UTC)
    if last_retrain is not None and now - last_retrain < cooldown:
        wait = last_retrain + cooldown - now
        return RetrainDecision(
            False,
            f"{found}; a retrain started {_hours(now - last_retrain)} ago, within the "
            f"{_hours(cooldown)} cooldown (next allowed in {_hours(wait)})",
            drifted,
            share,
        )
    return RetrainDecision(True, f"{found}; retraining", drifted, share)


WINDOW_FIELDS = ("date", "month")


def retrain_source(template: str, window: datetime) -> str:
    """The data of the window that drifted: `template` (the `RETRAIN_DATA` setting, a path or
    URL of labelled rows) with `{date}` as YYYY-MM-DD and `{month}` as YYYY-MM of `window`."""
    if "\n" in template or "\r" in template:
        raise ConfigError(f"RETRAIN_DATA {template!r}: one line expected")
    try:
        return template.format(date=window.strftime("%Y-%m-%d"), month=window.strftime("%Y-%m"))
    except (KeyError, IndexError, ValueError) as err:
        raise ConfigError(
            f"RETRAIN_DATA {template!r}: {err!s} is not a field it may use; "
            f"fields: {', '.join('{' + f + '}' for f in WINDOW_FIELDS)}"
        ) from None


def with_source(
    decision: RetrainDecision, template: str, now: datetime | None = None
) -> RetrainDecision:
    """A retrain learns the drift only from rows of the window that drifted: the decision
    with the data it would train on, or no retrain when no source is configured (retraining
    on the data the model already learned from would not learn the drift)."""
    if not decision.retrain:
        return decision
    if not template.strip():
        return replace(
            decision,
            retrain=False,
            reason=f"{decision.reason.removesuffix('; retraining')}; not retraining: no "
            "RETRAIN_DATA is set to say where the labelled rows of this window are (for "
            "example s3://bucket/sales/{month}.csv); the model's old data would not learn "
            "the drift",
        )
    data = retrain_source(template, now or datetime.now(UTC))
    return replace(decision, data=data, reason=f"{decision.reason} on {data}")


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


def parse_time(text: str) -> datetime | None:
    """ISO-8601 time (GitHub's `2026-11-20T06:17:00Z` included); empty means never."""
    if not text.strip():
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as err:
        raise ConfigError(f"--last-retrain {text!r}: expected an ISO-8601 time") from err
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def load_drift(path: Path) -> dict[str, Any]:
    """ScoreFlow's drift summary; a clear error when the scoring run did not produce one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ModelOpsError(f"{path}: no drift summary; did ScoreFlow finish?") from err
    except json.JSONDecodeError as err:
        raise ModelOpsError(f"{path}: not a drift summary ({err})") from err
    missing = {"drifted", "share"} - set(data)
    if missing:
        raise ModelOpsError(f"{path}: drift summary lacks {sorted(missing)}")
    # a hand-edited or foreign summary: "false" (a string) must not count as drift
    for key in ("drifted", "insufficient"):
        if key in data and not isinstance(data[key], bool):
            raise ModelOpsError(f"{path}: {key!r} is {data[key]!r}; expected true or false")
    share = data["share"]
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        raise ModelOpsError(f"{path}: 'share' is {share!r}; expected a number from 0 to 1")
    return data


def cooldown(hours: float) -> timedelta:
    """--cooldown-hours as a duration: a finite number of hours, zero or more."""
    if not math.isfinite(hours) or hours < 0:
        raise ConfigError(f"--cooldown-hours {hours}: expected a finite number >= 0")
    return timedelta(hours=hours)


def publish(decision: RetrainDecision, env: dict[str, str] | None = None) -> None:
    """Write the decision where GitHub Actions reads it (step output, job summary)."""
    env = os.environ if env is None else env
    if out := env.get("GITHUB_OUTPUT"):
        with open(out, "a", encoding="utf-8") as f:
            f.write(f"retrain={str(decision.retrain).lower()}\n")
            f.write(f"data={decision.data}\n")
    if summary := env.get("GITHUB_STEP_SUMMARY"):
        with open(summary, "a", encoding="utf-8") as f:
            f.write(f"### Monitoring\n\n{decision.reason}\n")
            if decision.data:
                f.write(f"\nRetrain data: `{decision.data}`\n")


class DriftDetected(ModelOpsError):
    """Raised by the gate when drift should stop automation (`--fail-on-drift`)."""


def drift_gate(result: DriftResult, fail_on_drift: bool) -> None:
    """Raise DriftDetected when asked to fail on drift and drift was found."""
    if fail_on_drift and result.drifted:
        raise DriftDetected(
            f"--fail-on-drift: data drift in {result.n_drifted} of {result.n_columns} columns "
            f"({', '.join(result.drifted_columns)}); share {result.share:.0%} >= "
            f"{result.drift_share:.0%}. Predictions were written; see {result.html}"
        )


if __name__ == "__main__":  # the command moved: say where, never exit 0 without a decision
    sys.exit("error: run `python -m modelops.monitoring decide ...` (or `modelops monitor decide`)")
