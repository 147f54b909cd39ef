"""HTTP adapter: JSON in, problem details or results out. No business rules here.

Every request passes, in order: the token (401, or 403 without the ``report``
role, when auth is on), the token's rate limit (429), the body size (413), JSON
(422); then each report is validated (422) and checked against the token's
provinces (403; per item in a batch).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response, Security
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter

from cungdan_contracts import (
    ActivityReportV1,
    ActivityReportV2,
    CorrectionRequest,
    MalformedJSONError,
    Quantity,
    RetractionRequest,
    lifecycle,
    loads_exact,
)
from cungdan_service.auth import (
    Principal,
    Reason,
    Role,
    requires,
    scope_refusal,
)
from cungdan_service.fastapi_routes import RequestAndCallerRoute as _RequestAndCallerRoute
from cungdan_service.openapi_answers import TOKEN_REFUSALS, Refusal, answers
from cungdan_service.problems import ANONYMOUS, problem
from cungdan_service.responses import FastJSONResponse

from .answer_models import ActivityHistory, BatchAnswer, Stored
from .callers import RateLimitedCaller
from .changes import ChangeOutcome, ChangeService, ScopeCheck
from .limits import read_body
from .metrics import IngestMetrics
from .periods_http import PERIOD_CLOSED, period_closed
from .service import IngestService, Outcome
from .settings import IngestSettings
from .unavailable import UNAVAILABLE, broker_unavailable
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


def _schema_of(model: type[BaseModel]) -> Any:
    schema = model.model_json_schema()
    return _inlined(schema, schema.get("$defs", {}))


_REPORT_SCHEMA = {"anyOf": [_schema_of(ActivityReportV1), _schema_of(ActivityReportV2)]}
_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": _REPORT_SCHEMA}}}}
_BATCH_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "array", "items": _REPORT_SCHEMA}}}}}


_REPORT_REFUSALS: tuple[Refusal, ...] = (
    401, (403, "The token lacks the report role, or the report lies outside its provinces"),
    413, (422, "Malformed JSON or an invalid report; each problem names its field"), 429,
    (503, "The event store is unavailable; see Retry-After"))
_CHANGE_REFUSALS: tuple[Refusal, ...] = (
    401, (403, "The token lacks the correct role, or the activity lies outside its "
               "provinces"),
    (404, "No such activity"), 413,
    (422, "Malformed JSON, an invalid change or activity id; each problem names its field"),
    429, (503, "The event store is unavailable; see Retry-After"))


def _stored(*refused: Refusal) -> dict[str, Any]:
    """The answers of a route storing one event: 202 stored now, 200 stored before."""
    return answers(Stored, *refused, status=202, description="Stored now", also={
        200: (Stored, "Stored before with the same content: nothing new is stored")})


Caller = Annotated[Principal | None, Security(RateLimitedCaller(Role.REPORT))]
Corrector = Annotated[Principal | None, Security(RateLimitedCaller(Role.CORRECT))]


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
        metrics.report(outcome.status, outcome.province or "unknown")
        if outcome.status in ("rejected", "conflict"):
            for p in outcome.problems:
                metrics.rejection(p.kind)
        elif outcome.status == "forbidden":
            metrics.refusals.labels(_token(caller), Reason.OUT_OF_SCOPE).inc()
        elif outcome.status == "period_closed":
            metrics.period_refusals.labels("report").inc()


def _malformed(exc: MalformedJSONError) -> JSONResponse:
    return problem(422, "malformed-json", "The body is not valid JSON",
                   errors=[FieldProblem("(body)", str(exc)).as_json()])


async def post_activity(request: Request, caller: Caller) -> Response:
    try:
        raw = await _json_body(request, _settings(request).max_body_bytes, caller)
    except MalformedJSONError as exc:
        _metrics(request).report("rejected", "unknown")
        _metrics(request).rejection("malformed_json")
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
        case "period_closed":
            return period_closed(errors, outcome.closing, id=outcome.id)
        case "unavailable":
            return broker_unavailable(request, errors=errors, id=outcome.id)


router.add_api_route("/v1/activities", post_activity, methods=["POST"], openapi_extra=_BODY,
                     summary="Report one activity", route_class_override=_RequestAndCallerRoute,
                     **_stored(*_REPORT_REFUSALS,
                               (409, "This id already names a different report")))


async def post_batch(request: Request, caller: Caller) -> Response:
    settings = _settings(request)
    try:
        raw = await _json_body(request, settings.max_batch_body_bytes, caller)
    except MalformedJSONError as exc:
        _metrics(request).rejection("malformed_json")
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
        return broker_unavailable(
            request, title=f"{UNAVAILABLE}; resend the batch (ids make it safe)",
            counts=counts, results=results)
    return FastJSONResponse({"counts": counts, "results": results})


router.add_api_route("/v1/activities/batch", post_batch, methods=["POST"],
                     openapi_extra=_BATCH_BODY, summary="Report many activities",
                     route_class_override=_RequestAndCallerRoute,
                     **answers(BatchAnswer, *_REPORT_REFUSALS, (
                         403, "The token lacks the report role (a report outside its "
                              "provinces is rejected in the results)"),
                               description="Each report's outcome"))


def _item(index: int, outcome: Outcome) -> dict[str, Any]:
    status = ("rejected" if outcome.status in ("conflict", "forbidden", "period_closed")
              else outcome.status)
    item: dict[str, Any] = {"index": index, "id": outcome.id, "status": status}
    if outcome.status == "forbidden":
        item["reason"] = str(Reason.OUT_OF_SCOPE)
    if outcome.status == "period_closed" and outcome.closing is not None:
        item["reason"] = PERIOD_CLOSED
        item["closing"] = outcome.closing.as_json()
    if outcome.seq is not None:
        item["seq"] = outcome.seq
    if outcome.problems:
        item["errors"] = [p.as_json() for p in outcome.problems]
    return item


# --- corrections, retractions, history ---------------------------------------------------------

_reader = requires(Role.READ)


def _changes(request: Request) -> ChangeService:
    changes: ChangeService = request.app.state.changes
    return changes


def _scope(caller: Principal | None) -> ScopeCheck | None:
    """Only the province that reported an activity (a token covering it) may change it."""
    if caller is None:
        return None
    return lambda admin_map, province: scope_refusal(caller, Role.CORRECT, admin_map, province)


def _change_response(request: Request, outcome: ChangeOutcome,
                     caller: Principal | None) -> Response:
    errors = [p.as_json() for p in outcome.problems]
    metrics = _metrics(request)
    for p in outcome.problems:
        if outcome.status in ("rejected", "conflict"):
            metrics.rejection(p.kind)
    match outcome.status:
        case "accepted" | "duplicate":
            return JSONResponse({"id": outcome.id, "status": outcome.status, "seq": outcome.seq},
                                status_code=202 if outcome.status == "accepted" else 200)
        case "rejected":
            return problem(422, "invalid-change", "The change is invalid", errors=errors)
        case "not_found":
            return problem(404, "unknown-activity", "No such activity", errors=errors)
        case "forbidden":
            metrics.refusals.labels(_token(caller), Reason.OUT_OF_SCOPE).inc()
            return problem(403, Reason.OUT_OF_SCOPE, "Outside the token's provinces",
                           errors=errors, reason=Reason.OUT_OF_SCOPE)
        case "conflict":
            return problem(409, "change-conflict", "This change conflicts with the log",
                           errors=errors, seq=outcome.seq)
        case "period_closed":
            metrics.period_refusals.labels("change").inc()
            return period_closed(errors, outcome.closing, id=outcome.id)
        case "unavailable":
            return broker_unavailable(request, errors=errors)


_CORRECTION_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": _schema_of(CorrectionRequest)}}}}
_RETRACTION_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": _schema_of(RetractionRequest)}}}}


@router.post("/v1/activities/{activity_id}/corrections", openapi_extra=_CORRECTION_BODY,
             summary="Correct the measures of an earlier activity",
             **_stored(*_CHANGE_REFUSALS, (409, "Retracted, or the id names another correction")))
async def post_correction(request: Request, activity_id: UUID, caller: Corrector) -> Response:
    return await _change(request, activity_id, caller, _changes(request).correct)


@router.post("/v1/activities/{activity_id}/retraction", openapi_extra=_RETRACTION_BODY,
             summary="Retract an earlier activity (final)",
             **_stored(*_CHANGE_REFUSALS, (409, "Already retracted for another reason")))
async def post_retraction(request: Request, activity_id: UUID, caller: Corrector) -> Response:
    return await _change(request, activity_id, caller, _changes(request).retract)


async def _change(request: Request, activity_id: UUID, caller: Principal | None,
                  action: Callable[..., Awaitable[ChangeOutcome]]) -> Response:
    """Read the body, apply ``action`` (correct or retract) as ``caller``, answer."""
    try:
        raw = await _json_body(request, _settings(request).max_body_bytes, caller)
    except MalformedJSONError as exc:
        _metrics(request).rejection("malformed_json")
        return _malformed(exc)
    outcome = await action(activity_id, raw, reported_by=caller.name if caller else None,
                           may_change=_scope(caller))
    return _change_response(request, outcome, caller)


_MEASURES: TypeAdapter[dict[str, Decimal]] = TypeAdapter(dict[str, Quantity])
"""Measures in the JSON the events carry them in (decimal strings), as in the history."""


@router.get("/v1/activities/{activity_id}", summary="An activity's full history",
            dependencies=[Depends(_reader)],
            **answers(ActivityHistory, *TOKEN_REFUSALS, (404, "No such activity"),
                      (422, "The activity id is not a UUID"),
                      (503, "The event store is unavailable; see Retry-After")))
async def get_activity(request: Request, activity_id: UUID) -> Response:
    try:
        history = await _changes(request).history(activity_id)
    except Exception as exc:  # noqa: BLE001 - any broker failure: try again later
        return broker_unavailable(
            request, detail=f"reading the log failed: {exc.__class__.__name__}")
    if history is None:
        return problem(404, "unknown-activity", "No such activity",
                       detail=f"no activity {activity_id} in the log")
    events = [event for _, event in history]
    status = "retracted" if lifecycle.current(events).retracted else "active"
    measures = _MEASURES.dump_python(dict(lifecycle.current_measures(events)), mode="json")
    return JSONResponse({"id": str(activity_id), "status": status, "measures": measures,
                         "history": [_history_entry(seq, event) for seq, event in history]})


def _history_entry(seq: int, event: BaseModel) -> dict[str, Any]:
    body: dict[str, Any] = event.model_dump(mode="json")
    return {"seq": seq, **body}
