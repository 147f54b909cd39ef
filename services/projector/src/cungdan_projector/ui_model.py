"""What the committee page shows, built from what the read side answered. Pure: no I/O.

A view is its URL (:class:`ViewQuery`: the parameters of ``GET /v1/totals``). Its
tables (:class:`Table`) hold exact numbers; the page, the CSV and the XLSX exports all
render the same tables, so they show the same numbers. The chart and the map are
server-side SVG geometry (:class:`Chart`, :class:`MapView`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from cungdan_contracts import (
    CAMPAIGNS,
    INDICATORS,
    AdminMap,
    Gazetteer,
    Locality,
    format_units,
)

from .closing_reads import ClosingRecord, PeriodView
from .completeness import Completeness
from .places import Point
from .vnformat import LEVELS_VI, unit_vi, vn_date, vn_month, vn_number, vn_percent

Cell = Decimal | int | str | dt.date | bool | None


@dataclass(frozen=True, slots=True)
class ViewQuery:
    """A view's URL parameters, those of ``GET /v1/totals/{locality}``."""

    code: str
    map: AdminMap = AdminMap.Y2025
    campaign: str | None = None
    indicator: str | None = None
    period: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    as_closed: bool = False
    """The figures as the period was closed (``closing``: that closing, else the last)."""
    closing: int | None = None

    def params(self) -> dict[str, str]:
        found = {"map": self.map.value, "campaign": self.campaign,
                 "indicator": self.indicator, "period": self.period,
                 "from": self.date_from.isoformat() if self.date_from else None,
                 "to": self.date_to.isoformat() if self.date_to else None,
                 "as_closed": "true" if self.as_closed else None,
                 "closing": str(self.closing) if self.closing is not None else None}
        return {k: v for k, v in found.items() if v}

    def url(self, code: str | None = None, suffix: str = "", **changes: Any) -> str:
        """The URL of this view, of ``code`` with the same filters, or of a table's export
        (``suffix``: ``/children.csv``)."""
        query = replace(self, **changes) if changes else self
        return f"/ui/{code or self.code}{suffix}?{_query_string(query)}"


@lru_cache(maxsize=256)
def _query_string(query: ViewQuery) -> str:
    return urlencode(query.params())


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    unit: str = ""
    numeric: bool = False

    @property
    def heading(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label


@dataclass(frozen=True, slots=True)
class Row:
    cells: tuple[Cell, ...]
    link: str | None = None
    """The view one level down (the first text cell is the link)."""
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    """Its name in export URLs and file names."""
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]

    def records(self) -> list[list[Cell]]:
        return [list(r.cells) for r in self.rows]


def cell_text(cell: Cell) -> str:
    """A cell as the page shows it (Vietnamese number style)."""
    if cell is None:
        return "—"
    if isinstance(cell, bool):
        return "Đã báo cáo" if cell else "Chưa báo cáo"
    if isinstance(cell, Decimal | int):
        return vn_number(cell)
    if isinstance(cell, dt.date):
        return vn_date(cell)
    return cell


def cell_value(cell: Cell) -> str:
    """A cell as a machine reads it (sorting, tests): exact and unformatted."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "1" if cell else "0"
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return str(cell)


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[float, str, str], ...]
    """(x, month label, text-anchor) under some bars."""
    caption: str
    peak: str


@dataclass(frozen=True, slots=True)
class Dot:
    cx: float
    cy: float
    r: float
    title: str
    link: str
    empty: bool


@dataclass(frozen=True, slots=True)
class MapView:
    width: int
    height: int
    dots: tuple[Dot, ...]
    caption: str
    missing: int
    """Children without a known point (not drawn)."""


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
class PeriodStatus:
    """A reporting period of the province the view lies in: its closings, reopenings,
    late amendments, and the links between the live and the "as closed" figures."""

    period: str
    province: str
    """The province's name (the period's closing is the province's)."""
    closed: bool
    status: str
    history: tuple[str, ...]
    late_amendments: int
    as_closed_link: str | None
    """The same view as closed (None: never closed, or this is that view)."""
    live_link: str | None
    """The same view with the live figures (on the "as closed" view)."""
    shown: str | None
    """On the "as closed" view: which closing its figures are."""


@dataclass(frozen=True, slots=True)
class PeriodEntry:
    period: str
    status: str
    link: str


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


CHART_WIDTH, CHART_HEIGHT, CHART_MONTHS = 640, 220, 36


