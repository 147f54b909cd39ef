"""Closed figures on SQLite and PostgreSQL: every interleaving of reports, corrections and a
retraction with close / reopen / close of one period gives, for each closing, the figures
of an independent recount of the stream up to the closing's sequence; and a second
generation fed the same stream in other batches (a rebuild) copies the same figures.

The stream is made of real event bytes, decoded by the projector's decoder; the recount
reads the same bytes as JSON with ``Decimal`` and knows only the lifecycle rules (the last
correction wins, a retraction is final) and the gazetteer's ancestors.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from tests.factories import event
from tests.integration.both_stores import read_model
from tests.recount import Figures
from tests.recount import recount as recounted

from cungdan_contracts import (
    INDICATORS,
    ActivityCorrected,
    ActivityRetracted,
    AdminMap,
    CorrectionRequest,
    RetractionRequest,
    encode_event,
    load_gazetteer,
)
from cungdan_contracts.periods import PeriodClosed, PeriodReopened, period_subject
from cungdan_contracts.subjects import corrected_subject, logged_subject, retracted_subject
from cungdan_projector import closing_reads
from cungdan_projector.decoding import decode
from cungdan_projector.generations import ReadModel
from cungdan_projector.rollup import PROJECTION_VERSION
from cungdan_projector.store import GenerationStore

pytestmark = pytest.mark.integration

LEGACY = AdminMap.LEGACY
PROVINCE, PERIOD = "15", "2023-Q2"
AT = dt.datetime(2023, 7, 2, tzinfo=dt.UTC)
NCD, DVK = "ngay-cuoi-tuan-cung-dan", "dan-van-kheo"

model = pytest.fixture(name="model")(read_model)

Stream = list[tuple[int, str, bytes]]
"""(seq, subject, payload) in stream order."""


def _activity_events() -> dict[str, tuple[str, bytes]]:
    a = event(locality="04495", date="2023-05-06", campaign=NCD,
              measures={"road_km": "1.5", "citizen_turns": 120})
    b = event(locality="04468", date="2023-04-10", campaign=DVK,
              measures={"road_km": "0.2", "workdays": 7})
    c = event(locality="137", date="2023-06-30", campaign=NCD, measures={"road_km": "6"})
    late = event(locality="04495", date="2023-07-01", measures={"road_km": "9"})  # Q3
    fix = ActivityCorrected(recorded_at=AT, source_province=PROVINCE, map=LEGACY,
                            activity_id=a.id, campaign=NCD, correction=CorrectionRequest(
                                id=uuid.uuid4(), measures={"road_km": "2.25"},
                                reason="recounted"))
    drop = ActivityRetracted(recorded_at=AT, source_province=PROVINCE, map=LEGACY,
                             activity_id=b.id, campaign=DVK,
                             retraction=RetractionRequest(reason="reported twice"))

    def logged(ev: Any) -> tuple[str, bytes]:
        return (logged_subject(LEGACY, PROVINCE, ev.activity.campaign, ev.id),
                encode_event(ev))

    return {
        "A": logged(a), "B": logged(b), "C": logged(c), "Q3": logged(late),
        "fixA": (corrected_subject(LEGACY, PROVINCE, NCD, a.id, fix.correction.id),
                 encode_event(fix)),
        "dropB": (retracted_subject(LEGACY, PROVINCE, DVK, b.id), encode_event(drop)),
    }


ACTIVITY = _activity_events()
ACTIVITY_ORDER = ["A", "B", "fixA", "dropB", "C"]
PERIOD_ORDER = ["close1", "reopen1", "close2"]


def _period_event(name: str) -> tuple[str, bytes]:
    closing = 1 if name.endswith("1") else 2
    common = {"recorded_at": AT, "province": PROVINCE, "map": LEGACY, "period": PERIOD,
              "closing": closing, "by": "approver"}
    ev = (PeriodReopened(reason="a commune left out", **common) if name.startswith("reopen")
          else PeriodClosed(reason=f"{name} sent", **common))
    return period_subject(ev), encode_event(ev)


def interleavings() -> Iterator[tuple[str, ...]]:
    """Every merge of the activity events and the period events, each keeping its order."""
    names = ACTIVITY_ORDER + PERIOD_ORDER
    for slots in itertools.combinations(range(len(names)), len(PERIOD_ORDER)):
        periods, activities = iter(PERIOD_ORDER), iter(ACTIVITY_ORDER)
        yield tuple(next(periods) if i in slots else next(activities)
                    for i in range(len(names)))


ORDERS = list(interleavings())


def stream_of(order: Sequence[str]) -> Stream:
    """The order as stored, with the Q3 report last and gaps in the sequences."""
    out: Stream = []
    for i, name in enumerate([*order, "Q3"]):
        subject, data = ACTIVITY[name] if name in ACTIVITY else _period_event(name)
        out.append((10 + 3 * i, subject, data))
    return out


def recount(stream: Stream, upto: int) -> Figures:
    """The figures of the province and below for the period, from the events before
    ``upto``: (locality, campaign) -> indicator -> quantity."""
    events = [(seq, json.loads(data, parse_float=Decimal)) for seq, _, data in stream]
    return recounted(events, upto, PERIOD, PROVINCE)


def frozen(store: GenerationStore) -> dict[int, Figures]:
    """Every closing's figures as the store holds them, as quantities."""
    t = store.tables.closing_totals
    found: dict[int, Figures] = defaultdict(dict)
    with store.model.engine.connect() as conn:
        for row in conn.execute(select(t).where(t.c.province == PROVINCE,
                                                t.c.period == PERIOD)):
            amounts = {code: Decimal(row._mapping[code]).scaleb(-INDICATORS[code].scale)
                       for code in INDICATORS if row._mapping[code]}
            found[row.closing][(row.locality, row.campaign)] = amounts
    return dict(found)


