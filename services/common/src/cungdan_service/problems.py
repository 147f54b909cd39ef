"""RFC 9457 problem details: every refusal names its fields and reasons."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"
ANONYMOUS = "(none)"
"""The ``token`` label of a refusal without a known token."""


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


class ProblemError(Exception):
    """A refusal raised anywhere below a route, answered as problem+json by the app.

    ``reason`` is a short stable code (``missing-token``, ``rate-limited``...), counted
    with ``caller`` (the caller's token name, or ``(none)``) by the service's refusal metric.
    """

    def __init__(self, status: int, reason: str, title: str, detail: str, *,
                 caller: str = ANONYMOUS, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.title = title
        self.detail = detail
        self.caller = caller
        self.headers = headers

    def response(self) -> JSONResponse:
        return problem(self.status, self.reason, self.title, detail=self.detail,
                       headers=self.headers, reason=self.reason)
