"""Figures the Vietnamese way: ``2.400.000.000 đồng``, ``1,5 km``, ``04/12/2026``. Pure.

The catalog's units are English codes (``VND``, ``person-turns``); a committee reads
them in Vietnamese (:data:`UNITS_VI`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from cungdan_contracts import Level

UNITS_VI = {
    "person-turns": "lượt", "person-days": "ngày công", "sessions": "buổi", "km": "km",
    "roads": "tuyến", "trees": "cây", "pots": "chậu", "houses": "căn", "works": "công trình",
    "tonnes": "tấn", "ha": "ha", "VND": "đồng", "enterprises": "doanh nghiệp",
    "cooperatives": "hợp tác xã", "groups": "tổ hợp tác", "models": "mô hình",
}
"""The catalog's units in Vietnamese (a unit missing here is shown as the catalog has it)."""

LEVELS_VI = {Level.NATION: "Toàn quốc", Level.PROVINCE: "Tỉnh, thành phố",
             Level.DISTRICT: "Quận, huyện", Level.COMMUNE: "Xã, phường, đặc khu"}


def vn_number(value: str | int | Decimal) -> str:
    """An exact decimal with ``.`` between thousands and ``,`` before the fraction:
    ``2400000000`` -> ``2.400.000.000``, ``-1234.5`` -> ``-1.234,5``."""
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    text = str(value)
    whole, _, fraction = text.partition(".")
    grouped = f"{int(whole):,}".replace(",", ".") if whole.lstrip("-+") else "0"
    if whole.startswith("-") and not grouped.startswith("-"):
        grouped = "-" + grouped  # -0.5
    return f"{grouped},{fraction}" if fraction else grouped


def unit_vi(unit: str) -> str:
    return UNITS_VI.get(unit, unit)


def vn_quantity(value: str | int | Decimal, unit: str) -> str:
    """``vn_number`` and the unit in Vietnamese: ``2.400.000.000 đồng``."""
    return f"{vn_number(value)} {unit_vi(unit)}"


def vn_date(day: dt.date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else "—"


def vn_percent(share: float) -> str:
    """A share in 0..1 as a percentage with one decimal: ``0.125`` -> ``12,5 %``."""
    return f"{vn_number(f'{share * 100:.1f}'.removesuffix('.0'))} %"


def vn_month(month: int) -> str:
    """``202507`` -> ``07/2025``."""
    return f"{month % 100:02d}/{month // 100}"
