"""`modelops serve`: the app under uvicorn, SIGHUP to re-check the registry now."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

from modelops.registry import open_registry
from modelops.serving.live import LiveModel


def run(
    *,
    model_name: str,
    ref: str,
    host: str,
    port: int,
    poll_seconds: float,
    log_dir: Path | None,
    log_part_bytes: int,
    backend: str | None,
) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn's handlers drain requests in flight)."""
    import uvicorn

    from modelops.serving.app import create_app
    from modelops.serving.predlog import PredictionLog

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    registry = open_registry(backend)
    registry.get(model_name, ref)  # a missing model or alias is an error now, not a 503 forever
    live = LiveModel(registry, model_name, ref, poll_seconds=poll_seconds)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda *_: live.wake())
    log = PredictionLog(log_dir, part_bytes=log_part_bytes) if log_dir else None
    app = create_app(live, prediction_log=log)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
