"""The model a service answers with, following the registry: check, verify, then swap.

`LiveModel.refresh()` resolves the reference (normally the `production` alias); when it names a
different version, that version is loaded through `packaging.load_model` (signature with a key,
file digests, then unpickling) and only then replaces the served one, by one reference
assignment. A request takes the served model once at its start (`current()`), so requests in
flight finish on the model they started with and none waits for a load. A version that fails
verification is refused, logged once and not retried until its files or signature change
(or SIGHUP asks again); the old model stays live.

`follow()` runs `refresh()` every `poll_seconds` in a daemon thread, and at once when `wake()`
is called (the service calls it on SIGHUP).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelops.errors import ModelOpsError
from modelops.registry.base import Registry
from modelops.registry.packaging import LoadedModel, load_model, load_reference
from modelops.schema import Schema

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Served:
    """A verified, loaded version and what the page and the OpenAPI document show of it."""

    model: LoadedModel
    ranges: dict[str, tuple[float, float]]  # numeric column -> training (min, max)
    example: dict[str, Any] = field(default_factory=dict)  # a typical training row
    loaded_at: float = field(default_factory=time.time)

    @property
    def name(self) -> str:
        return self.model.version.name

    @property
    def version(self) -> str:
        return f"v{self.model.version.version}"

    def describe(self) -> dict[str, Any]:
        """What GET /model answers: which version is live and its contract."""
        m = self.model.version.metadata
        return {
            "model_name": self.name,
            "model_version": self.version,
            "aliases": list(self.model.version.aliases),
            "candidate": m.get("candidate"),
            "task": self.model.schema.task,
            "metric": m.get("metric"),
            "metrics": m.get("metrics", {}),
            "training_run": m.get("metaflow_run"),
            "code_version": m.get("git_commit"),
            "data_digest": m.get("training_data_sha256"),
            "schema": self.model.schema.to_dict(),
            "loaded_at": self.loaded_at,
        }


def training_ranges(reference: pd.DataFrame, numeric: list[str]) -> dict[str, tuple[float, float]]:
    """(min, max) of each numeric column in the model's reference sample of training rows."""
    out = {}
    for c in numeric:
        if c in reference.columns:
            values = pd.to_numeric(reference[c], errors="coerce").to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if values.size:
                out[c] = (float(values.min()), float(values.max()))
    return out


def typical_row(reference: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """Median of each numeric column, most frequent value of the others (the page's start)."""
    out: dict[str, Any] = {}
    for c in schema.feature_names:
        if c not in reference.columns or reference[c].dropna().empty:
            continue
        s = reference[c].dropna()
        if c in schema.numeric:
            out[c] = float(pd.to_numeric(s, errors="coerce").median())
        else:
            out[c] = str(s.astype(str).mode().iloc[0])
    return out


def load_served(registry: Registry, name: str, ref: str | int) -> Served:
    """Load and verify `name:ref` and the training ranges of its numeric columns."""
    model = load_model(registry, name, ref)
    try:
        _, reference = load_reference(registry, name, model.version.version)
    except ModelOpsError as err:  # an old version without a reference sample: no hints
        log.warning("%s: no training ranges for the page (%s)", model.version.ref, err)
        return Served(model, {})
    return Served(
        model,
        training_ranges(reference, model.schema.numeric),
        typical_row(reference, model.schema),
    )


def _settle_heap() -> None:
    """Keep the model's objects out of the garbage collector's way: a loaded ensemble is
    ~200k objects that every full collection would walk during requests (several ms each).
    Frozen objects are still freed by reference counting; unfreezing first lets the previous
    model's cycles be collected once, here, in the background thread."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class NotReady(ModelOpsError):
    """No verified model is loaded yet."""


class LiveModel:
    """The served version of `name` at `ref`, swapped when the registry moves `ref`."""

    def __init__(
        self,
        registry: Registry,
        name: str,
        ref: str = "production",
        *,
        poll_seconds: float = 30.0,
        loader: Callable[[Registry, str, str | int], Served] = load_served,
    ):
        self.registry, self.name, self.ref = registry, name, ref
        self.poll_seconds = poll_seconds
        self._load = loader
        self._listeners: list[Callable[[Served], None]] = []
        self._served: Served | None = None
        self._refused: dict[tuple[Any, ...], str] = {}  # what was refused -> why
        self._refresh_lock = threading.Lock()  # one load at a time
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error = ""

    def current(self) -> Served:
        """The model to answer one request with (take it once per request)."""
        served = self._served
        if served is None:
            raise NotReady(
                f"no verified version of {self.name!r} at {self.ref!r} is loaded"
                + (f": {self.last_error}" if self.last_error else "")
            )
        return served

    @property
    def ready(self) -> bool:
        return self._served is not None

    @property
    def refused(self) -> dict[int, str]:
        """Versions refused since the last SIGHUP, and why."""
        return {key[0]: why for key, why in self._refused.items()}

    def refresh(self) -> str:
        """Check the registry once; load, verify and swap if `ref` names another version.

        Returns what happened: "unchanged", "loaded vN", "refused vN: why" or "error: why"
        (the registry could not be read; the served model stays).
        """
        with self._refresh_lock:
            try:
                mv = self.registry.get(self.name, self.ref)
            except ModelOpsError as err:
                self.last_error = str(err)
                log.warning("registry check failed, keeping the served model: %s", err)
                return f"error: {err}"
            served = self._served
            if served is not None and served.model.version.version == mv.version:
                return "unchanged"
            key = (mv.version, tuple(sorted(mv.files.items())), str(mv.metadata.get("signature")))
            if key in self._refused:
                return f"refused v{mv.version}: {self._refused[key]}"
            try:
                new = self._load(self.registry, self.name, mv.version)
            except ModelOpsError as err:
                self._refused[key] = str(err)
                self.last_error = f"v{mv.version} refused: {err}"
                log.error(
                    "%s:v%d is refused, still serving %s: %s",
                    self.name,
                    mv.version,
                    served.version if served else "nothing",
                    err,
                )
                return f"refused v{mv.version}: {err}"
            self._served = new  # the swap: one assignment; requests in flight keep theirs
            self.last_error = ""
            _settle_heap()
            log.info(
                "serving %s:%s (was %s)",
                self.name,
                new.version,
                served.version if served else "nothing",
            )
            for listener in self._listeners:
                listener(new)
            return f"loaded {new.version}"

    def on_swap(self, listener: Callable[[Served], None]) -> None:
        """Call `listener(new)` after each swap (the service updates its version gauge)."""
        self._listeners.append(listener)

    def wake(self) -> None:
        """Check the registry now (SIGHUP), not at the next interval, retrying refused versions."""
        self._refused.clear()
        self._wake.set()

    def follow(self) -> None:
        """Start checking the registry every `poll_seconds` in a background thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="modelops-follow", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.refresh()
            except Exception:  # a bug must not stop the service from answering; say it
                log.exception("unexpected error while following the registry")
