"""What the committee page shows, built from what the read side answered. Pure: no I/O.

The page's tables, of exact numbers (:mod:`.ui_tables`), its chart and map
(:mod:`.ui_graphics`) and its reporting periods (:mod:`.ui_periods`) put together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from cungdan_contracts import (
    CAMPAIGNS,
    INDICATORS,
    AdminMap,
    Gazetteer,
    Locality,
)

from .completeness import Completeness
from .places import Point
from .ui_graphics import Chart, MapView, chart, map_view
from .ui_periods import PeriodEntry, PeriodStatus
from .ui_tables import Cell, Column, Row, Table, ViewQuery
from .vnformat import LEVELS_VI, unit_vi, vn_date, vn_number, vn_percent


@dataclass(frozen=True, slots=True)
class Crumb:
    name: str
    link: str


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str
    selected: bool


@dataclass(frozen=True, slots=True)
class Page:
    query: ViewQuery
    title: str
    level: str
    breadcrumb: tuple[Crumb, ...]
    position: int
    indicator: str
    """The indicator the chart and the map show."""
    indicator_label: str
    totals: Table
    children: Table | None
    completeness: Table | None
    completeness_summary: str
    chart: Chart | None
    map: MapView | None
    legacy_note: str | None
    campaigns: tuple[Choice, ...]
    indicators: tuple[Choice, ...]
    maps: tuple[Choice, ...]
    exports: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """Table name -> (format, URL)."""
    period: PeriodStatus | None = None
    differences: Table | None = None
    """The period's figures as closed against the province's control totals."""
    periods: tuple[PeriodEntry, ...] = ()
    """On a province's view: its periods with closings."""


UNATTRIBUTED_LABEL = "Chưa phân bổ"


def _amount(quantities: Mapping[str, str], code: str) -> Decimal:
    return Decimal(quantities.get(code, "0"))


def selected_indicator(query: ViewQuery, body: Mapping[str, Any]) -> str:
    """The asked indicator; else the one the most children have (the one they can be
    compared on), the first in catalog order among equals; else the first the locality
    has; else the catalog's first."""
    if query.indicator:
        return query.indicator
    totals: Mapping[str, str] = body["totals"]
    counts = {code: sum(1 for c in body["children"] if c["code"] and code in c["totals"])
              for code in INDICATORS if code in totals}
    if not counts:
        return next(iter(INDICATORS))
    return max(counts, key=lambda code: counts[code])  # max keeps the first among equals


def shown_indicators(query: ViewQuery, totals: Mapping[str, str]) -> list[str]:
    """The indicators the tables list, in catalog order: the asked one, or every one the
    locality has (none yet: the catalog's first, so a table has a column)."""
    if query.indicator:
        return [query.indicator]
    return [c for c in INDICATORS if c in totals] or [next(iter(INDICATORS))]


def totals_table(query: ViewQuery, body: Mapping[str, Any]) -> Table:
    totals: Mapping[str, str] = body["totals"]
    legacy: Mapping[str, str] | None = body.get("from_legacy")
    columns = [Column("indicator", "Chỉ tiêu"), Column("unit", "Đơn vị"),
               Column("total", "Tổng", numeric=True)]
    if legacy is not None:
        columns += [Column("from_legacy", "Từ báo cáo theo bản đồ cũ", numeric=True),
                    Column("legacy_share", "Tỷ lệ từ bản đồ cũ", "%", numeric=True)]
    rows = []
    for code in shown_indicators(query, totals):
        indicator = INDICATORS[code]
        total = _amount(totals, code)
        cells: list[Cell] = [indicator.label_vi, unit_vi(indicator.unit), total]
        if legacy is not None:
            old = _amount(legacy, code)
            cells += [old, _share(old, total)]
        rows.append(Row(tuple(cells)))
    return Table("totals", "Tổng theo chỉ tiêu", tuple(columns), tuple(rows))


def _share(part: Decimal, whole: Decimal) -> Decimal:
    """``part`` as a percentage of ``whole``, one decimal place."""
    if not whole:
        return Decimal(0)
    return (part * 100 / whole).quantize(Decimal("0.1"))


def children_table(query: ViewQuery, body: Mapping[str, Any]) -> Table:
    shown = shown_indicators(query, body["totals"])
    columns = (Column("code", "Mã"), Column("name", "Tên"),
               *(Column(c, INDICATORS[c].label_vi, unit_vi(INDICATORS[c].unit), True)
                 for c in shown))
    rows = []
    for child in body["children"]:
        code = child["code"]
        amounts = tuple(_amount(child["totals"], c) for c in shown)
        if code is None:  # the 2025 province's unattributed part of the legacy reports
            rows.append(Row(("", child["name"], *amounts), None, UNATTRIBUTED_LABEL))
        else:
            rows.append(Row((code, child["name"], *amounts), query.url(code)))
    return Table("children", "Các đơn vị trực thuộc", columns, tuple(rows))


