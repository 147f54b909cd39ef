"""Composition root of the ingest service: settings -> NATS -> journal -> service -> HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from faststream.nats import NatsBroker
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from cungdan_contracts import Gazetteer, load_gazetteer
from cungdan_contracts.subjects import STREAM, STREAM_SUBJECTS

from . import http
from .journal import Journal, ensure_stream, stream_config
from .metrics import IngestMetrics
from .problems import problem
from .service import IngestService
from .settings import IngestSettings
from .validation import FieldProblem

log = logging.getLogger("cungdan.ingest")


async def connect_broker(settings: IngestSettings) -> NatsBroker:
    """Connect, retrying until the configured deadline (NATS may start after us)."""
    broker = NatsBroker(settings.nats_url, max_reconnect_attempts=-1, reconnect_time_wait=1,
                        connect_timeout=2, logger=log)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.nats_connect_timeout_seconds
    while True:
        try:
            await broker.connect()
            return broker
        except (OSError, TimeoutError) as exc:
            if loop.time() > deadline:
                raise
            log.warning("NATS at %s not reachable yet (%s); retrying", settings.nats_url, exc)
            await asyncio.sleep(0.5)


def create_app(settings: IngestSettings | None = None, gazetteer: Gazetteer | None = None,
               registry: CollectorRegistry | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    metrics = IngestMetrics(registry or CollectorRegistry())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        broker = await connect_broker(settings)
        nc = broker.connection
        await ensure_stream(nc, stream_config(
            STREAM, STREAM_SUBJECTS, settings.stream_duplicate_window_seconds,
            settings.stream_replicas))
        journal = Journal(nc, STREAM, timeout=settings.publish_timeout_seconds,
                          max_in_flight=settings.max_in_flight)
        await journal.start()
        app.state.journal = journal
        app.state.service = IngestService(journal, gazetteer or load_gazetteer())
        log.info("ingest ready on stream %s via %s", STREAM, settings.nats_url)
        try:
            yield
        finally:
            await broker.stop()

    app = FastAPI(title="cungdan ingest", version="0.1.0", lifespan=lifespan,
                  description="Accepts activity reports and appends them to NATS JetStream.")
    app.state.settings = settings
    app.state.metrics = metrics
    app.include_router(http.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        journal: Journal | None = getattr(request.app.state, "journal", None)
        if journal is None or not journal.connected:
            return problem(503, "not-ready", "Not ready", detail="not connected to NATS")
        return Response('{"status":"ready"}', media_type="application/json")

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.middleware("http")
    async def count_requests(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        route = request.scope.get("route")
        metrics.requests.labels(getattr(route, "path", "unmatched"),
                                str(response.status_code)).inc()
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        return problem(422, "invalid-request", "The request is invalid", errors=[
            FieldProblem(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()])

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unexpected error", exc_info=exc)
        return problem(500, "internal", "Internal error",
                       detail="the error was logged; the request may be retried")

    return app
