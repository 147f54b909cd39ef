"""The answer of any ingest route whose event store failed: 503 ``broker-unavailable``, with
``Retry-After`` (``CUNGDAN_RETRY_AFTER_SECONDS``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from cungdan_service.problems import problem

from .settings import IngestSettings

UNAVAILABLE = "The event store is unavailable"


def broker_unavailable(request: Request, *, title: str = UNAVAILABLE,
                       errors: Iterable[Mapping[str, str]] = (), detail: str | None = None,
                       **extra: Any) -> JSONResponse:
    """503 ``broker-unavailable``: retry after the configured seconds."""
    settings: IngestSettings = request.app.state.settings
    return problem(503, "broker-unavailable", title, detail=detail, errors=errors,
                   headers={"Retry-After": str(settings.retry_after_seconds)}, **extra)
