"""The projector's closing rules without a database: batches cut at period events, frozen
figures from activities' rows, late amendments, the writer's wire format."""

from __future__ import annotations

import datetime as dt

from cungdan_contracts import INDICATORS, AdminMap, encode_event
from cungdan_contracts.periods import PeriodClosed, period_subject
from cungdan_projector.closings import frozen_figures, late_rows, segments
from cungdan_projector.decoding import decode_period
from cungdan_projector.fold import Plan
from cungdan_projector.items import DeadLetter, Logged, Origin, PeriodMark, Retracted
from cungdan_projector.rollup import Facts, Tally
from cungdan_projector.writer import pack, unpack

AT = dt.datetime(2023, 7, 2, tzinfo=dt.UTC)
ORIGIN = Origin("legacy", "15", "dan-van-kheo", AT)
ROAD = list(INDICATORS).index("road_km")


def mark(seq: int, kind: str = "closed", closing: int = 1) -> PeriodMark:
    return PeriodMark(seq, kind, "legacy", "15", "2023-Q2", closing, AT, "approver", "sent")


def logged(seq: int, day: dt.date) -> Logged:
    """A commune of Mù Cang Chải (137), Yên Bái (15), legacy map."""
    return Logged(seq, f"a{seq}", Facts(AdminMap.LEGACY, ("04495", "137", "15", "VN"),
                                        "dan-van-kheo", day, {"road_km": 1000}), ORIGIN)


def test_a_batch_is_cut_at_its_period_events_in_order() -> None:
    a, b, c = logged(1, dt.date(2023, 5, 1)), logged(3, dt.date(2023, 5, 2)), mark(2)
    assert segments([a, c, b]) == [[a], c, [b]]
    assert segments([c]) == [c]
    assert segments([a, b]) == [[a, b]]
    assert segments([c, mark(4, "reopened")]) == [c, mark(4, "reopened")]


def test_frozen_figures_add_up_to_the_province_not_the_nation() -> None:
    amounts = [0] * len(INDICATORS)
    amounts[ROAD] = 1500
    figures = frozen_figures([("04495,137,15,VN", "ncd", *amounts),
                              ("137,15,VN", "ncd", *amounts),
                              ("04468,137,15,VN", "dvk", *[0] * len(INDICATORS))])
    assert {key: row[ROAD] for key, row in figures.items()} == {
        ("04495", "ncd"): 1500, ("137", "ncd"): 3000, ("15", "ncd"): 3000}


def test_late_amendments_are_events_dated_in_a_closed_period() -> None:
    inside, outside = logged(5, dt.date(2023, 6, 30)), logged(6, dt.date(2023, 7, 1))
    plan = Plan(position=6, tally=Tally(), counted=[inside, outside])
    assert late_rows(plan, {}) == []
    rows = late_rows(plan, {("legacy", "15", "2023-Q2"): 1, ("legacy", "15", "2023"): 2})
    assert sorted((r["seq"], r["period"], r["closing"]) for r in rows) == [
        (5, "2023", 2), (5, "2023-Q2", 1), (6, "2023", 2)]
    parked = Retracted(7, "retraction:x", "x", ORIGIN)  # its activity has not arrived
    assert late_rows(Plan(position=7, tally=Tally(), counted=[parked]),
                     {("legacy", "15", "2023"): 1}) == []


def test_period_events_decode_and_travel_to_the_writer() -> None:
    event = PeriodClosed(recorded_at=AT, province="15", map=AdminMap.LEGACY, period="2023-Q2",
                         closing=1, by="approver", reason="sent")
    decoded = decode_period(9, period_subject(event), encode_event(event))
    assert decoded == mark(9)
    assert unpack(pack([decoded])) == [decoded]
    control = PeriodMark(10, "control", "legacy", "15", "2023-Q2", 1, AT, None,
                         campaign="dan-van-kheo", measures={"road_km": 12000})
    assert unpack(pack([control])) == [control]
    broken = decode_period(11, "cungdan.period.15.legacy.2023-Q2.closed.1.v1", b"{")
    assert isinstance(broken, DeadLetter) and broken.reason.startswith("not JSON")
