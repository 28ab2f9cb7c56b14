"""The prediction service: FastAPI routes over a `LiveModel` that follows the registry.

    POST /predict   records -> predictions (+ class probabilities), model name and version;
                    rows whose values cannot be read come back in `rejected` with their index
    GET  /health    the process answers          GET /ready   a verified model is loaded
    GET  /model     the live version, its schema, metrics and training run
    GET  /metrics   Prometheus text              GET /        a form to try the model
    GET  /docs      OpenAPI UI; the request schema is generated from the live model's schema

Scoring goes through `scoring.batch.predict_frame`, the function batch scoring uses, on the
fitted pipeline, so a row gets the same prediction here as in a ScoreFlow file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.middleware.trustedhost import TrustedHostMiddleware

from modelops.scoring.batch import predict_frame
from modelops.serving import page
from modelops.serving.live import LiveModel, NotReady, Served
from modelops.serving.metrics import MetricsMiddleware, ServiceMetrics
from modelops.serving.predlog import PredictionLog
from modelops.serving.records import Batch, Rejected, RequestError, read_records

log = logging.getLogger(__name__)
ROUTES = {"/predict", "/health", "/ready", "/model", "/metrics", "/", "/docs", "/openapi.json"}


def score(served: Served, batch: Batch) -> tuple[pd.DataFrame, list[Rejected]]:
    """Predictions for the batch's rows; a row the pipeline itself cannot score is rejected
    with the model's error (found by scoring the rows one by one), never dropped silently."""
    if batch.frame.empty:
        return pd.DataFrame(index=pd.RangeIndex(0)), []
    try:
        return predict_frame(served.model, batch.frame), []
    except Exception:  # isolate the row(s): the others are still scored
        log.exception(
            "the model failed on a batch of %d rows; scoring them one by one", len(batch.frame)
        )
    parts, rejected = [], []
    for pos in range(len(batch.frame)):
        row = batch.frame.iloc[[pos]]
        try:
            parts.append(predict_frame(served.model, row))
        except Exception as err:
            rejected.append(Rejected(batch.index[pos], f"the model could not score it: {err}"))
    return (pd.concat(parts) if parts else pd.DataFrame(index=pd.RangeIndex(0))), rejected


def answer(
    served: Served, batch: Batch, predictions: pd.DataFrame, failed: list[Rejected]
) -> dict[str, Any]:
    """The JSON response: one entry per scored row (with its request index), then rejects."""
    failed_at = {r.index for r in failed}
    index = [i for i in batch.index if i not in failed_at]
    values = predictions["prediction"].tolist() if len(predictions) else []
    proba_cols = [c for c in predictions.columns if c.startswith("proba_")]
    out: list[dict[str, Any]] = [
        {"index": i, "prediction": v} for i, v in zip(index, values, strict=True)
    ]
    if proba_cols:
        matrix = predictions[proba_cols].to_numpy(dtype=float)
        names = [c.removeprefix("proba_") for c in proba_cols]
        for entry, row in zip(out, matrix, strict=True):
            entry["probabilities"] = dict(zip(names, np.round(row, 6).tolist(), strict=True))
    rejected = sorted(batch.rejected + failed, key=lambda r: r.index)
    return {
        "model_name": served.name,
        "model_version": served.version,
        "predictions": out,
        "rejected": [{"index": r.index, "reason": r.reason} for r in rejected],
    }


def request_schema(served: Served) -> dict[str, Any]:
    """JSON Schema of a /predict body for this model: one record, or an array of records."""
    props: dict[str, Any] = {}
    for col in served.model.schema.columns:
        if col.kind == "numeric":
            low_high = served.ranges.get(col.name)
            desc = (
                f"numeric; training range {low_high[0]:g} to {low_high[1]:g}"
                if low_high
                else "numeric"
            )
            props[col.name] = {"type": ["number", "string", "null"], "description": desc}
        elif col.kind == "categorical":
            cats = list(col.categories)
            desc = f"categorical; seen in training: {', '.join(cats[:30])}" + (
                " ..." if len(cats) > 30 else ""
            )
            props[col.name] = {"type": ["string", "null"], "description": desc}
        else:
            props[col.name] = {"type": ["string", "null"], "description": "a date (ISO 8601)"}
        if col.name in served.example:
            props[col.name]["example"] = served.example[col.name]
    record = {
        "type": "object",
        "properties": props,
        "required": served.model.schema.required,
        "description": "one row; columns the model does not use are ignored",
    }
    return {"oneOf": [record, {"type": "array", "items": record, "minItems": 1}]}


MAX_BODY_BYTES = 10 << 20


