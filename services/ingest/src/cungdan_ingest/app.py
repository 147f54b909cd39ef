"""Composition root of the ingest service: settings -> NATS -> journal -> service -> HTTP."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry

from cungdan_contracts import NATION, AdminMap, Gazetteer, load_gazetteer
from cungdan_contracts.periods import ALL_PERIOD_EVENTS
from cungdan_contracts.subjects import STREAM, STREAM_SUBJECTS
from cungdan_service.auth import Authorizer, authorizer_from_settings
from cungdan_service.nats import connect_broker, redact, stop_broker
from cungdan_service.web import install_common

from . import http, imports_http, periods_http
from .changes import ChangeService
from .closures import Closures
from .closures_feed import ClosuresFeed
from .journal import Journal, ensure_stream, stream_config
from .limits import RateLimiter
from .metrics import IngestMetrics
from .period_actions import PeriodService
from .service import IngestService
from .settings import IngestSettings

log = logging.getLogger("cungdan.ingest")


def routes(gazetteer: Gazetteer) -> list[tuple[AdminMap, str]]:
    """Every (map, province) an event can be routed on: the provinces of each map and the
    nation (reports at its level)."""
    return [(m, code) for m in AdminMap
            for code in (*(p.code for p in gazetteer.children(m, NATION)), NATION)]


def create_app(settings: IngestSettings | None = None, gazetteer: Gazetteer | None = None,
               registry: CollectorRegistry | None = None,
               authorizer: Authorizer | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    registry = registry or CollectorRegistry()
    password = settings.nats_password.get_secret_value() if settings.nats_password else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        broker = await connect_broker(settings.nats_url, settings.nats_connect_timeout_seconds,
                                      user=settings.nats_user, password=password)
        nc = broker.connection
        await ensure_stream(nc, stream_config(
            STREAM, STREAM_SUBJECTS, settings.stream_duplicate_window_seconds,
            settings.stream_replicas,
            consumer_inactive_seconds=settings.stream_consumer_inactive_seconds))
        journal = Journal(nc, STREAM, timeout=settings.publish_timeout_seconds,
                          max_in_flight=settings.max_in_flight,
                          observe=metrics.publish_seconds.observe)
        await journal.start()
        started = time.perf_counter()
        gazetteer_ = gazetteer or load_gazetteer()
        layout1 = await journal.index_layout1(routes(gazetteer_))
        log.info("indexed %d ids stored in subject layout 1 in %.1f s (%d bytes)",
                 len(layout1), time.perf_counter() - started, layout1.nbytes,
                 extra={"layout1_ids": layout1.counts()})
        metrics.broker_connected.set_function(lambda: float(journal.connected))
        closures = Closures()  # the closed periods, from the stream's period events
        feed = ClosuresFeed(nc, STREAM, closures)
        await feed.start()
        last = await journal.last_on(ALL_PERIOD_EVENTS)
        if last is not None:
            try:
                async with asyncio.timeout(settings.nats_connect_timeout_seconds):
                    await feed.caught_up(last[0])
            except TimeoutError:
                log.warning("period events not all read at start (up to %d of %d)",
                            closures.position, last[0])
        app.state.journal = journal
        app.state.gazetteer = gazetteer_
        app.state.closures = closures
        app.state.service = IngestService(journal, gazetteer_, closures=closures)
        app.state.changes = ChangeService(journal, closures=closures)
        app.state.periods = PeriodService(journal, gazetteer_, applied=feed.caught_up)
        log.info("ingest ready on stream %s via %s; authentication %s", STREAM,
                 redact(settings.nats_url), "on" if app.state.authorizer.enabled else "OFF")
        try:
            yield
        finally:
            await feed.stop()
            await stop_broker(broker)

    async def readiness(request: Request) -> str | None:
        journal: Journal | None = getattr(request.app.state, "journal", None)
        if journal is None:
            return "starting"
        if not journal.connected:
            return "not connected to NATS"
        return await journal.stream_problem()

    app = FastAPI(title="cungdan ingest", version="0.1.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Accepts activity reports and appends them to NATS JetStream.")
    app.state.settings = settings
    metrics = app.state.metrics = IngestMetrics(registry)
    app.state.authorizer = authorizer or authorizer_from_settings(settings)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    app.include_router(http.router)
    imports_http.install(app)
    app.include_router(periods_http.router)
    install_common(app, service="ingest", registry=registry, readiness=readiness,
                   refusals=metrics.refusals)
    return app