def completeness_table(query: ViewQuery, found: Completeness) -> Table:
    columns = (Column("code", "Mã"), Column("name", "Tên"),
               Column("reports", "Số báo cáo trong kỳ", numeric=True),
               Column("reports_all_time", "Tổng số báo cáo", numeric=True),
               Column("last_report", "Báo cáo gần nhất"),
               Column("reported", "Trong kỳ"))
    return Table("completeness", "Tình hình báo cáo", columns, tuple(
        Row((c.locality.code, c.locality.name, c.reports, c.reports_all_time, c.last_report,
             c.reported), query.url(c.locality.code)) for c in found.children))


def completeness_summary(found: Completeness) -> str:
    if found.date_from or found.date_to:
        period = f"từ {vn_date(found.date_from)} đến {vn_date(found.date_to)}"
    else:
        period = "từ trước đến nay"
    return (f"{found.reported_count}/{len(found.children)} đơn vị đã báo cáo {period} "
            f"({vn_percent(found.share)})")




def _sentence(text: str) -> str:
    """The catalog's labels are lower case: a heading starts with a capital."""
    return text[:1].upper() + text[1:]


def breadcrumb(query: ViewQuery, gazetteer: Gazetteer, loc: Locality) -> tuple[Crumb, ...]:
    chain = list(reversed(gazetteer.ancestors(query.map, loc.code)))
    crumbs = []
    for code in chain:
        above = gazetteer.get(query.map, code)
        crumbs.append(Crumb(above.name if above else code, query.url(code)))
    return tuple(crumbs)


def legacy_note(body: Mapping[str, Any], indicator: str) -> str | None:
    """On the 2025 map: how much of the selected indicator came from legacy reports, and
    the part no 2025 commune takes."""
    legacy = body.get("from_legacy")
    if legacy is None:
        return None
    unit = unit_vi(INDICATORS[indicator].unit)
    total = _amount(body["totals"], indicator)
    old = _amount(legacy, indicator)
    text = (f"{INDICATORS[indicator].label_vi}: {vn_number(old)} {unit} trên tổng "
            f"{vn_number(total)} {unit} ({vn_number(_share(old, total))} %) đến từ các "
            f"báo cáo theo bản đồ hành chính cũ (trước 01/07/2025), quy đổi theo bảng "
            f"sắp xếp chính thức.")
    unattributed = [c for c in body["children"] if c.get("unattributed")]
    part = _amount(unattributed[0]["totals"], indicator) if unattributed else Decimal(0)
    if part:
        text += (f" Phần chưa phân bổ về xã, phường: {vn_number(part)} {unit} (báo cáo "
                 f"của xã bị chia tách, đơn vị đã giải thể hoặc cấp huyện, tỉnh cũ).")
    return text




def page(query: ViewQuery, gazetteer: Gazetteer, loc: Locality, body: Mapping[str, Any],
         series: Mapping[int, int], found: Completeness | None,
         points: Mapping[str, Point], period: PeriodStatus | None = None,
         differences: Table | None = None, periods: tuple[PeriodEntry, ...] = ()) -> Page:
    """The whole view from the totals answer (``body``: as ``GET /v1/totals`` gives it),
    the selected indicator by month, the completeness and the children's points."""
    indicator = selected_indicator(query, body)
    children = gazetteer.children(query.map, loc.code)
    amounts = {c["code"]: _amount(c["totals"], indicator) for c in body["children"]
               if c["code"]}
    tables = [totals_table(query, body)]
    if query.as_closed:
        tables[0] = replace(tables[0], caption=f"{tables[0].caption} (khi khóa kỳ)")
    kids = children_table(query, body) if body["children"] else None
    done = completeness_table(query, found) if found and found.children else None
    tables += [t for t in (kids, done, differences) if t is not None]
    return Page(
        query=query, title=loc.name, level=LEVELS_VI[loc.level],
        breadcrumb=breadcrumb(query, gazetteer, loc), position=int(body["position"]),
        indicator=indicator, indicator_label=_sentence(INDICATORS[indicator].label_vi),
        totals=tables[0], children=kids, completeness=done,
        completeness_summary=completeness_summary(found) if found and found.children else "",
        chart=chart(series, indicator),
        map=map_view(query, children, amounts, points, indicator) if children else None,
        legacy_note=legacy_note(body, indicator),
        campaigns=(Choice("", "Tất cả phong trào", query.campaign is None), *(
            Choice(c.code, c.name_vi, c.code == query.campaign) for c in CAMPAIGNS.values())),
        indicators=(Choice("", "Tất cả chỉ tiêu", query.indicator is None), *(
            Choice(i.code, i.label_vi, i.code == query.indicator)
            for i in INDICATORS.values())),
        maps=tuple(Choice(m.value, "Bản đồ 2025" if m is AdminMap.Y2025 else "Bản đồ cũ",
                          m is query.map) for m in AdminMap),
        exports={t.name: [(fmt.upper(), query.url(suffix=f"/{t.name}.{fmt}"))
                          for fmt in ("csv", "xlsx")] for t in tables},
        period=period, differences=differences, periods=periods,
    )