class BodyError(Exception):
    """A request body refused before it is parsed: its HTTP status and what to do."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


async def read_json(request: Request, limit: int) -> Any:
    """The body as JSON, refused early when it is not declared JSON (a cross-site form or
    text/plain `fetch` needs no preflight; application/json does), larger than `limit`
    bytes, or nested too deeply to parse."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise BodyError(415, f"Content-Type must be application/json, not {kind or 'none'!r}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyError(413, f"the body has {int(declared)} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyError(413, f"the body has more than {limit} bytes, the limit")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except RecursionError:
        raise BodyError(
            422, "the JSON is nested too deeply; send records of plain values"
        ) from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise BodyError(422, "the body is not valid JSON") from None


def create_app(
    live: LiveModel,
    *,
    prediction_log: PredictionLog | None = None,
    follow: bool = True,
    allowed_hosts: list[str] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The service for `live`: loads the model at start-up (in a worker thread), then follows
    the registry if `follow`; the prediction log is flushed when the service stops. With
    `allowed_hosts`, a request naming another Host is refused (DNS rebinding)."""
    metrics = ServiceMetrics()

    def on_swap(served: Served) -> None:
        metrics.model_version.labels(served.name).set(served.model.version.version)
        metrics.swaps.inc()

    live.on_swap(on_swap)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        outcome = await run_in_threadpool(live.refresh)
        log.info("start-up: %s", outcome)
        if follow:
            live.follow()
        yield
        live.close()
        if prediction_log is not None:
            prediction_log.flush()

    app = FastAPIOffline(  # /docs from Swagger UI files in the package: no CDN, works offline
        redoc_url=None,
        title="modelops prediction service",
        summary=f"Predictions from {live.name}:{live.ref}, following the registry",
        lifespan=lifespan,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=ROUTES)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)

    def not_ready(err: NotReady) -> JSONResponse:
        return JSONResponse({"ready": False, "detail": str(err)}, status_code=503)

    @app.post("/predict", summary="Predict for one record or many")
    async def predict(request: Request) -> Any:
        try:
            served = live.current()  # once: a swap during this request does not affect it
        except NotReady as err:
            return not_ready(err)
        try:
            body = await read_json(request, max_body_bytes)
        except BodyError as err:
            return JSONResponse({"detail": str(err)}, status_code=err.status)
        try:
            batch = read_records(body, served.model.schema)
        except RequestError as err:
            return JSONResponse({"detail": str(err)}, status_code=422)
        predictions, failed = await run_in_threadpool(score, served, batch)
        result = answer(served, batch, predictions, failed)
        metrics.rows_scored.inc(len(result["predictions"]))
        metrics.rows_rejected.inc(len(result["rejected"]))
        if prediction_log is not None and len(predictions):
            failed_at = {r.index for r in failed}  # once, not once per row
            kept = [i for i, p in enumerate(batch.index) if p not in failed_at]
            rows = batch.frame.iloc[kept].reset_index(drop=True)
            prediction_log.append(pd.concat([rows, predictions.reset_index(drop=True)], axis=1))
        return result

    @app.get("/health", summary="The process is up (degraded: predictions are not being logged)")
    async def health() -> dict[str, Any]:
        if prediction_log is not None and prediction_log.last_error is not None:
            return {
                "status": "degraded",
                "prediction_log": prediction_log.last_error,
                "buffered_rows": prediction_log.buffered_rows,
            }
        return {"status": "ok"}

    @app.get("/ready", summary="A verified model is loaded")
    async def ready() -> Any:
        try:
            served = live.current()
        except NotReady as err:
            return not_ready(err)
        return {"ready": True, "model_name": served.name, "model_version": served.version}

    @app.get("/model", summary="The live version: schema, metrics, training run")
    async def model() -> Any:
        try:
            served = live.current()
        except NotReady as err:
            return not_ready(err)
        refused = {f"v{v}": why for v, why in live.refused.items()}
        return served.describe() | {"refused_versions": refused, "follows": live.ref}

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        metrics.refused.set(len(live.refused))
        if prediction_log is not None:
            metrics.log_failures.set(prediction_log.failures)
            metrics.log_dropped.set(prediction_log.dropped_rows)
            metrics.log_buffered.set(prediction_log.buffered_rows)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse, summary="A form to try the model")
    async def form() -> Any:
        try:
            served = live.current()
        except NotReady as err:
            return HTMLResponse(page.not_ready(err), status_code=503)
        return HTMLResponse(page.render(served))

    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        try:
            served: Served | None = live.current()
        except NotReady:
            served = None
        key = served.version if served else ""
        if cache.get("key") != key or "doc" not in cache:
            doc = get_openapi(
                title=app.title, version=key or "not ready", routes=app.routes, summary=app.summary
            )
            if served is not None:
                doc["paths"]["/predict"]["post"]["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": request_schema(served)}},
                }
            cache.update(key=key, doc=doc)
        return cache["doc"]

    app.openapi = openapi  # type: ignore[method-assign]
    return app