def chart(series: Mapping[int, int], indicator: str) -> Chart | None:
    """Bars of the last months (at most :data:`CHART_MONTHS`) from the first with
    figures, every month in between shown (zero where nothing was reported)."""
    present = [month for month, amount in series.items() if amount]
    if not present:
        return None
    first, last = min(present), max(present)
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = month + 1 if month % 100 < 12 else (month // 100 + 1) * 100 + 1
    months = months[-CHART_MONTHS:]
    scale = INDICATORS[indicator].scale
    unit = unit_vi(INDICATORS[indicator].unit)
    values = [Decimal(format_units(series.get(m, 0), scale)) for m in months]
    peak = max(values) or Decimal(1)
    left, bottom, top = 8.0, 24.0, 8.0
    slot = (CHART_WIDTH - 2 * left) / len(months)
    usable = CHART_HEIGHT - bottom - top
    bars = []
    for i, (m, value) in enumerate(zip(months, values, strict=True)):
        height = float(value / peak) * usable if value > 0 else 0.0
        bars.append(Bar(round(left + i * slot + slot * 0.1, 1),
                        round(CHART_HEIGHT - bottom - height, 1), round(slot * 0.8, 1),
                        round(height, 1), vn_month(m), f"{vn_month(m)}: {vn_number(value)} {unit}"))
    every = max(1, math.ceil(len(months) / 7))
    last_bar = len(bars) - 1
    ticks = []
    for i, b in enumerate(bars):
        if i == last_bar or (i % every == 0 and last_bar - i >= every / 2):
            if i == 0 and i != last_bar:
                ticks.append((b.x, b.label, "start"))
            elif i == last_bar and i:
                ticks.append((round(b.x + b.width, 1), b.label, "end"))
            else:
                ticks.append((round(b.x + b.width / 2, 1), b.label, "middle"))
    label = INDICATORS[indicator].label_vi
    return Chart(CHART_WIDTH, CHART_HEIGHT, tuple(bars), tuple(ticks),
                 f"{label} theo tháng ({unit}), {vn_month(months[0])}–{vn_month(months[-1])}",
                 f"{vn_number(peak)} {unit}")


MAP_WIDTH, MAP_MAX_RADIUS, MAP_MIN_RADIUS = 360, 16.0, 2.5


def map_view(query: ViewQuery, children: Sequence[Locality], amounts: Mapping[str, Decimal],
             points: Mapping[str, Point], indicator: str) -> MapView | None:
    """The children as circles at their points (equirectangular, north up), their area
    proportional to the indicator; each a link to its view with a title."""
    placed = [(c, points[c.code]) for c in children if c.code in points]
    if not placed:
        return None
    lats = [p[0] for _, p in placed]
    lons = [p[1] for _, p in placed]
    pad = 0.02 + 0.05 * max(max(lats) - min(lats), max(lons) - min(lons))
    south, north = min(lats) - pad, max(lats) + pad
    west, east = min(lons) - pad, max(lons) + pad
    squeeze = math.cos(math.radians((south + north) / 2))
    span_x, span_y = (east - west) * squeeze, north - south
    margin = MAP_MAX_RADIUS + 2
    inner = MAP_WIDTH - 2 * margin
    scale = inner / max(span_x, span_y * 0.6)
    width = MAP_WIDTH
    height = int(min(span_y * scale + 2 * margin, MAP_WIDTH * 1.8))
    scale = min(scale, (height - 2 * margin) / span_y) if span_y else scale
    peak = max((amounts.get(c.code, Decimal(0)) for c, _ in placed), default=Decimal(0))
    unit = unit_vi(INDICATORS[indicator].unit)
    dots = []
    for loc, (lat, lon) in placed:
        value = amounts.get(loc.code, Decimal(0))
        share = float(value / peak) if peak > 0 and value > 0 else 0.0
        r = MAP_MIN_RADIUS + (MAP_MAX_RADIUS - MAP_MIN_RADIUS) * math.sqrt(share)
        dots.append(Dot(round(margin + (lon - west) * squeeze * scale, 1),
                        round(margin + (north - lat) * scale, 1), round(r, 1),
                        f"{loc.name}: {vn_number(value)} {unit}", query.url(loc.code),
                        value <= 0))
    dots.sort(key=lambda d: -d.r)  # small circles on top of big ones
    return MapView(width, height, tuple(dots),
                   f"Bản đồ các đơn vị trực thuộc: {INDICATORS[indicator].label_vi} ({unit})",
                   len(children) - len(placed))


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


VN_TIME = dt.timezone(dt.timedelta(hours=7))


def vn_time(moment: dt.datetime) -> str:
    """A moment in Vietnam's time: ``14:05 ngày 04/12/2026``."""
    local = moment.astimezone(VN_TIME)
    return f"{local:%H:%M} ngày {local:%d/%m/%Y}"


def _by(who: str | None) -> str:
    return who or "không ghi tên người thực hiện"


def _closing_line(c: ClosingRecord) -> str:
    return f"Khóa lần {c.closing}: {vn_time(c.closed_at)}, {_by(c.closed_by)}; lý do: {c.reason}"


def _reopen_line(c: ClosingRecord) -> str | None:
    if c.reopened_at is None:
        return None
    return (f"Mở lại sau lần khóa {c.closing}: {vn_time(c.reopened_at)}, "
            f"{_by(c.reopened_by)}; lý do: {c.reopen_reason or '—'}")


def _status(view: PeriodView) -> tuple[bool, str]:
    """(closed, the status in a sentence)."""
    if not view.closings:
        return False, "Đang mở (chưa khóa lần nào)"
    last = view.closings[-1]
    if last.reopened_at is None:
        return True, (f"Đã khóa (lần {last.closing}) lúc {vn_time(last.closed_at)}, "
                      f"{_by(last.closed_by)}")
    return False, (f"Đang mở lại (từ {vn_time(last.reopened_at)}, {_by(last.reopened_by)}; "
                   f"đã khóa {len(view.closings)} lần)")


def period_status(query: ViewQuery, province: str, view: PeriodView,
                  shown: ClosingRecord | None = None) -> PeriodStatus | None:
    """The status of the view's period (None: the view has no ``period``); ``shown``: on
    the "as closed" view, the closing its figures are."""
    if query.period is None:
        return None
    closed, status = _status(view)
    history: list[str] = []
    for c in view.closings:
        history.append(_closing_line(c))
        if (line := _reopen_line(c)) is not None:
            history.append(line)
    live = query.url(as_closed=False, closing=None)
    return PeriodStatus(
        period=query.period, province=province, closed=closed, status=status,
        history=tuple(history), late_amendments=view.late_amendments,
        as_closed_link=(query.url(as_closed=True, closing=None)
                        if view.closings and not query.as_closed else None),
        live_link=live if query.as_closed else None,
        shown=(f"Số liệu khi khóa lần {shown.closing} ({vn_time(shown.closed_at)}, "
               f"{_by(shown.closed_by)})" if shown is not None else None))


def periods_list(query: ViewQuery, found: Mapping[str, PeriodView]) -> tuple[PeriodEntry, ...]:
    """The province's periods with a closing, newest first, each a link to its view."""
    entries = []
    for name in sorted(found, reverse=True):
        view = found[name]
        if not view.closings:
            continue
        entries.append(PeriodEntry(name, _status(view)[1], query.url(
            period=name, date_from=None, date_to=None, as_closed=False, closing=None)))
    return tuple(entries)


def differences_table(comparisons: Sequence[Mapping[str, Any]]) -> Table | None:
    """The comparisons of ``GET /v1/periods/{province}/{period}`` as a table: per campaign
    the province sent control totals for, per indicator, the figure as closed, the
    province's and the difference (the province's minus ours). None: nothing sent."""
    columns = (Column("campaign", "Phong trào"), Column("indicator", "Chỉ tiêu"),
               Column("unit", "Đơn vị"),
               Column("projected", "Số liệu khi khóa kỳ", numeric=True),
               Column("province", "Số liệu của tỉnh", numeric=True),
               Column("difference", "Chênh lệch (tỉnh − khi khóa)", numeric=True))
    rows = []
    for comparison in comparisons:
        campaign = comparison["campaign"]
        if campaign is None:
            continue
        name = CAMPAIGNS[campaign].name_vi if campaign in CAMPAIGNS else campaign
        for r in comparison["indicators"]:
            if r["province"] is None:
                continue
            indicator = INDICATORS[r["indicator"]]
            rows.append(Row((name, indicator.label_vi, unit_vi(indicator.unit),
                             Decimal(r["projected"]), Decimal(r["province"]),
                             Decimal(r["difference"]))))
    if not rows:
        return None
    return Table("differences", "Đối chiếu với số liệu của tỉnh", columns, tuple(rows))


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
