"""Ingest's period rules without a broker: the closures index, who may close or reopen."""

from __future__ import annotations

import datetime as dt

from cungdan_contracts import AdminMap
from cungdan_contracts.periods import PeriodClosed, PeriodReopened
from cungdan_ingest.closures import Closures
from cungdan_ingest.period_actions import (
    State,
    Target,
    decide_close,
    decide_control,
    decide_reopen,
    same_request,
)
from cungdan_service.auth import make_principal

AT = dt.datetime(2024, 7, 2, tzinfo=dt.UTC)
LEGACY = AdminMap.LEGACY
TARGET = Target("15", LEGACY, "2024-Q2")


def closed(closing: int, period: str = "2024-Q2", reason: str = "sent") -> PeriodClosed:
    return PeriodClosed(recorded_at=AT, province="15", map=LEGACY, period=period,
                        closing=closing, by="approver", reason=reason)


def reopened(closing: int, period: str = "2024-Q2") -> PeriodReopened:
    return PeriodReopened(recorded_at=AT, province="15", map=LEGACY, period=period,
                          closing=closing, by="national", reason="late commune")


def test_the_index_follows_closings_and_reopenings_in_stream_order() -> None:
    index = Closures()
    day = dt.date(2024, 5, 6)
    assert index.closed(LEGACY, "15", day) is None
    index.apply(10, closed(1))
    found = index.closed(LEGACY, "15", day)
    assert found is not None and (found.period, found.closing, found.seq) == ("2024-Q2", 1, 10)
    assert index.closed(LEGACY, "15", dt.date(2024, 7, 1)) is None  # Q3
    assert index.closed(AdminMap.Y2025, "15", day) is None  # another map
    assert index.closed(LEGACY, "10", day) is None  # another province
    index.apply(9, reopened(1))  # at or below the position: applied before
    assert index.closed(LEGACY, "15", day) is not None
    index.apply(11, reopened(1))
    assert index.closed(LEGACY, "15", day) is None
    index.apply(12, closed(2, "2024"))
    assert index.closed(LEGACY, "15", dt.date(2024, 12, 31)).closing == 2  # type: ignore[union-attr]


def test_only_approvers_covering_the_province_close() -> None:
    approver = make_principal("lc", ["15"], ["approve"])
    assert decide_close(approver, TARGET, State()) is None
    assert decide_close(None, TARGET, State()) is None  # authentication off
    for caller in (make_principal("lc", ["15"], ["report"]),
                   make_principal("hn", ["01"], ["approve"])):
        refusal = decide_close(caller, TARGET, State())
        assert refusal is not None and refusal.status == "forbidden"
    refusal = decide_close(approver, TARGET, State(closed=(10, closed(1))))
    assert refusal is not None and refusal.status == "closed"


def test_only_national_admins_reopen_a_closed_period() -> None:
    state = State(closed=(10, closed(1)))
    assert decide_reopen(make_principal("vn", ["VN"], ["admin"]), TARGET, state) is None
    for caller in (make_principal("lc", ["15"], ["admin"]),
                   make_principal("vn", ["VN"], ["approve", "read"])):
        refusal = decide_reopen(caller, TARGET, state)
        assert refusal is not None and refusal.status == "forbidden"
    refusal = decide_reopen(None, TARGET, State(closed=(10, closed(1)),
                                                reopened=(11, reopened(1))))
    assert refusal is not None and refusal.status == "open"


def test_control_totals_need_a_closed_period() -> None:
    assert decide_control(None, TARGET, State(closed=(10, closed(1)))) is None
    refusal = decide_control(None, TARGET, State())
    assert refusal is not None and refusal.status == "open"


def test_the_state_is_closed_after_a_closing_not_yet_reopened() -> None:
    assert not State().is_closed
    assert State(closed=(10, closed(1))).is_closed
    assert not State(closed=(10, closed(1)), reopened=(11, reopened(1))).is_closed
    assert State(closed=(12, closed(2)), reopened=(11, reopened(1))).is_closed
    assert State(closed=(12, closed(2))).closings == 2


def test_the_same_request_is_the_same_reason_by_the_same_token() -> None:
    assert same_request(closed(1), closed(1))
    assert not same_request(closed(1), closed(1, reason="other"))
    assert not same_request(closed(1), closed(2))
    assert not same_request(closed(1), reopened(1))
