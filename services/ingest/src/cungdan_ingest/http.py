"""HTTP adapter: JSON in, problem details or results out. No business rules here.

Every request passes, in order: the token (401, or 403 without the ``report``
role, when auth is on), the token's rate limit (429), the body size (413), JSON
(422); then each report is validated (422) and checked against the token's
provinces (403; per item in a batch).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cungdan_contracts import ActivityReport, MalformedJSONError, loads_exact
from cungdan_service.auth import Principal, Reason, Role, requires
from cungdan_service.problems import ANONYMOUS, PROBLEM_JSON, problem

from .limits import RateLimiter, read_body
from .metrics import IngestMetrics
from .service import IngestService, Outcome
from .settings import IngestSettings
from .validation import FieldProblem

router = APIRouter()



def _inlined(schema: Any, defs: dict[str, Any]) -> Any:
    """``schema`` with every ``#/$defs/...`` reference replaced by its definition, so that
    the OpenAPI document is self-contained (the report models are not recursive)."""
    if isinstance(schema, list):
        return [_inlined(s, defs) for s in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref", "")
    if ref.startswith("#/$defs/"):
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return {**_inlined(defs[ref.removeprefix("#/$defs/")], defs), **rest}
    return {k: _inlined(v, defs) for k, v in schema.items() if k != "$defs"}


_MODEL_SCHEMA = ActivityReport.model_json_schema()
_REPORT_SCHEMA = _inlined(_MODEL_SCHEMA, _MODEL_SCHEMA.get("$defs", {}))
_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": _REPORT_SCHEMA}}}}
_BATCH_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "array", "items": _REPORT_SCHEMA}}}}}


def _refusal(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": {"type": "object"}}}}


_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: _refusal("No token, or an unknown or revoked one (auth on)"),
    403: _refusal("The token lacks the report role, or the report lies outside its provinces"),
    413: _refusal("Body too large"),
    422: _refusal("Malformed JSON or invalid report(s); each problem names its field"),
    429: _refusal("Rate limit of the token exceeded; see Retry-After"),
    503: _refusal("The event store is unavailable; see Retry-After"),
}
_bearer = HTTPBearer(auto_error=False, description="API token (`cungdan token create`)")
_reporter = requires(Role.REPORT)


async def _caller(
    request: Request,
    principal: Annotated[Principal | None, Depends(_reporter)],
    _: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal | None:
    """The authenticated reporter (``None`` with auth off), within its rate limit."""
    if principal is not None:
        limiter: RateLimiter = request.app.state.rate_limiter
        limiter.admit(principal.name)
    return principal


Caller = Annotated[Principal | None, Depends(_caller)]


def _service(request: Request) -> IngestService:
    service: IngestService = request.app.state.service
    return service


def _metrics(request: Request) -> IngestMetrics:
    metrics: IngestMetrics = request.app.state.metrics
    return metrics


def _settings(request: Request) -> IngestSettings:
    settings: IngestSettings = request.app.state.settings
    return settings


def _token(caller: Principal | None) -> str:
    return caller.name if caller else ANONYMOUS


async def _json_body(request: Request, limit: int, caller: Principal | None) -> Any:
    return loads_exact(await read_body(request, limit, _token(caller)))


def _count(metrics: IngestMetrics, outcomes: list[Outcome], caller: Principal | None) -> None:
    for outcome in outcomes:
        metrics.reports.labels(outcome.status, outcome.province or "unknown").inc()
        if outcome.status == "rejected":
            for p in outcome.problems:
                metrics.rejections.labels(p.field.split(".")[0]).inc()
        elif outcome.status == "forbidden":
            metrics.refusals.labels(_token(caller), Reason.OUT_OF_SCOPE).inc()


def _retry_after(request: Request) -> dict[str, str]:
    return {"Retry-After": str(_settings(request).retry_after_seconds)}


def _malformed(exc: MalformedJSONError) -> JSONResponse:
    return problem(422, "malformed-json", "The body is not valid JSON",
                   errors=[FieldProblem("(body)", str(exc)).as_json()])


@router.post("/v1/activities", openapi_extra=_BODY, status_code=202, responses=_REFUSALS,
             summary="Report one activity")
async def post_activity(request: Request, caller: Caller) -> Response:
    try:
        raw = await _json_body(request, _settings(request).max_body_bytes, caller)
    except MalformedJSONError as exc:
        _metrics(request).reports.labels("rejected", "unknown").inc()
        return _malformed(exc)
    outcome = await _service(request).submit(raw, caller)
    _count(_metrics(request), [outcome], caller)
    errors = [p.as_json() for p in outcome.problems]
    match outcome.status:
        case "accepted" | "duplicate":
            return JSONResponse({"id": outcome.id, "status": outcome.status, "seq": outcome.seq},
                                status_code=202 if outcome.status == "accepted" else 200)
        case "rejected":
            return problem(422, "invalid-report", "The report is invalid",
                           errors=errors, id=outcome.id)
        case "forbidden":
            return problem(403, Reason.OUT_OF_SCOPE, "Outside the token's provinces",
                           errors=errors, id=outcome.id, reason=Reason.OUT_OF_SCOPE)
        case "conflict":
            return problem(409, "id-conflict", "This id already names a different report",
                           errors=errors, id=outcome.id, seq=outcome.seq)
        case "unavailable":
            return problem(503, "broker-unavailable", "The event store is unavailable",
                           errors=errors, headers=_retry_after(request),
                           id=outcome.id)


@router.post("/v1/activities/batch", openapi_extra=_BATCH_BODY, responses=_REFUSALS,
             summary="Report many activities")
async def post_batch(request: Request, caller: Caller) -> Response:
    settings = _settings(request)
    try:
        raw = await _json_body(request, settings.max_batch_body_bytes, caller)
    except MalformedJSONError as exc:
        return _malformed(exc)
    limit = settings.max_batch
    if not isinstance(raw, list):
        return problem(422, "invalid-batch", "A batch must be a JSON array of reports",
                       errors=[FieldProblem("(body)", "expected a JSON array").as_json()])
    if not 1 <= len(raw) <= limit:
        return problem(422, "invalid-batch", "Batch size out of range", errors=[FieldProblem(
            "(body)", f"a batch holds 1 to {limit} reports; got {len(raw)}").as_json()])
    outcomes = await _service(request).submit_many(raw, caller)
    _count(_metrics(request), outcomes, caller)
    results = [_item(i, o) for i, o in enumerate(outcomes)]
    counts = dict.fromkeys(("accepted", "duplicate", "rejected", "unavailable"), 0)
    for r in results:
        counts[r["status"]] += 1
    if counts["unavailable"]:
        return problem(503, "broker-unavailable",
                       "The event store is unavailable; resend the batch (ids make it safe)",
                       headers=_retry_after(request), counts=counts, results=results)
    return JSONResponse({"counts": counts, "results": results})


def _item(index: int, outcome: Outcome) -> dict[str, Any]:
    status = "rejected" if outcome.status in ("conflict", "forbidden") else outcome.status
    item: dict[str, Any] = {"index": index, "id": outcome.id, "status": status}
    if outcome.status == "forbidden":
        item["reason"] = str(Reason.OUT_OF_SCOPE)
    if outcome.seq is not None:
        item["seq"] = outcome.seq
    if outcome.problems:
        item["errors"] = [p.as_json() for p in outcome.problems]
    return item
