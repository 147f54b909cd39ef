"""HTTP adapter of reporting periods: close, reopen, control totals, and their history.

``POST /v1/periods/{province}/{period}/close?map=`` (role ``approve``, a token covering the
province), ``.../reopen?map=`` (a national ``admin`` token), ``.../control-totals?map=``
(role ``approve``; the period must be closed) are answered like reports: 202 with the
event's stream sequence, 200 for the same request again (a duplicate). A report dated in
a closed period is refused with 409 ``period-closed`` (:func:`period_closed`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, Security
from fastapi.responses import JSONResponse

from cungdan_contracts import MalformedJSONError, loads_exact
from cungdan_contracts.periods import ControlTotalsRequest, PeriodEvent, PeriodRequest
from cungdan_service.auth import Principal, Reason, Role, requires
from cungdan_service.openapi_answers import TOKEN_REFUSALS, Refusal, answers
from cungdan_service.problems import ANONYMOUS, problem

from .answer_models import PeriodAction, PeriodHistory
from .callers import RateLimitedCaller
from .closures import Closing
from .limits import read_body
from .metrics import IngestMetrics
from .period_actions import PeriodOutcome, PeriodService, Target
from .settings import IngestSettings
from .unavailable import broker_unavailable
from .validation import FieldProblem

PERIOD_CLOSED = "period-closed"

router = APIRouter()


def period_closed(errors: list[dict[str, str]], closing: Closing | None,
                  **extra: Any) -> JSONResponse:
    """409 ``period-closed``: naming the period, and when and by whom it was closed."""
    named = closing.as_json() if closing is not None else {}
    return problem(409, PERIOD_CLOSED, "Dated in a closed period", errors=errors,
                   closing=named, **extra)


Approver = Annotated[Principal | None, Security(RateLimitedCaller(Role.APPROVE))]
Admin = Annotated[Principal | None, Security(RateLimitedCaller(Role.ADMIN))]
MapQuery = Annotated[str | None, Query(
    alias="map", description="legacy or 2025; default: the map in force on the period's "
                             "first day")]


def _service(request: Request) -> PeriodService:
    service: PeriodService = request.app.state.periods
    return service


_ACTION_REFUSALS: tuple[Refusal, ...] = (
    401, 413, 429,
    (422, "Invalid province, period, map or body; each problem names its field"),
    (503, "The event store is unavailable; see Retry-After"))


def _action(forbidden: str, conflicts: str) -> dict[str, Any]:
    """The answers of a period action: 202 stored now, 200 the same request stored before."""
    return answers(PeriodAction, *_ACTION_REFUSALS, (403, forbidden), (409, conflicts),
                   status=202, description="Stored now", also={
                       200: (PeriodAction, "The same request was stored before: nothing new "
                                           "is stored")})


def _body(model: type[Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": model.model_json_schema()}}}}


async def _act(request: Request, kind: str, province: str, period: str,
               map_value: str | None, caller: Principal | None,
               action: Callable[[Target, Any, Principal | None], Awaitable[PeriodOutcome]],
               ) -> Response:
    metrics: IngestMetrics = request.app.state.metrics
    settings: IngestSettings = request.app.state.settings
    target = _service(request).target(province, period, map_value)
    if not isinstance(target, Target):
        metrics.period_events.labels(kind, "rejected").inc()
        return problem(422, "invalid-period", "Invalid province, period or map",
                       errors=[p.as_json() for p in target])
    try:
        raw = loads_exact(await read_body(request, settings.max_body_bytes,
                                          caller.name if caller else ANONYMOUS))
    except MalformedJSONError as exc:
        metrics.period_events.labels(kind, "rejected").inc()
        return problem(422, "malformed-json", "The body is not valid JSON",
                       errors=[FieldProblem("(body)", str(exc)).as_json()])
    outcome = await action(target, raw, caller)
    metrics.period_events.labels(kind, outcome.status).inc()
    return _answer(request, outcome, target, caller)


def _answer(request: Request, outcome: PeriodOutcome, target: Target,
            caller: Principal | None) -> Response:
    errors = [p.as_json() for p in outcome.problems]
    where: dict[str, Any] = {"province": target.province, "map": target.map.value,
                             "period": target.period}
    match outcome.status:
        case "accepted" | "duplicate":
            assert outcome.event is not None
            return JSONResponse({**where, "status": outcome.status, "seq": outcome.seq,
                                 "type": outcome.event.type, "closing": outcome.event.closing},
                                status_code=202 if outcome.status == "accepted" else 200)
        case "rejected":
            return problem(422, "invalid-request", "The request is invalid", errors=errors)
        case "forbidden":
            metrics: IngestMetrics = request.app.state.metrics
            metrics.refusals.labels(caller.name if caller else ANONYMOUS,
                                    Reason.OUT_OF_SCOPE).inc()
            return problem(403, Reason.OUT_OF_SCOPE, "Not allowed for this province",
                           errors=errors, reason=Reason.OUT_OF_SCOPE)
        case "closed":
            closing = outcome.closing
            assert closing is not None
            return problem(409, PERIOD_CLOSED, "The period is closed", detail=(
                f"province {target.province} ({target.map.value} map): "
                f"{closing.describe()}"), **where, closing=closing.as_json())
        case "open":
            return problem(409, "period-open", "The period is not closed", errors=errors,
                           **where)
        case "conflict":
            return problem(409, "period-conflict", "This conflicts with the log",
                           errors=errors, seq=outcome.seq)
    return broker_unavailable(request, errors=errors)


@router.post("/v1/periods/{province}/{period}/close",
             openapi_extra=_body(PeriodRequest),
             summary="Close a province's reporting period (role approve)",
             **_action("The token lacks the approve role, or does not cover the province",
                       "Closed already (period-closed), or a concurrent request came first "
                       "(period-conflict)"))
async def close_period(request: Request, province: str, period: str, caller: Approver,
                       map_value: MapQuery = None) -> Response:
    return await _act(request, "close", province, period, map_value, caller,
                      _service(request).close)


@router.post("/v1/periods/{province}/{period}/reopen",
             openapi_extra=_body(PeriodRequest),
             summary="Reopen a closed period (a national admin)",
             **_action("The token lacks the admin role, or is not national",
                       "Not closed (period-open), or a concurrent request came first "
                       "(period-conflict)"))
async def reopen_period(request: Request, province: str, period: str, caller: Admin,
                        map_value: MapQuery = None) -> Response:
    return await _act(request, "reopen", province, period, map_value, caller,
                      _service(request).reopen)


@router.post("/v1/periods/{province}/{period}/control-totals",
             openapi_extra=_body(ControlTotalsRequest),
             summary="The province's own totals of a campaign for a closed period",
             **_action("The token lacks the approve role, or does not cover the province",
                       "The period is not closed (period-open)"))
async def post_control_totals(request: Request, province: str, period: str,
                              caller: Approver, map_value: MapQuery = None) -> Response:
    return await _act(request, "control", province, period, map_value, caller,
                      _service(request).control)


@router.get("/v1/periods/{province}/{period}/history",
            summary="Every closing, reopening and control total of a period, in stream order",
            dependencies=[Depends(requires(Role.READ))],
            **answers(PeriodHistory, *TOKEN_REFUSALS,
                      (422, "Invalid province, period or map; each problem names its field"),
                      (503, "The event store is unavailable; see Retry-After")))
async def period_history(request: Request, province: str, period: str,
                         map_value: MapQuery = None) -> Response:
    target = _service(request).target(province, period, map_value)
    if not isinstance(target, Target):
        return problem(422, "invalid-period", "Invalid province, period or map",
                       errors=[p.as_json() for p in target])
    try:
        history = await _service(request).history(target)
    except Exception as exc:  # noqa: BLE001 - any broker failure: try again later
        return broker_unavailable(
            request, errors=[FieldProblem("(broker)", str(exc)).as_json()])
    return JSONResponse({"province": target.province, "map": target.map.value,
                         "period": target.period,
                         "history": [_entry(seq, event) for seq, event in history]})


def _entry(seq: int, event: PeriodEvent) -> Mapping[str, Any]:
    return {"seq": seq, **event.model_dump(mode="json")}
