"""RFC 9457 problem details: every refusal names its fields and reasons."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"


def problem(status: int, kind: str, title: str, *, detail: str | None = None,
            errors: Iterable[Mapping[str, str]] = (), headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    """A problem+json response; ``errors`` are ``{"field", "reason"}`` pairs."""
    body: dict[str, Any] = {"type": f"urn:cungdan:problem:{kind}", "title": title,
                            "status": status}
    listed = [dict(e) for e in errors]
    if detail is None and listed:
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in listed)
    if detail is not None:
        body["detail"] = detail
    if listed:
        body["errors"] = listed
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
