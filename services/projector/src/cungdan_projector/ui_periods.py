"""The committee page's reporting periods: the status of the period a view shows, the
province's periods, and the figures as closed against the province's control totals. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cungdan_contracts import (
    CAMPAIGNS,
    INDICATORS,
)

from .closing_reads import ClosingRecord, PeriodView
from .ui_tables import Column, Row, Table, ViewQuery
from .vnformat import unit_vi

VN_TIME = dt.timezone(dt.timedelta(hours=7))


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
    last = view.last
    if last is None:
        return False, "Đang mở (chưa khóa lần nào)"
    if view.closed:
        return True, (f"Đã khóa (lần {last.closing}) lúc {vn_time(last.closed_at)}, "
                      f"{_by(last.closed_by)}")
    assert last.reopened_at is not None  # reopened: set with reopened_seq
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
