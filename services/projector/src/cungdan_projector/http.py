"""HTTP adapter of the read side: totals and localities. No business rules here."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from cungdan_contracts import (
    INDICATORS,
    AdminMap,
    Gazetteer,
    Locality,
    format_decimal,
    from_units,
)
from cungdan_service.problems import problem

from .periods import period_range
from .store import ReadModelStore, TotalsFilter

router = APIRouter()

MapParam = Annotated[AdminMap, Query(description="Administrative map: legacy or 2025.")]


def _gazetteer(request: Request) -> Gazetteer:
    gazetteer: Gazetteer = request.app.state.gazetteer
    return gazetteer


def _describe(loc: Locality) -> dict[str, Any]:
    return {"code": loc.code, "name": loc.name, "level": loc.level.value}


def _quantities(units: dict[str, int]) -> dict[str, str]:
    return {code: format_decimal(from_units(amount, INDICATORS[code].scale))
            for code, amount in sorted(units.items())}


@router.get("/v1/localities/{code}", summary="A locality, its parent and children")
async def get_locality(request: Request, code: str,
                       map: MapParam = AdminMap.Y2025) -> Response:
    gazetteer = _gazetteer(request)
    loc = gazetteer.get(map, code)
    if loc is None:
        return problem(404, "unknown-locality", "Unknown locality",
                       detail=f"no locality '{code}' in the {map.value} map")
    parent = gazetteer.get(map, loc.parent) if loc.parent else None
    return JSONResponse({
        "map": map.value, **_describe(loc),
        "parent": _describe(parent) if parent else None,
        "children": [_describe(c) for c in gazetteer.children(map, code)],
    })


@router.get("/v1/totals/{code}", summary="Totals of a locality and of each direct child")
async def get_totals(
    request: Request,
    code: str,
    map: MapParam = AdminMap.Y2025,
    campaign: str | None = None,
    indicator: str | None = None,
    date_from: Annotated[dt.date | None, Query(alias="from")] = None,
    date_to: Annotated[dt.date | None, Query(alias="to")] = None,
    period: Annotated[str | None, Query(description="YYYY, YYYY-Qn or YYYY-MM")] = None,
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
    children = gazetteer.children(map, code)
    store: ReadModelStore = request.app.state.store
    where = TotalsFilter(campaign, indicator, date_from, date_to)
    codes = [code, *(c.code for c in children)]
    seen, sums = await asyncio.to_thread(store.totals, map.value, codes, where)
    return JSONResponse({
        "map": map.value,
        "locality": {**_describe(loc), "parent": loc.parent},
        "filters": {"campaign": campaign, "indicator": indicator,
                    "from": date_from.isoformat() if date_from else None,
                    "to": date_to.isoformat() if date_to else None},
        "position": seen,
        "totals": _quantities(sums[code]),
        "units": {c: INDICATORS[c].unit for c in sorted(sums[code])},
        "children": [{**_describe(c), "totals": _quantities(sums[c.code])} for c in children],
    })
