"""HTTP adapter of reporting periods on the read side.

- ``GET /v1/periods/{province}?map=``: every period of the province that was closed, with
  its closings and reopenings (who, when, why), late amendments and control totals;
- ``GET /v1/periods/{province}/{period}?map=&campaign=``: per indicator, the figure as the
  period was last closed, the province's own figure and the difference;
- ``GET /v1/totals/{locality}?period=P&as_closed=true[&closing=N]`` (through
  :func:`closed_totals`): the figures as they stood when the period was closed.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import Engine

from cungdan_contracts import (
    CAMPAIGNS,
    INDICATORS,
    NATION,
    AdminMap,
    Gazetteer,
    Level,
    Locality,
    format_units,
)
from cungdan_contracts.periods import default_map, period_range
from cungdan_service.auth import Role, requires
from cungdan_service.openapi_answers import TOKEN_REFUSALS, Refusal, answers
from cungdan_service.problems import problem
from cungdan_service.responses import FastJSONResponse

from . import closing_reads
from .answer_models import PeriodDetail, PeriodsAnswer
from .answers import describe, quantities
from .closing_reads import ClosingRecord, NoClosingsError, PeriodView
from .generations import ReadModel

router = APIRouter()

MapQuery = Annotated[str | None, Query(alias="map", description="legacy or 2025")]

_REFUSALS: tuple[Refusal, ...] = (
    *TOKEN_REFUSALS, (404, "No such province in the map"),
    (503, "The read model does not keep closings yet (being rebuilt); see Retry-After"))


def _gazetteer(request: Request) -> Gazetteer:
    gazetteer: Gazetteer = request.app.state.gazetteer
    return gazetteer


def _model(request: Request) -> ReadModel:
    model: ReadModel = request.app.state.model
    return model


def _map(value: str | None, fallback: AdminMap) -> AdminMap | Response:
    if value is None:
        return fallback
    try:
        return AdminMap(value)
    except ValueError:
        return problem(422, "invalid-query", "Unknown map", errors=[{
            "field": "map", "reason": f"'{value}' is no map (use legacy or 2025)"}])


def _province(gazetteer: Gazetteer, admin_map: AdminMap, province: str) -> Response | None:
    loc = gazetteer.get(admin_map, province)
    if loc is None or loc.parent != NATION:
        return problem(404, "unknown-locality", "Unknown province",
                       detail=f"no province '{province}' in the {admin_map.value} map")
    return None


def not_kept() -> Response:
    """503: the active generation predates closings (:class:`.NoClosingsError`)."""
    return problem(503, "not-yet", "Closings are not in the read model yet",
                   detail="the read model is being rebuilt to keep closings; try again",
                   headers={"Retry-After": "5"})


def as_closed_refusal(period: str | None, loc: Locality) -> Response | None:
    """Why the figures of ``loc`` cannot be read as closed (422: no period, or the
    nation's), or None. The period itself was checked before."""
    if period is None:
        return problem(422, "invalid-query", "as_closed needs a period",
                       errors=[{"field": "period", "reason": "give the closed period"}])
    if loc.level is Level.NATION:
        reason = "as_closed reads a province or a locality below it"
        return problem(422, "invalid-query", "Closed figures are a province's", detail=reason,
                       errors=[{"field": "as_closed", "reason": reason}])
    return None


def not_closed(admin_map: AdminMap, province: str, period: str,
               closing: int | None) -> Response:
    """404: the province never closed the period (or has no closing ``closing``)."""
    which = f"closing {closing}" if closing is not None else "closing"
    reason = f"period {period} of province {province} ({admin_map.value} map) has no {which}"
    return problem(404, "not-closed", "The period was never closed", detail=reason, errors=[
        {"field": "closing" if closing is not None else "period", "reason": reason}])


def _view(name: str, view: PeriodView) -> dict[str, Any]:
    return {
        "period": name,
        "status": "closed" if view.closed else "open",
        "closings": [c.as_json() for c in view.closings],
        "late_amendments": view.late_amendments,
        "control_totals": [{"campaign": c.campaign, "closing": c.closing, "seq": c.seq,
                            "submitted_at": c.submitted_at.isoformat(),
                            "submitted_by": c.submitted_by, "totals": quantities(c.amounts)}
                           for c in view.controls],
    }


@router.get("/v1/periods/{province}", summary="A province's periods: closings, reopenings",
            dependencies=[Depends(requires(Role.READ))],
            **answers(PeriodsAnswer, *_REFUSALS, (422, "Unknown map")))
async def list_periods(request: Request, province: str,
                       map_value: MapQuery = None) -> Response:
    admin_map = _map(map_value, AdminMap.Y2025)
    if not isinstance(admin_map, AdminMap):
        return admin_map
    if (unknown := _province(_gazetteer(request), admin_map, province)) is not None:
        return unknown
    try:
        position, found = await asyncio.to_thread(
            closing_reads.periods, _model(request).engine, admin_map.value, province)
    except NoClosingsError:
        return not_kept()
    return FastJSONResponse({"map": admin_map.value, "province": province,
                             "position": position,
                             "periods": [_view(name, found[name]) for name in sorted(found)]})


@router.get("/v1/periods/{province}/{period}",
            summary="A closed period: projected figures, the province's figures, differences",
            dependencies=[Depends(requires(Role.READ))],
            **answers(PeriodDetail, *_REFUSALS,
                      (422, "Invalid period, unknown map or unknown campaign")))
async def period_detail(request: Request, province: str, period: str,
                        map_value: MapQuery = None, campaign: str | None = None) -> Response:
    try:
        period_range(period)
    except ValueError as exc:
        return problem(422, "invalid-query", "Invalid period",
                       errors=[{"field": "period", "reason": str(exc)}])
    admin_map = _map(map_value, default_map(period))
    if not isinstance(admin_map, AdminMap):
        return admin_map
    if campaign is not None and campaign not in CAMPAIGNS:
        return problem(422, "invalid-query", "Unknown campaign",
                       errors=[{"field": "campaign", "reason": f"unknown campaign '{campaign}'"}])
    if (unknown := _province(_gazetteer(request), admin_map, province)) is not None:
        return unknown
    engine = _model(request).engine
    try:
        position, found = await asyncio.to_thread(
            closing_reads.periods, engine, admin_map.value, province, period)
    except NoClosingsError:
        return not_kept()
    view = found.get(period, PeriodView())
    body: dict[str, Any] = {"map": admin_map.value, "province": province,
                            "position": position, **_view(period, view),
                            "late": view.late}
    try:
        body["comparisons"] = await asyncio.to_thread(
            comparisons, engine, admin_map.value, province, period, view, campaign)
    except NoClosingsError:
        return not_kept()
    return FastJSONResponse(body)


def comparisons(engine: Engine, admin_map: str, province: str, period: str, view: PeriodView,
                campaign: str | None) -> list[dict[str, Any]]:
    """Per campaign with control totals of the last closing (``campaign``: that one only;
    none sent: all campaigns together), its indicators compared (:func:`_compare`); none
    for a period never closed. The page's difference table reads the same."""
    last = view.last
    if last is None:
        return []
    controls = {c.campaign: c for c in view.controls if c.closing == last.closing}
    wanted: list[str | None] = [campaign] if campaign else [*sorted(controls)] or [None]
    found = []
    for name in wanted:
        _, _, sums = closing_reads.closed_figures(
            engine, admin_map, province, period, last.closing, [province], name)
        control = controls.get(name) if name else None
        found.append({"campaign": name, "closing": last.closing,
                      "indicators": _compare(sums.get(province), control)})
    return found


def _compare(projected: list[int] | None,
             control: closing_reads.ControlRecord | None) -> list[dict[str, Any]]:
    """Per indicator either side has: the projected figure, the province's, the difference
    (the province's minus the projected)."""
    ours = projected or [0] * len(INDICATORS)
    theirs = control.amounts if control is not None else None
    rows = []
    for i, (code, indicator) in enumerate(INDICATORS.items()):
        if not ours[i] and not (theirs and theirs[i]):
            continue
        row: dict[str, Any] = {"indicator": code, "unit": indicator.unit,
                               "projected": format_units(ours[i], indicator.scale),
                               "province": None, "difference": None}
        if theirs is not None:
            row["province"] = format_units(theirs[i], indicator.scale)
            row["difference"] = format_units(theirs[i] - ours[i], indicator.scale)
        rows.append(row)
    return rows


async def closed_totals(request: Request, admin_map: AdminMap, loc: Locality,
                        period: str | None, campaign: str | None, indicator: str | None,
                        closing: int | None) -> Response:
    """The answer of ``/v1/totals/{locality}?as_closed=true``; ``period`` was checked
    (:func:`.http.get_totals`)."""
    if (refused := as_closed_refusal(period, loc)) is not None:
        return refused
    assert period is not None
    gazetteer = _gazetteer(request)
    try:
        body = await asyncio.to_thread(
            closed_answer, _model(request).engine, gazetteer, admin_map, loc, period, campaign,
            indicator, closing)
    except NoClosingsError:
        return not_kept()
    if body is None:
        return not_closed(admin_map, gazetteer.province_of(admin_map, loc.code), period,
                          closing)
    return FastJSONResponse(body)


def closed_answer(engine: Engine, gazetteer: Gazetteer, admin_map: AdminMap, loc: Locality,
                  period: str, campaign: str | None, indicator: str | None,
                  closing: int | None) -> dict[str, Any] | None:
    """The body of ``/v1/totals/{locality}?as_closed=true`` (a locality in a province;
    None: no such closing). The page's "as closed" view reads the same."""
    province = gazetteer.ancestors(admin_map, loc.code)[-2]
    children = gazetteer.children(admin_map, loc.code)
    position, record, sums = closing_reads.closed_figures(
        engine, admin_map.value, province, period, closing,
        [loc.code, *(c.code for c in children)], campaign)
    if record is None:
        return None

    def shown(code: str) -> dict[str, str]:
        totals = quantities(sums.get(code))
        return {indicator: totals[indicator]} if indicator and indicator in totals else (
            {} if indicator else totals)

    own = shown(loc.code)
    return {
        "map": admin_map.value, "locality": {**describe(loc), "parent": loc.parent},
        "period": period, "as_closed": True, "province": province,
        "closing": _closing_json(record),
        "filters": {"campaign": campaign, "indicator": indicator},
        "position": position, "totals": own,
        "units": {c: INDICATORS[c].unit for c in own},
        "children": [{**describe(c), "totals": shown(c.code)} for c in children],
    }


def _closing_json(record: ClosingRecord) -> dict[str, Any]:
    return {**record.as_json(), "period": record.period}


async def late_marks(request: Request, admin_map: AdminMap, loc: Locality,
                     period: str | None) -> dict[str, Any]:
    """What the live totals add for a period with late amendments: their count."""
    if period is None:
        return {}
    path = _gazetteer(request).ancestors(admin_map, loc.code)
    if len(path) < 2:
        return {}
    count = await asyncio.to_thread(closing_reads.late_amendments, _model(request).engine,
                                    admin_map.value, path[-2], period)
    return {"late_amendments": count} if count else {}
