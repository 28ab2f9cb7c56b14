"""`modelops serve`: the app under uvicorn, SIGHUP to re-check the registry now."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

from modelops.registry import open_registry
from modelops.serving.live import LiveModel


def default_hosts(host: str) -> list[str]:
    """The Host headers a local client sends: the bound address, localhost and loopback."""
    hosts = ["localhost", "127.0.0.1", "[::1]"]
    if host not in ("0.0.0.0", "::", *hosts):  # noqa: S104 (compared, not bound)
        hosts.append(host)
    return hosts


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
    allowed_hosts: list[str] | None = None,
    max_body_bytes: int = 10 << 20,
) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn's handlers drain requests in flight)."""
    import uvicorn

    from modelops.serving.app import create_app
    from modelops.serving.predlog import PredictionLog

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    registry = open_registry(backend)
    if not model_name:
        model_name = registry.default_model()
        logging.getLogger(__name__).info(
            "no --model-name: serving %r, the model this registry trained last", model_name
        )
    registry.get(model_name, ref)  # a missing model or alias is an error now, not a 503 forever
    live = LiveModel(registry, model_name, ref, poll_seconds=poll_seconds)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda *_: live.wake())
    log = PredictionLog(log_dir, part_bytes=log_part_bytes) if log_dir else None
    hosts = allowed_hosts or default_hosts(host)
    app = create_app(live, prediction_log=log, allowed_hosts=hosts, max_body_bytes=max_body_bytes)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
