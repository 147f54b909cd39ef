"""HTTP adapter of the read side: totals and localities, operations. No business rules here.

Every instance serves reads, the standbys as well as the one applying the stream (the
lease holder). Rebuilds and redrives change the read model, so only the holder takes
them: a standby answers ``421 not-applying`` naming the instance that does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from cungdan_contracts import (
    INDICATORS,
    AdminMap,
    Gazetteer,
)
from cungdan_contracts.subjects import STREAM
from cungdan_service.auth import Role, requires
from cungdan_service.openapi_answers import TOKEN_REFUSALS, Refusal, answers
from cungdan_service.problems import problem
from cungdan_service.responses import FastJSONResponse

from .answer_models import (
    DeadLetters,
    LocalityAnswer,
    RebuildProgress,
    RedriveAnswer,
    StatusAnswer,
    TotalsAnswers,
)
from .answers import Basis, describe, totals_query
from .generations import ReadModel
from .periods import period_range
from .periods_http import closed_totals, late_marks
from .reads import TotalsFilter
from .runtime import NotApplyingError, ProjectorRuntime, RebuildRunningError

router = APIRouter()

MapParam = Annotated[AdminMap, Query(description="Administrative map: legacy or 2025.")]


def _gazetteer(request: Request) -> Gazetteer:
    gazetteer: Gazetteer = request.app.state.gazetteer
    return gazetteer


_READ_REFUSALS: tuple[Refusal, ...] = (
    *TOKEN_REFUSALS, (503, "The read model is unavailable; see Retry-After"))
_ADMIN_REFUSALS: tuple[Refusal, ...] = (
    *_READ_REFUSALS, (403, "The token lacks the admin role"),
    421)


@router.get("/v1/localities/{code}", summary="A locality, its parent and children",
            dependencies=[Depends(requires(Role.READ))],
            **answers(LocalityAnswer, *TOKEN_REFUSALS, (404, "No such locality in the map"),
                      (422, "Unknown map")))
async def get_locality(request: Request, code: str,
                       map: MapParam = AdminMap.Y2025) -> Response:
    gazetteer = _gazetteer(request)
    loc = gazetteer.get(map, code)
    if loc is None:
        return problem(404, "unknown-locality", "Unknown locality",
                       detail=f"no locality '{code}' in the {map.value} map")
    parent = gazetteer.get(map, loc.parent) if loc.parent else None
    return JSONResponse({
        "map": map.value, **describe(loc),
        "parent": describe(parent) if parent else None,
        "children": [describe(c) for c in gazetteer.children(map, code)],
    })


@router.get("/v1/totals/{code}", summary="Totals of a locality and of each direct child",
            dependencies=[Depends(requires(Role.READ))],
            **answers(TotalsAnswers, *_READ_REFUSALS,
                      (404, "No such locality in the map, or (`as_closed`) no such closing"),
                      (422, "Invalid query: map, period, dates, indicator or min_seq"),
                      (503, "`min_seq` is not applied yet (after a bounded wait), or the "
                            "read model is unavailable; see Retry-After")))
async def get_totals(
    request: Request,
    code: str,
    map: MapParam = AdminMap.Y2025,
    campaign: str | None = None,
    indicator: str | None = None,
    date_from: Annotated[dt.date | None, Query(alias="from")] = None,
    date_to: Annotated[dt.date | None, Query(alias="to")] = None,
    period: Annotated[str | None, Query(description="YYYY, YYYY-Qn or YYYY-MM")] = None,
    basis: Annotated[Basis, Query(description=(
        "On the 2025 map: `all` (default) also counts the legacy map's reports, converted "
        "through the official conversion; `reported` only the reports made on the 2025 "
        "map. The legacy map counts only its own reports either way."))] = Basis.ALL,
    min_seq: Annotated[int | None, Query(
        ge=0, description="Answer only once this stream sequence (the `seq` ingest "
                          "returned) is applied; waits a bounded time, else 503 not-yet.")] = None,
    as_closed: Annotated[bool, Query(description=(
        "With `period`: the figures as they stood when the province last closed the period "
        "(docs/periods.md)"))] = False,
    closing: Annotated[int | None, Query(ge=1, description=(
        "With `as_closed`: an earlier closing of the period, by number"))] = None,
) -> Response:
    gazetteer = _gazetteer(request)
    loc = gazetteer.get(map, code)
    if loc is None:
        return problem(404, "unknown-locality", "Unknown locality",
                       detail=f"no locality '{code}' in the {map.value} map")
    if period is not None:
        try:
            date_from, date_to = period_range(period)
        except ValueError as exc:
            return problem(422, "invalid-query", "Invalid period", detail=str(exc))
    if date_from and date_to and date_from > date_to:
        return problem(422, "invalid-query", "Invalid date range",
                       detail=f"from ({date_from}) is after to ({date_to})")
    if indicator is not None and indicator not in INDICATORS:
        return problem(422, "invalid-query", "Unknown indicator",
                       detail=f"unknown indicator '{indicator}'")
    if min_seq is not None:
        waited = await _wait_for_position(request, min_seq)
        if waited is not None:
            return waited
    if as_closed or closing is not None:
        return await closed_totals(request, map, loc, period, campaign, indicator, closing)
    where = TotalsFilter(campaign, indicator, date_from, date_to)
    query = totals_query(gazetteer, request.app.state.reform_views, map, loc, basis, where)
    model: ReadModel = request.app.state.model
    seen, sums = await asyncio.to_thread(model.totals_of, query.parts, where)
    body = query.body(gazetteer, sums)
    return FastJSONResponse({
        "map": body.pop("map"), "basis": body.pop("basis"), "locality": body.pop("locality"),
        "filters": {"campaign": campaign, "indicator": indicator,
                    "from": date_from.isoformat() if date_from else None,
                    "to": date_to.isoformat() if date_to else None},
        "position": seen, **body, **(await late_marks(request, map, loc, period)),
    })


def _runtime(request: Request) -> ProjectorRuntime:
    runtime: ProjectorRuntime = request.app.state.runtime
    return runtime


async def _wait_for_position(request: Request, seq: int) -> Response | None:
    """Read-your-writes: ``None`` once ``seq`` is applied, else a 503 "not yet" problem.
    A standby waits for the position in the database (the holder's commits)."""
    runtime = _runtime(request)
    timeout = request.app.state.settings.read_wait_seconds
    if await runtime.wait_for(seq, timeout):
        return None
    position = runtime.position
    return problem(503, "not-yet", "Not applied yet",
                   detail=f"the totals reflect stream position {position}; {seq} is not "
                          f"applied yet (waited {timeout:g} s)",
                   headers={"Retry-After": "1"}, position=position, min_seq=seq)


async def _not_applying(runtime: ProjectorRuntime) -> Response:
    """421 Misdirected Request: this instance cannot do it, the lease holder can."""
    holder = await runtime.holder()
    applying = holder.name if holder is not None and holder.holding else None
    where = (f"{applying} applies it: send the request there" if applying
             else "no instance holds the lease right now (a takeover is under way): retry")
    return problem(421, "not-applying", "This instance does not apply the stream",
                   detail=f"this instance ({runtime.instance}) stands by and serves reads; "
                          f"{where}",
                   this_instance=runtime.instance, applying_instance=applying)


async def lease_view(runtime: ProjectorRuntime) -> dict[str, Any]:
    """Which instance this is, its role, and which instance applies the stream."""
    applying: str | None = runtime.instance
    if not runtime.applying:
        holder = await runtime.holder()
        applying = holder.name if holder is not None and holder.holding else None
    return {"instance": runtime.instance, "role": runtime.role,
            "applying_instance": applying}


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> Response:
    """Ready or not (the app's readiness), and which instance applies the stream. Routed
    before the common ``/readyz`` of :func:`cungdan_service.web.install_common`, whose
    answer cannot carry the role: both ask the same readiness."""
    reason: str | None = await request.app.state.readiness(request)
    runtime: ProjectorRuntime | None = getattr(request.app.state, "runtime", None)
    if reason is not None:  # ("instance" means something else in a problem document)
        about: dict[str, Any] = {} if runtime is None else {
            "this_instance": runtime.instance, "role": runtime.role}
        return problem(503, "not-ready", "Not ready", detail=reason, **about)
    assert runtime is not None  # readiness says "starting" until there is one
    try:
        view = await lease_view(runtime)
    except Exception as exc:  # noqa: BLE001 - the database went away since: say so
        return problem(503, "not-ready", "Not ready",
                       detail=f"database unavailable: {exc.__class__.__name__}",
                       this_instance=runtime.instance, role=runtime.role)
    return JSONResponse({"status": "ready", **view})


@router.get("/v1/deadletters", summary="Messages the projector could not apply",
            dependencies=[Depends(requires(Role.READ))],
            **answers(DeadLetters, *_READ_REFUSALS))
async def list_deadletters(request: Request) -> Response:
    stores = await _runtime(request).stores()
    letters = await asyncio.to_thread(lambda: [
        (s.number, d) for s in stores for d in s.dead_letters()])
    return JSONResponse({"dead_letters": [
        {"generation": g, "seq": d.seq, "subject": d.subject, "reason": d.reason,
         "attempts": d.attempts, "dead_lettered_at": d.dead_lettered_at.isoformat(),
         "redriven_at": d.redriven_at.isoformat() if d.redriven_at else None}
        for g, d in letters]})


@router.post("/v1/deadletters/redrive", summary="Apply dead letters again, once each",
             dependencies=[Depends(requires(Role.ADMIN))],
             **answers(RedriveAnswer, *_ADMIN_REFUSALS, (422, "`seq` is not an integer"),
                       description="Each pending dead letter tried"))
async def redrive_deadletters(request: Request, seq: int | None = None) -> Response:
    """Re-reads each pending dead letter's original from the stream and applies it
    if it now decodes (the cause was fixed); it is counted at most once. Only on the
    instance that applies the stream."""
    if not _runtime(request).applying:
        return await _not_applying(_runtime(request))
    results = await request.app.state.redriver.redrive(seq)
    return JSONResponse({"results": results})


@router.post("/v1/rebuild", summary="Rebuild the read model from the stream",
             dependencies=[Depends(requires(Role.ADMIN))],
             **answers(RebuildProgress, *_ADMIN_REFUSALS, (409, "A rebuild is already running"),
                       status=202, description="The rebuild started"))
async def start_rebuild(request: Request) -> Response:
    try:
        await _runtime(request).start_rebuild()
    except NotApplyingError:
        return await _not_applying(_runtime(request))
    except RebuildRunningError as exc:
        return problem(409, "rebuild-running", "A rebuild is already running",
                       detail=str(exc), progress=_runtime(request).rebuild_status())
    return JSONResponse(_runtime(request).rebuild_status(), status_code=202)


@router.get("/v1/rebuild", summary="Progress of the last rebuild",
            dependencies=[Depends(requires(Role.READ))],
            **answers(RebuildProgress, *_READ_REFUSALS))
async def rebuild_status(request: Request) -> Response:
    return JSONResponse(await _runtime(request).rebuild_report())


@router.get("/v1/status", summary="Stream, lag, dead letters and freshness per province",
            dependencies=[Depends(requires(Role.READ))],
            **answers(StatusAnswer, *_READ_REFUSALS))
async def status(request: Request) -> Response:
    runtime = _runtime(request)
    stores = await runtime.stores()
    store = stores[0] if stores else None
    position = await runtime.refresh()
    gazetteer = _gazetteer(request)
    stream: dict[str, int] | None
    try:
        info = await request.app.state.nc.jetstream().stream_info(STREAM)
        stream = {"messages": info.state.messages, "bytes": info.state.bytes,
                  "last_seq": info.state.last_seq}
    except Exception:  # noqa: BLE001 - reported as unknown, the rest still answers
        stream = None
    freshness = await asyncio.to_thread(store.freshness) if store else []
    pending = await asyncio.to_thread(store.dead_letters, pending_only=True) if store else []
    now = dt.datetime.now(dt.UTC)
    return JSONResponse({
        **await lease_view(runtime),
        "stream": stream,
        "position": position,
        "lag": max(0, stream["last_seq"] - position) if stream else None,
        "generation": store.number if store else None,
        "dead_letters_pending": len(pending),
        "rebuild": await runtime.rebuild_report(),
        "freshness": [
            {"map": m, "province": p,
             "name": loc.name if (loc := gazetteer.get(AdminMap(m), p)) else p,
             "last_event_at": at.isoformat(),
             "days_silent": round((now - at).total_seconds() / 86400, 1)}
            for m, p, at in freshness],
    })
