"""Composition root of the projector: settings -> SQL read model -> NATS projection -> HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import OperationalError

from cungdan_contracts import NATION, AdminMap, Gazetteer, load_gazetteer
from cungdan_contracts.conversion import load_conversion
from cungdan_service.nats import connect_broker, stop_broker
from cungdan_service.problems import problem
from cungdan_service.web import install_common

from . import http, periods_http, ui
from .deadletters import DeadLetterPublisher, ensure_deadletter_stream
from .engine import make_engine
from .generations import ReadModel
from .lazy_headers import parse_headers_when_read
from .lease import lease_for
from .metrics import ProjectorMetrics
from .redrive import Redriver
from .reform import ReformViews
from .rollup import PROJECTION_VERSION
from .runtime import ProjectorRuntime
from .settings import ProjectorSettings

log = logging.getLogger("cungdan.projector")


def current_provinces(gazetteer: Gazetteer) -> list[tuple[str, str]]:
    """(map, province) of each province of the current map (2025): all should report."""
    return [(AdminMap.Y2025.value, p.code) for p in gazetteer.children(AdminMap.Y2025, NATION)]


def create_app(settings: ProjectorSettings | None = None, gazetteer: Gazetteer | None = None,
               registry: CollectorRegistry | None = None,
               version: int = PROJECTION_VERSION) -> FastAPI:
    settings = settings or ProjectorSettings()
    registry = registry or CollectorRegistry()
    gazetteer = gazetteer or load_gazetteer()
    model = ReadModel(make_engine(settings.database_url))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        model.create_schema()
        broker = await connect_broker(settings.nats_url, settings.nats_connect_timeout_seconds)
        nc = broker.connection
        parse_headers_when_read(nc)
        await ensure_deadletter_stream(nc)
        lease = lease_for(model.engine, settings.instance_name,
                          interval=settings.lease_interval_seconds)
        runtime = ProjectorRuntime(nc, model, gazetteer, DeadLetterPublisher(nc), settings,
                                   version=version, metrics=ProjectorMetrics(
                                       registry, expected=current_provinces(gazetteer)),
                                   lease=lease)
        await runtime.start()
        app.state.runtime = runtime
        app.state.nc = nc
        app.state.redriver = Redriver(nc, runtime, gazetteer)
        try:
            yield
        finally:
            await runtime.stop()
            await stop_broker(broker)
            model.engine.dispose()

    async def readiness(request: Request) -> str | None:
        """Why this instance is not ready, or None: a standby is ready to serve reads."""
        runtime: ProjectorRuntime | None = getattr(request.app.state, "runtime", None)
        if runtime is None:
            return "starting"
        if runtime.problem is not None:
            return runtime.problem
        try:
            await asyncio.wait_for(asyncio.to_thread(model.ping), timeout=2.0)
        except Exception as exc:  # noqa: BLE001 - any failure means: not ready, and why
            return f"database unavailable: {exc.__class__.__name__}"
        if runtime.rebuilding is not None:
            return "rebuilding the read model (reads are served from the previous one)"
        return None

    app = FastAPI(title="cungdan projector", version="0.1.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Totals per locality, campaign, indicator and period.")
    app.state.settings = settings
    app.state.model = model
    app.state.readiness = readiness
    app.state.gazetteer = gazetteer
    app.state.reform_views = ReformViews(gazetteer, load_conversion)
    app.include_router(http.router)
    app.include_router(periods_http.router)
    app.include_router(ui.router)

    @app.exception_handler(OperationalError)
    async def database_down(_: Request, exc: OperationalError) -> Response:
        log.warning("read model unavailable: %s", exc.__class__.__name__)
        return problem(503, "read-model-unavailable", "The read model is unavailable",
                       detail="the database does not answer; retry shortly",
                       headers={"Retry-After": "2"})
    install_common(app, service="projector", registry=registry, readiness=readiness)
    return app
