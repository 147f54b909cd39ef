"""The request-and-caller shortcut (``cungdan_service.fastapi_routes``) answers every
request as FastAPI's own handler does, is taken only where it fits, and gives way to
FastAPI's handler on a FastAPI version or a ``Dependant`` it was not tested with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer

from cungdan_service import fastapi_routes
from cungdan_service.fastapi_routes import RequestAndCallerRoute
from cungdan_service.versions import VersionsTested


class _Caller(HTTPBearer):
    """Like ingest's caller: one security dependency taking the request."""

    def __init__(self) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer")

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        token = request.headers.get("authorization")
        if token == "Bearer refused":
            raise HTTPException(403, "not yours", headers={"X-Why": "scope"})
        return None if token is None else token.removeprefix("Bearer ")


CALLER = _Caller()
Caller = Annotated[str | None, Security(CALLER)]


async def report(request: Request, caller: Caller) -> Response:
    body = await request.body()
    if body == b"boom":
        raise HTTPException(422, "malformed", headers={"X-Field": "(body)"})
    return JSONResponse({"caller": caller, "size": len(body), "query": str(request.url.query)},
                        status_code=202, headers={"X-Seq": "7"})


class _Fallback(RequestAndCallerRoute):
    shortcut = False


def _app(route_class: type[RequestAndCallerRoute], *,
         router_dependencies: list[Any] | None = None) -> FastAPI:
    router = APIRouter()
    router.add_api_route("/v1/report", report, methods=["POST"], status_code=202,
                         route_class_override=route_class)
    app = FastAPI()
    app.include_router(router, dependencies=router_dependencies)
    app.state.route = router.routes[0]
    return app


REQUESTS: list[dict[str, Any]] = [
    {"content": b'{"a": 1}', "headers": {"Authorization": "Bearer tok-1"}},
    {"content": b"{}"},
    {"content": b"x" * 10_000, "headers": {"Authorization": "Bearer refused"}},
    {"content": b"boom", "headers": {"Authorization": "Bearer tok-1"}},
    {"content": b"[]", "params": {"page": "2"}},
]


async def _answers(app: FastAPI) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://ingest") as client:
        answers = []
        for request in REQUESTS:
            response = await client.post("/v1/report", **request)
            answers.append((response.status_code, sorted(response.headers.items()),
                            response.content))
        return answers


def _route(app: FastAPI) -> RequestAndCallerRoute:
    route = app.state.route
    assert isinstance(route, RequestAndCallerRoute)
    return route


async def _served_by_shortcut(app: FastAPI) -> bool:
    """FastAPI's handler honours ``app.dependency_overrides``; the shortcut does not."""
    app.dependency_overrides[CALLER] = lambda: "overridden"
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://ingest") as client:
            response = await client.post("/v1/report", headers={"Authorization": "Bearer a"})
    finally:
        app.dependency_overrides.clear()
    caller = response.json()["caller"]
    assert caller in ("a", "overridden")
    return bool(caller == "a")


async def test_both_handlers_give_the_same_responses() -> None:
    fast, reference = _app(RequestAndCallerRoute), _app(_Fallback)
    assert await _served_by_shortcut(fast) and not await _served_by_shortcut(reference)
    answers = await _answers(fast)
    assert [status for status, _, _ in answers] == [202, 202, 403, 422, 202]
    assert answers == await _answers(reference)


def test_the_openapi_document_is_fastapis() -> None:
    assert _app(RequestAndCallerRoute).openapi() == _app(_Fallback).openapi()


def test_the_installed_fastapi_is_one_tested() -> None:
    """A FastAPI upgrade past FASTAPI fails here (ingest would answer the same, slower)."""
    assert fastapi_routes.FASTAPI.allows("test")


async def test_an_untested_fastapi_gets_fastapis_handler(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastapi_routes, "FASTAPI", VersionsTested("fastapi", (0, 1), (0, 1)))
    app = _app(RequestAndCallerRoute)
    assert _route(app)._request_and_caller() is None
    assert not await _served_by_shortcut(app)


def test_a_dependant_without_an_attribute_read_gets_fastapis_handler(
        monkeypatch: pytest.MonkeyPatch) -> None:
    route = _route(_app(RequestAndCallerRoute))
    assert route._request_and_caller() is not None

    class Older:
        """A Dependant of a FastAPI without ``request_param_name``."""

        def __init__(self, dependant: Any) -> None:
            for name in fastapi_routes._READ:
                if name != "request_param_name":
                    setattr(self, name, getattr(dependant, name))

    monkeypatch.setattr(route, "dependant", Older(route.dependant))
    assert route._request_and_caller() is None


async def _reads_query(request: Request, caller: Caller, page: int = 1) -> Response:
    return Response()


async def _no_caller(request: Request) -> Response:
    return Response()


def _sync_endpoint(request: Request, caller: Caller) -> Response:
    return Response()


async def _response_too(request: Request, response: Response, caller: Caller) -> Response:
    return response


def _sync_caller(request: Request) -> str:
    return "x"


async def _sync_dependency(request: Request,
                           caller: Annotated[str, Depends(_sync_caller)]) -> Response:
    return Response()


@pytest.mark.parametrize("endpoint", [_reads_query, _no_caller, _sync_endpoint,
                                      _response_too, _sync_dependency])
def test_any_other_signature_gets_fastapis_handler(endpoint: Callable[..., Any]) -> None:
    route = RequestAndCallerRoute("/v1/x", endpoint, methods=["POST"])
    assert route._request_and_caller() is None


async def test_an_including_routers_dependencies_still_run() -> None:
    """FastAPI builds an included route's handler with the routers' dependencies: the
    shortcut, which would skip them, gives way."""

    async def closed() -> None:
        raise HTTPException(503, "closed")

    app = _app(RequestAndCallerRoute, router_dependencies=[Depends(closed)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://ingest") as client:
        response = await client.post("/v1/report", content=b"{}")
    assert response.status_code == 503
