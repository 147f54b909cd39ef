"""HTTP adapter: JSON in, problem details or results out. No business rules here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from cungdan_contracts import ActivityReport, MalformedJSONError, loads_exact
from cungdan_service.problems import problem

from .metrics import IngestMetrics
from .service import IngestService, Outcome
from .validation import FieldProblem

router = APIRouter()

_REPORT_SCHEMA = ActivityReport.model_json_schema(ref_template="#/components/schemas/{model}")
_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": _REPORT_SCHEMA}}}}
_BATCH_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "array", "items": _REPORT_SCHEMA}}}}}


def _service(request: Request) -> IngestService:
    service: IngestService = request.app.state.service
    return service


def _metrics(request: Request) -> IngestMetrics:
    metrics: IngestMetrics = request.app.state.metrics
    return metrics


async def _json_body(request: Request) -> Any:
    return loads_exact(await request.body())


def _count(metrics: IngestMetrics, outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        metrics.reports.labels(outcome.status, outcome.province or "unknown").inc()
        if outcome.status == "rejected":
            for p in outcome.problems:
                metrics.rejections.labels(p.field.split(".")[0]).inc()


def _retry_after(request: Request) -> dict[str, str]:
    return {"Retry-After": str(request.app.state.settings.retry_after_seconds)}


def _malformed(exc: MalformedJSONError) -> JSONResponse:
    return problem(422, "malformed-json", "The body is not valid JSON",
                   errors=[FieldProblem("(body)", str(exc)).as_json()])


@router.post("/v1/activities", openapi_extra=_BODY, status_code=202,
             summary="Report one activity")
async def post_activity(request: Request) -> Response:
    try:
        raw = await _json_body(request)
    except MalformedJSONError as exc:
        _metrics(request).reports.labels("rejected", "unknown").inc()
        return _malformed(exc)
    outcome = await _service(request).submit(raw)
    _count(_metrics(request), [outcome])
    errors = [p.as_json() for p in outcome.problems]
    match outcome.status:
        case "accepted" | "duplicate":
            return JSONResponse({"id": outcome.id, "status": outcome.status, "seq": outcome.seq},
                                status_code=202 if outcome.status == "accepted" else 200)
        case "rejected":
            return problem(422, "invalid-report", "The report is invalid",
                           errors=errors, id=outcome.id)
        case "conflict":
            return problem(409, "id-conflict", "This id already names a different report",
                           errors=errors, id=outcome.id, seq=outcome.seq)
        case "unavailable":
            return problem(503, "broker-unavailable", "The event store is unavailable",
                           errors=errors, headers=_retry_after(request),
                           id=outcome.id)


@router.post("/v1/activities/batch", openapi_extra=_BATCH_BODY, summary="Report many activities")
async def post_batch(request: Request) -> Response:
    try:
        raw = await _json_body(request)
    except MalformedJSONError as exc:
        return _malformed(exc)
    limit = request.app.state.settings.max_batch
    if not isinstance(raw, list):
        return problem(422, "invalid-batch", "A batch must be a JSON array of reports",
                       errors=[FieldProblem("(body)", "expected a JSON array").as_json()])
    if not 1 <= len(raw) <= limit:
        return problem(422, "invalid-batch", "Batch size out of range", errors=[FieldProblem(
            "(body)", f"a batch holds 1 to {limit} reports; got {len(raw)}").as_json()])
    outcomes = await _service(request).submit_many(raw)
    _count(_metrics(request), outcomes)
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
    status = "rejected" if outcome.status == "conflict" else outcome.status
    item: dict[str, Any] = {"index": index, "id": outcome.id, "status": status}
    if outcome.seq is not None:
        item["seq"] = outcome.seq
    if outcome.problems:
        item["errors"] = [p.as_json() for p in outcome.problems]
    return item
