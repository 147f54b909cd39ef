"""What every cungdan HTTP service serves besides its API: health, readiness, metrics,
the AsyncAPI document of the events, request counting, and problem details instead of
stack traces."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .asyncapi import asyncapi_html, asyncapi_json
from .docs_pages import install_docs
from .openapi_answers import document_problems
from .problems import ProblemError, problem

log = logging.getLogger("cungdan")

Readiness = Callable[[Request], Awaitable[str | None]]
"""Returns why the service is not ready, or ``None`` when it is."""


def refusal_counter(service: str, registry: CollectorRegistry) -> Counter:
    return Counter(f"cungdan_{service}_refusals_total",
                   "Requests (and batch items) refused, by token name and reason.",
                   ["token", "reason"], registry=registry)


def install_common(app: FastAPI, *, service: str, registry: CollectorRegistry,
                   readiness: Readiness, refusals: Counter | None = None) -> None:
    """``refusals`` counts every :class:`ProblemError` (default: a new
    ``cungdan_<service>_refusals_total{token,reason}`` on ``registry``). The app is built
    with ``docs_url=None, redoc_url=None``: its ``/docs`` is :func:`.docs_pages.install_docs`'s."""
    install_docs(app)
    document_problems(app)
    requests = Counter(f"cungdan_{service}_http_requests_total",
                       "HTTP requests by route and status code.", ["route", "status"],
                       registry=registry)
    refused = refusals if refusals is not None else refusal_counter(service, registry)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        reason = await readiness(request)
        if reason is not None:
            return problem(503, "not-ready", "Not ready", detail=reason)
        return Response('{"status":"ready"}', media_type="application/json")

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi_document() -> Response:
        return Response(asyncapi_json(), media_type="application/json")

    @app.get("/asyncapi", include_in_schema=False)
    async def asyncapi_page() -> HTMLResponse:
        return HTMLResponse(asyncapi_html())

    counters: dict[tuple[str, int], Counter] = {}

    class CountRequests:
        """Pure ASGI (no task group, cancel scope and body stream per request, as
        BaseHTTPMiddleware has): count each response by route and status."""

        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            status = 500

            async def counting(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            await self.app(scope, receive, counting)
            key = (getattr(scope.get("route"), "path", "unmatched"), status)
            counter = counters.get(key)
            if counter is None:  # labels() validates and locks: once per route and status
                counter = counters[key] = requests.labels(key[0], str(status))
            counter.inc()

    app.add_middleware(CountRequests)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        return problem(422, "invalid-request", "The request is invalid", errors=[
            {"field": ".".join(str(p) for p in e["loc"] if p not in ("query", "path", "body")),
             "reason": str(e["msg"])} for e in exc.errors()])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        phrase = HTTPStatus(exc.status_code).phrase
        return problem(exc.status_code, phrase.lower().replace(" ", "-"), phrase,
                       detail=str(exc.detail), headers=dict(exc.headers or {}))

    @app.exception_handler(ProblemError)
    async def refusal(_: Request, exc: ProblemError) -> Response:
        refused.labels(exc.caller, exc.reason).inc()
        return exc.response()

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        log.error("unexpected error", exc_info=exc)
        return problem(500, "internal", "Internal error",
                       detail="the error was logged; the request may be retried")
