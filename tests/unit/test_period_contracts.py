"""Period events (cungdan_contracts.periods): periods, subjects, decoding."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from pydantic import ValidationError

from cungdan_contracts import AdminMap, UnknownContractError, encode_event
from cungdan_contracts.periods import (
    ControlTotalsRequest,
    ControlTotalsSubmitted,
    PeriodClosed,
    PeriodReopened,
    decode_period_event,
    default_map,
    msg_id,
    once_filter,
    period_filter,
    period_range,
    period_subject,
    periods_of,
)
from cungdan_contracts.subjects import STREAM_SUBJECTS, parse

AT = dt.datetime(2024, 7, 2, 3, 4, 5, tzinfo=dt.UTC)


def closed(closing: int = 1, period: str = "2024-Q2") -> PeriodClosed:
    return PeriodClosed(recorded_at=AT, province="15", map=AdminMap.LEGACY, period=period,
                        closing=closing, by="yb-approver", reason="quarterly report sent")


@pytest.mark.parametrize(("period", "first", "last"), [
    ("2024", dt.date(2024, 1, 1), dt.date(2024, 12, 31)),
    ("2024-Q1", dt.date(2024, 1, 1), dt.date(2024, 3, 31)),
    ("2024-02", dt.date(2024, 2, 1), dt.date(2024, 2, 29)),
])
def test_a_period_is_an_inclusive_range_of_days(period: str, first: dt.date,
                                                last: dt.date) -> None:
    assert period_range(period) == (first, last)
    assert period in periods_of(first)
    assert period in periods_of(last)


@pytest.mark.parametrize("bad", ["24", "2024-Q5", "2024-13", "2024-1", "2024-q1", ""])
def test_other_text_is_no_period(bad: str) -> None:
    with pytest.raises(ValueError, match="not a period"):
        period_range(bad)
    with pytest.raises(ValidationError):
        closed(period=bad)


def test_the_default_map_is_the_one_in_force_on_the_first_day() -> None:
    assert default_map("2025") is AdminMap.LEGACY  # 2025-01-01 precedes the reform
    assert default_map("2025-Q3") is AdminMap.Y2025
    assert default_map("2025-06") is AdminMap.LEGACY


def test_subjects_name_the_period_the_kind_and_the_key() -> None:
    event = closed(2)
    assert period_subject(event) == "cungdan.period.15.legacy.2024-Q2.closed.2.v1"
    assert once_filter(event) == "cungdan.period.15.legacy.2024-Q2.closed.2.>"
    assert msg_id(event) == "period:15:legacy:2024-Q2:closed:2"
    reopened = PeriodReopened(**closed(2).model_dump(exclude={"type"}))
    assert period_subject(reopened) == "cungdan.period.15.legacy.2024-Q2.reopened.2.v1"
    assert period_filter("15", AdminMap.LEGACY, "2024-Q2") == "cungdan.period.15.legacy.2024-Q2.>"
    assert parse(period_subject(event)) is None  # no activity subject
    assert any(period_subject(event).startswith(s.removesuffix(">")) for s in STREAM_SUBJECTS)


def test_control_totals_are_keyed_by_content_and_closing() -> None:
    def control(closing: int, amount: str) -> ControlTotalsSubmitted:
        return ControlTotalsSubmitted(
            recorded_at=AT, province="15", map=AdminMap.LEGACY, period="2024-Q2",
            closing=closing, control=ControlTotalsRequest(
                campaign="dan-van-kheo", measures={"models_registered": Decimal(amount)}))
    assert control(1, "128").key() == control(1, "128.0").key()
    assert len({control(1, "128").key(), control(2, "128").key(), control(1, "10").key()}) == 3


def test_period_events_decode_from_their_bytes() -> None:
    for event in (closed(), PeriodReopened(**closed().model_dump(exclude={"type"}))):
        assert decode_period_event(encode_event(event)) == event
    with pytest.raises(UnknownContractError):
        decode_period_event(b'{"type": "PeriodArchived", "version": 1}')
    with pytest.raises(UnknownContractError):
        decode_period_event(encode_event(closed()).replace(b'"version":1', b'"version":2'))
