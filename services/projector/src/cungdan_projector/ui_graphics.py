"""The committee page's chart by month and map of the children: server-side SVG geometry.
Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from cungdan_contracts import (
    INDICATORS,
    Locality,
    format_units,
)

from .places import Point
from .ui_tables import ViewQuery
from .vnformat import unit_vi, vn_month, vn_number

CHART_WIDTH, CHART_HEIGHT, CHART_MONTHS = 640, 220, 36


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
