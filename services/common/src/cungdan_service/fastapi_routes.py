"""A route that calls its endpoint with the request and the caller, past FastAPI's solving.

For hot endpoints that take only the request and the caller (they read and validate
their body themselves): FastAPI documents them from their signature as usual, but each
request calls the endpoint with the request and the caller directly, without FastAPI's
per-request parameter solving (query, cookies, headers, a sub-response, the dependency
cache), which such endpoints do not use and which costs a visible share of a single
report's CPU.

Whether a route fits is read, once when its handler is built, from FastAPI's
``Dependant`` (the parameters and dependencies FastAPI found in the signature), and, for
a route included in another router, from the context FastAPI 0.165 builds the included
handler in (``fastapi.routing._effective_route_context_var``, which holds the including
routers' dependencies). These are FastAPI internals, so the shortcut is taken only with a
FastAPI version it was tested with (:data:`FASTAPI`) that has every attribute it reads;
otherwise, and for any other signature, the route gets FastAPI's own handler, which gives
the same responses (``tests/unit/test_fastapi_routes.py``).

The caller dependency runs as such, not through ``app.dependency_overrides``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

import fastapi.routing
from fastapi import Request, Response
from fastapi.routing import APIRoute

from .versions import VersionsTested

FASTAPI = VersionsTested("fastapi", (0, 165), (0, 165))
"""The FastAPI versions whose ``Dependant`` the shortcut was tested against."""

_PARAMS = ("path_params", "query_params", "header_params", "cookie_params", "body_params",
           "dependencies")
"""What a ``Dependant`` found to solve: lists, empty for a dependency without any."""
_SPECIAL = ("websocket_param_name", "http_connection_param_name", "response_param_name",
            "background_tasks_param_name", "security_scopes_param_name")
"""Parameters FastAPI fills with objects of its own (None when absent)."""
_READ = (*_PARAMS, *_SPECIAL, "request_param_name", "call", "name")

_ABSENT = object()

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _missing(*dependants: object) -> list[str]:
    return sorted({f"Dependant.{name}" for d in dependants for name in _READ
                   if getattr(d, name, _ABSENT) is _ABSENT})


def _async(call: object) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None))  # noqa: B004 - an instance whose __call__ is async


def _only_request(dependant: Any, dependencies: int) -> bool:
    """``dependant`` takes the request, ``dependencies`` sub-dependencies, nothing else."""
    return (dependant.request_param_name is not None
            and len(dependant.dependencies) == dependencies
            and not any(getattr(dependant, name) for name in _PARAMS if name != "dependencies")
            and all(getattr(dependant, name) is None for name in _SPECIAL))


def _included(route: APIRoute) -> Any:
    """The route as FastAPI builds this handler of it: in FastAPI 0.165, an included
    route's handler is built with the route's merged settings in a context variable."""
    current = getattr(fastapi.routing, "_effective_route_context_var", None)
    context = current.get() if current is not None else None
    return context if getattr(context, "original_route", None) is route else route


class RequestAndCallerRoute(APIRoute):
    """Calls an endpoint ``(request, caller)`` with the request and its one dependency's
    answer; any other route gets FastAPI's own handler."""

    shortcut: ClassVar[bool] = True
    """False for FastAPI's own handler on every route (the tests' reference)."""

    def get_route_handler(self) -> Handler:
        fast = self._request_and_caller() if self.shortcut else None
        if fast is None:
            return super().get_route_handler()
        endpoint, request_name, caller_name, caller = fast

        async def handler(request: Request) -> Response:
            response: Response = await endpoint(
                **{request_name: request, caller_name: await caller(request)})
            return response

        return handler

    def _request_and_caller(self) -> tuple[Callable[..., Any], str, str,
                                           Callable[..., Any]] | None:
        """(endpoint, its request parameter, its caller parameter, the caller
        dependency) when the shortcut may serve this route."""
        route = _included(self)
        dependant = route.dependant
        deps = getattr(dependant, "dependencies", None) or []
        if not FASTAPI.allows("FastAPI's request and caller shortcut",
                              _missing(dependant, *deps[:1])):
            return None
        if (route.dependencies or not _only_request(dependant, 1)
                or not _only_request(deps[0], 0) or deps[0].call is None
                or deps[0].name is None or not _async(self.endpoint)
                or not _async(deps[0].call)):
            return None
        return self.endpoint, dependant.request_param_name, deps[0].name, deps[0].call
