"""HTTP adapter of the committee page: ``/ui/{locality}``, its exports, the completeness
answer and the stream position the page polls. Server-rendered (Jinja2 templates and
SVG, a small script and style sheet served from the package): nothing leaves the server.

The figures come from the same read as ``GET /v1/totals`` (:func:`.answers.totals_query`);
:mod:`.ui_model` turns them into the page (pure), :mod:`.exports` into files.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from cungdan_contracts import INDICATORS, NATION, AdminMap, Gazetteer, Level, Locality
from cungdan_service.auth import Role, requires
from cungdan_service.openapi_answers import TOKEN_REFUSALS, answers, refusals
from cungdan_service.problems import problem

from . import closing_reads, ui_model, ui_periods
from .answer_models import CompletenessAnswer, PositionAnswer
from .answers import Basis, totals_query
from .closing_reads import NoClosingsError, PeriodView
from .completeness import Completeness, by_province, completeness, reports_by
from .exports import CSV_TYPE, XLSX_TYPE, to_csv, to_xlsx
from .generations import ReadModel
from .periods import period_range
from .periods_http import as_closed_refusal, closed_answer, comparisons, not_closed, not_kept
from .places import coordinates
from .reads import TotalsFilter
from .reform import ReformViews
from .series import monthly
from .ui_html import body_rows
from .ui_tables import Table, ViewQuery

router = APIRouter()
READ = [Depends(requires(Role.READ))]
STATIC = {"ui.js": "text/javascript; charset=utf-8", "ui.css": "text/css; charset=utf-8"}

MapParam = Annotated[AdminMap, Query(description="Administrative map: legacy or 2025.")]
FromParam = Annotated[str | None, Query(alias="from", description="YYYY-MM-DD")]
ToParam = Annotated[str | None, Query(alias="to", description="YYYY-MM-DD")]
PeriodParam = Annotated[str | None, Query(description="YYYY, YYYY-Qn or YYYY-MM")]
AsClosedParam = Annotated[bool, Query(description=(
    "The figures as the period was closed (needs `period`; a province or below)"))]
ClosingParam = Annotated[int | None, Query(ge=1, description=(
    "With `as_closed`: an earlier closing of the period, by number"))]


def _file_answers(media_type: str, schema: dict[str, str]) -> dict[int | str, dict[str, Any]]:
    """A page or a file (200), and the refusals of a view (token, unknown locality or
    table or closing, bad parameter, closings not kept yet)."""
    return {200: {"description": "The page or the file", "content": {media_type: {
        "schema": schema}}}, **refusals(
            *TOKEN_REFUSALS, (404, "Unknown locality or table, or (`as_closed`) no such "
                              "closing"), 422,
            (503, "The read model does not keep closings yet (being rebuilt); see "
                  "Retry-After"))}


@cache
def _templates() -> Environment:
    env = Environment(loader=PackageLoader("cungdan_projector", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.globals["rows"] = body_rows
    return env


@cache
def _static(name: str) -> bytes:
    return files(__package__).joinpath("static", name).read_bytes()


@dataclass(frozen=True, slots=True)
class _Asked:
    """A view asked for and checked: the query, its locality and its date range."""

    query: ViewQuery
    loc: Locality
    date_from: dt.date | None
    date_to: dt.date | None


def _check(gazetteer: Gazetteer, query: ViewQuery | Response) -> _Asked | Response:
    """The view, or the problem with its parameters (as ``GET /v1/totals`` answers)."""
    if isinstance(query, Response):
        return query
    loc = gazetteer.get(query.map, query.code)
    if loc is None:
        return problem(404, "unknown-locality", "Unknown locality",
                       detail=f"no locality '{query.code}' in the {query.map.value} map")
    date_from, date_to = query.date_from, query.date_to
    if query.period is not None:
        try:
            date_from, date_to = period_range(query.period)
        except ValueError as exc:
            return problem(422, "invalid-query", "Invalid period",
                           errors=[{"field": "period", "reason": str(exc)}])
    if date_from and date_to and date_from > date_to:
        return problem(422, "invalid-query", "Invalid date range",
                       errors=[{"field": "from",
                                "reason": f"from ({date_from}) is after to ({date_to})"}])
    if query.indicator is not None and query.indicator not in INDICATORS:
        return problem(422, "invalid-query", "Unknown indicator",
                       errors=[{"field": "indicator",
                                "reason": f"unknown indicator '{query.indicator}'"}])
    if query.as_closed and (refused := as_closed_refusal(query.period, loc)) is not None:
        return refused
    return _Asked(query, loc, date_from, date_to)


def _view_query(code: str, admin_map: AdminMap, campaign: str | None, indicator: str | None,
                period: str | None, date_from: str | None, date_to: str | None,
                as_closed: bool = False, closing: int | None = None) -> ViewQuery | Response:
    """The view asked for; an empty parameter (a form's blank field) is no filter."""
    days: list[dt.date | None] = []
    for name, text in (("from", date_from), ("to", date_to)):
        try:
            days.append(dt.date.fromisoformat(text) if text else None)
        except ValueError:
            return problem(422, "invalid-query", "Invalid date",
                           errors=[{"field": name,
                                   "reason": f"'{text}' is not a date (use YYYY-MM-DD)"}])
    return ViewQuery(code, admin_map, campaign or None, indicator or None, period or None,
                     days[0], days[1], as_closed or closing is not None, closing)


def _provinces(gazetteer: Gazetteer, admin_map: AdminMap, loc: Locality) -> tuple[str, ...]:
    """The province(s) the children of ``loc`` lie in (none: the nation's, all)."""
    if loc.level is Level.NATION:
        return ()
    return (gazetteer.province_of(admin_map, loc.code),)


def _completeness(model: ReadModel, gazetteer: Gazetteer, asked: _Asked) -> Completeness:
    children = gazetteer.children(asked.query.map, asked.loc.code)
    rows = [] if not children else reports_by(
        model.engine, asked.query.map.value, group_by_province=by_province(asked.loc),
        provinces=_provinces(gazetteer, asked.query.map, asked.loc),
        campaign=asked.query.campaign, date_from=asked.date_from, date_to=asked.date_to)
    return completeness(asked.loc, children, rows, asked.date_from, asked.date_to)


def _series_parts(views: ReformViews, asked: _Asked) -> list[tuple[str, tuple[str, ...]]]:
    """The (map, localities) whose monthly totals make the chart: the locality's own, and
    on the 2025 map those of the legacy localities on its ground."""
    loc, admin_map = asked.loc, asked.query.map
    parts: list[tuple[str, tuple[str, ...]]] = [(admin_map.value, (loc.code,))]
    if admin_map is AdminMap.Y2025:
        if loc.level is Level.NATION:
            parts.append((AdminMap.LEGACY.value, (NATION,)))
        elif loc.level is Level.PROVINCE:
            parts.append((AdminMap.LEGACY.value, views(loc.code).legacy_provinces))
        else:
            parts.append((AdminMap.LEGACY.value,
                          views(loc.code, dated=True).takes.get(loc.code, ())))
    return parts


def _in_range(series: dict[int, int], asked: _Asked) -> dict[int, int]:
    first = asked.date_from.year * 100 + asked.date_from.month if asked.date_from else 0
    last = asked.date_to.year * 100 + asked.date_to.month if asked.date_to else 999999
    return {m: v for m, v in series.items() if first <= m <= last}


@dataclass(frozen=True, slots=True)
class _PeriodParts:
    status: ui_periods.PeriodStatus | None = None
    differences: Table | None = None
    periods: tuple[ui_periods.PeriodEntry, ...] = ()


def _period_parts(request: Request, asked: _Asked, shown: int | None) -> _PeriodParts:
    """The period's status, its differences and (a province's view) the province's
    periods, from the reads of ``GET /v1/periods`` (:mod:`.closing_reads`); ``shown``:
    the closing the "as closed" view's figures are."""
    gazetteer: Gazetteer = request.app.state.gazetteer
    query, loc = asked.query, asked.loc
    path = gazetteer.ancestors(query.map, loc.code)
    if len(path) < 2 or (query.period is None and loc.level is not Level.PROVINCE):
        return _PeriodParts()
    province = path[-2]
    engine = request.app.state.model.engine
    try:
        _, found = closing_reads.periods(engine, query.map.value, province)
    except NoClosingsError:
        return _PeriodParts()
    own = gazetteer.get(query.map, province)
    status = differences = None
    if query.period is not None:
        view = found.get(query.period, PeriodView())
        record = next((c for c in view.closings if c.closing == shown), None)
        status = ui_periods.period_status(query, own.name if own else province, view, record)
        last = view.last
        controls = {c.campaign for c in view.controls
                    if last is not None and c.closing == last.closing}
        if loc.level is Level.PROVINCE and status is not None and status.closed and controls \
                and (query.campaign is None or query.campaign in controls):
            differences = ui_periods.differences_table(comparisons(
                engine, query.map.value, province, query.period, view, query.campaign))
    periods = ui_periods.periods_list(query, found) if loc.level is Level.PROVINCE else ()
    return _PeriodParts(status, differences, periods)


def _read_page(request: Request, asked: _Asked) -> ui_model.Page | Response:
    """Every read of one view (in a worker thread), then the page built from them; on the
    "as closed" view, the figures of ``GET /v1/totals?as_closed=true`` (or its problem)."""
    gazetteer: Gazetteer = request.app.state.gazetteer
    views: ReformViews = request.app.state.reform_views
    model: ReadModel = request.app.state.model
    query = asked.query
    where = TotalsFilter(query.campaign, query.indicator, asked.date_from, asked.date_to)
    shown = None
    if query.as_closed:
        assert query.period is not None  # _check
        try:
            closed = closed_answer(model.engine, gazetteer, query.map, asked.loc, query.period,
                                   query.campaign, query.indicator, query.closing)
        except NoClosingsError:
            return not_kept()
        if closed is None:
            return not_closed(query.map, gazetteer.province_of(query.map, asked.loc.code),
                              query.period, query.closing)
        body: dict[str, Any] = closed
        shown = int(closed["closing"]["closing"])
        series: dict[int, int] = {}  # the chart is of the live figures
    else:
        totals = totals_query(gazetteer, views, query.map, asked.loc, Basis.ALL, where)
        seen, sums = model.totals_of(totals.parts, where)
        body = {**totals.body(gazetteer, sums), "position": seen}
    indicator = ui_model.selected_indicator(query, body)
    if not query.as_closed:
        series = _in_range(monthly(model.engine, _series_parts(views, asked), indicator,
                                   query.campaign), asked)
    found = _completeness(model, gazetteer, asked)
    parts = _period_parts(request, asked, shown)
    return ui_model.page(query, gazetteer, asked.loc, body, series, found,
                         coordinates(query.map), parts.status, parts.differences,
                         parts.periods)


@router.get("/", include_in_schema=False)
async def home() -> Response:
    return RedirectResponse(f"/ui/{NATION}?map={AdminMap.Y2025.value}", status_code=307)


@router.get("/ui/static/{name}", include_in_schema=False)
async def static(name: str) -> Response:
    if name not in STATIC:
        return problem(404, "not-found", "Not found", detail=f"no static file '{name}'")
    return Response(_static(name), media_type=STATIC[name],
                    headers={"Cache-Control": "public, max-age=3600"})


@router.get("/ui/{code}", response_class=HTMLResponse, dependencies=READ,
            responses=_file_answers("text/html", {"type": "string"}),
            summary="The committee page of a locality (HTML)")
async def view(request: Request, code: str, map: MapParam = AdminMap.Y2025,
               campaign: str | None = None, indicator: str | None = None,
               period: PeriodParam = None, date_from: FromParam = None,
               date_to: ToParam = None, as_closed: AsClosedParam = False,
               closing: ClosingParam = None) -> Response:
    asked = _check(request.app.state.gazetteer, _view_query(
        code, map, campaign, indicator, period, date_from, date_to, as_closed, closing))
    if isinstance(asked, Response):
        return asked
    page = await asyncio.to_thread(_read_page, request, asked)
    if isinstance(page, Response):
        return page
    html = _templates().get_template("page.html").render(page=page).encode()
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        html = gzip.compress(html, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    return Response(html, media_type="text/html; charset=utf-8", headers=headers)


async def _export(request: Request, query: ViewQuery | Response,
                  table: str) -> Response | Table:
    asked = _check(request.app.state.gazetteer, query)
    if isinstance(asked, Response):
        return asked
    page = await asyncio.to_thread(_read_page, request, asked)
    if isinstance(page, Response):
        return page
    found = {t.name: t for t in (page.totals, page.children, page.completeness,
                                 page.differences) if t}
    if table not in found:
        return problem(404, "unknown-table", "Unknown table",
                       errors=[{"field": "table", "reason": f"this view has no table "
                                f"'{table}' (it has: {', '.join(found)})"}])
    return found[table]


def _file_name(query: ViewQuery, table: str, ext: str) -> str:
    return f"cungdan-{query.code}-{query.map.value}-{table}.{ext}"


_FILES: dict[str, tuple[Callable[[Table], bytes], str]] = {
    "csv": (to_csv, CSV_TYPE), "xlsx": (to_xlsx, XLSX_TYPE)}


async def _file(request: Request, query: ViewQuery | Response, table: str,
                ext: str) -> Response:
    """A table of the view as a file (``ext``: csv or xlsx), or the view's refusal."""
    found = await _export(request, query, table)
    if isinstance(found, Response):
        return found
    assert isinstance(query, ViewQuery)
    write, media_type = _FILES[ext]
    return Response(write(found), media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{_file_name(query, table, ext)}"'})


@router.get("/ui/{code}/{table}.csv", dependencies=READ, response_class=Response,
            responses=_file_answers(CSV_TYPE.split(";")[0], {"type": "string"}),
            summary="A table of the committee page as CSV")
async def export_csv(request: Request, code: str, table: str, map: MapParam = AdminMap.Y2025,
                     campaign: str | None = None, indicator: str | None = None,
                     period: PeriodParam = None, date_from: FromParam = None,
                     date_to: ToParam = None, as_closed: AsClosedParam = False,
                     closing: ClosingParam = None) -> Response:
    return await _file(request, _view_query(code, map, campaign, indicator, period, date_from,
                                            date_to, as_closed, closing), table, "csv")


@router.get("/ui/{code}/{table}.xlsx", dependencies=READ, response_class=Response,
            responses=_file_answers(XLSX_TYPE, {"type": "string", "format": "binary"}),
            summary="A table of the committee page as XLSX")
async def export_xlsx(request: Request, code: str, table: str,
                      map: MapParam = AdminMap.Y2025, campaign: str | None = None,
                      indicator: str | None = None, period: PeriodParam = None,
                      date_from: FromParam = None, date_to: ToParam = None,
                      as_closed: AsClosedParam = False,
                      closing: ClosingParam = None) -> Response:
    return await _file(request, _view_query(code, map, campaign, indicator, period, date_from,
                                            date_to, as_closed, closing), table, "xlsx")


@router.get("/v1/completeness/{code}", dependencies=READ,
            **answers(CompletenessAnswer, *TOKEN_REFUSALS, 404, 422),
            summary="Which children of a locality reported, and the share that did")
async def get_completeness(request: Request, code: str, map: MapParam = AdminMap.Y2025,
                           campaign: str | None = None, period: PeriodParam = None,
                           date_from: FromParam = None, date_to: ToParam = None) -> Response:
    """Each direct child with its reports dated in the period (all time without one), the
    date of its last report and whether it reported in the period; ``share``: the
    children that did. Counts the reports made on the map asked, retractions excluded."""
    asked = _check(request.app.state.gazetteer,
                   _view_query(code, map, campaign, None, period, date_from, date_to))
    if isinstance(asked, Response):
        return asked
    found = await asyncio.to_thread(_completeness, request.app.state.model,
                                    request.app.state.gazetteer, asked)
    return JSONResponse({"map": map.value, "campaign": campaign, **found.as_json()})


@router.get("/v1/position", dependencies=READ, **answers(PositionAnswer, *TOKEN_REFUSALS),
            summary="The stream position the served totals reflect (the page polls it)")
async def get_position(request: Request) -> Response:
    runtime = getattr(request.app.state, "runtime", None)
    position = await runtime.refresh() if runtime is not None else 0
    return JSONResponse({"position": position}, headers={"Cache-Control": "no-store"})