def feed(store: GenerationStore, stream: Stream, sizes: Sequence[int]) -> None:
    """Apply the stream in batches of the given sizes (cycled), the last batch delivered
    twice (a redelivery counts nothing again)."""
    gazetteer = load_gazetteer()
    messages = [decode(seq, subject, data, gazetteer) for seq, subject, data in stream]
    start, batch = 0, []
    for size in itertools.cycle(sizes):
        if start >= len(messages):
            break
        batch = messages[start:start + size]
        store.apply(batch)
        start += size
    store.apply(batch)


def closing_seqs(stream: Stream) -> dict[int, int]:
    """Closing number -> its sequence in the stream."""
    return {json.loads(data)["closing"]: seq for seq, subject, data in stream
            if ".closed." in subject}


@pytest.mark.parametrize("chunk", [0, 1, 2, 3])
def test_every_interleaving_freezes_the_recount_up_to_each_closing(
        model: ReadModel, chunk: int) -> None:
    """The orders are split in four chunks (one test each, so a failure names fewer)."""
    orders = ORDERS[chunk::4]
    assert len(ORDERS) == 56
    for order in orders:
        stream = stream_of(order)
        first = model.create_generation(PROJECTION_VERSION)
        rebuilt = model.create_generation(PROJECTION_VERSION)
        feed(first, stream, [len(stream)])  # all in one batch: cut at the period events
        feed(rebuilt, stream, [1, 2, 3])  # a rebuild reading the stream in other batches
        expected = {n: recount(stream, seq) for n, seq in closing_seqs(stream).items()}
        got = frozen(first)
        assert {n: got.get(n, {}) for n in expected} == expected, order
        assert frozen(rebuilt) == got, order
        assert first.position() == rebuilt.position() == stream[-1][0]
        model.drop_generation(first.number)
        model.drop_generation(rebuilt.number)


def test_late_amendments_are_those_counted_while_the_period_was_closed(
        model: ReadModel) -> None:
    order = ("A", "close1", "B", "fixA", "reopen1", "dropB", "close2", "C")
    stream = stream_of(order)
    store = model.create_generation(PROJECTION_VERSION, active=True)
    feed(store, stream, [2])
    position, periods = closing_reads.periods(model.engine, LEGACY.value, PROVINCE)
    view = periods[PERIOD]
    assert position == stream[-1][0]
    assert view.late_amendments == 3  # B and fixA while closing 1 held; C after closing 2
    assert [(c.closing, c.reopened_seq is not None) for c in view.closings] == [
        (1, True), (2, False)]
    _, one = closing_reads.periods(model.engine, LEGACY.value, PROVINCE, PERIOD)
    assert one[PERIOD].late_amendments == len(one[PERIOD].late) == 3  # read with its rows
    assert [(r["closing"], r["kind"]) for r in one[PERIOD].late] == [
        (1, "logged"), (1, "corrected"), (2, "logged")]
    _, record, sums = closing_reads.closed_figures(
        model.engine, LEGACY.value, PROVINCE, PERIOD, 1, ["04495", "137", PROVINCE], None)
    assert record is not None and record.closing == 1
    assert sums["04495"][list(INDICATORS).index("road_km")] == 1500  # A as first reported
    _, last, now = closing_reads.closed_figures(
        model.engine, LEGACY.value, PROVINCE, PERIOD, None, [PROVINCE], None)
    assert last is not None and last.closing == 2
    assert now[PROVINCE][list(INDICATORS).index("road_km")] == 2250  # corrected A; B gone
    assert closing_reads.late_amendments(model.engine, LEGACY.value, PROVINCE, PERIOD) == 3
