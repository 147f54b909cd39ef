"""Composition root of the projector: settings -> SQL store -> NATS projection -> HTTP."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry

from cungdan_contracts import Gazetteer, load_gazetteer
from cungdan_service.nats import connect_broker
from cungdan_service.web import install_common

from . import http
from .consumer import Projection
from .settings import ProjectorSettings
from .store import ReadModelStore, make_engine

log = logging.getLogger("cungdan.projector")


def create_app(settings: ProjectorSettings | None = None, gazetteer: Gazetteer | None = None,
               registry: CollectorRegistry | None = None) -> FastAPI:
    settings = settings or ProjectorSettings()
    registry = registry or CollectorRegistry()
    gazetteer = gazetteer or load_gazetteer()
    store = ReadModelStore(make_engine(settings.database_url))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store.create_schema()
        broker = await connect_broker(settings.nats_url, settings.nats_connect_timeout_seconds)
        projection = Projection(
            broker.connection, store, gazetteer, batch_max=settings.batch_max,
            queue_max=settings.queue_max, retry_max_seconds=settings.retry_max_seconds)
        await projection.start()
        app.state.projection = projection
        try:
            yield
        finally:
            await projection.stop()
            await broker.stop()
            store.engine.dispose()

    def readiness(request: Request) -> str | None:
        projection: Projection | None = getattr(request.app.state, "projection", None)
        if projection is None:
            return "starting"
        if not projection.ready:
            return projection.problem or "not connected to NATS"
        return None

    app = FastAPI(title="cungdan projector", version="0.1.0", lifespan=lifespan,
                  description="Totals per locality, campaign, indicator and period.")
    app.state.settings = settings
    app.state.store = store
    app.state.gazetteer = gazetteer
    app.include_router(http.router)
    install_common(app, service="projector", registry=registry, readiness=readiness)
    return app
