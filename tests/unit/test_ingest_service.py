"""The ingest use case against in-memory journals that answer as JetStream does."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Sequence
from decimal import Decimal

import pytest
from tests.factories import report
from tests.fakes import DownJournal

from cungdan_contracts import AdminMap, Gazetteer, decode_event, loads_exact
from cungdan_contracts.subjects import (
    HEADER_FINGERPRINT,
    HEADER_MSG_ID,
    HEADER_TYPE,
    HEADER_VERSION,
    Kind,
    id_filter,
)
from cungdan_ingest.journal import AlreadyStored, AppendResult, Outgoing, Stored
from cungdan_ingest.service import IngestService, Outcome
from cungdan_ingest.validation import today_in_vietnam

NOW = dt.datetime(2025, 9, 1, 3, 0, tzinfo=dt.UTC)  # 10:00 on 2025-09-01 in Vietnam


class FakeJetStream:
    """Sequences from 1; an id stored before answers AlreadyStored(first seq), as the
    per-id subject sequence check of the real journal does, also within one batch."""

    def __init__(self) -> None:
        self.stored: list[Outgoing] = []
        self.seq_of_id: dict[str, int] = {}
        self.calls = 0

    async def append_many(self, messages: Sequence[Outgoing]) -> list[AppendResult]:
        self.calls += 1
        results: list[AppendResult] = []
        for message in messages:
            msg_id = message.headers[HEADER_MSG_ID]
            if msg_id in self.seq_of_id:
                results.append(AlreadyStored(self.seq_of_id[msg_id]))
                continue
            self.stored.append(message)
            self.seq_of_id[msg_id] = len(self.stored)
            results.append(Stored(len(self.stored)))
        return results

    async def message_at(self, seq: int) -> bytes:
        return self.stored[seq - 1].payload


class UnreadableJetStream(FakeJetStream):
    """Stores and acknowledges, but cannot read a stored message back."""

    async def message_at(self, seq: int) -> bytes:
        raise TimeoutError("nats: timeout")


@pytest.fixture
def journal() -> FakeJetStream:
    return FakeJetStream()


@pytest.fixture
def service(journal: FakeJetStream, gazetteer: Gazetteer) -> IngestService:
    return IngestService(journal, gazetteer, clock=lambda: NOW)


# --- single reports -------------------------------------------------------------------------


async def test_accepted_with_sequence(service: IngestService, journal: FakeJetStream) -> None:
    first, second = report(), report(locality="137")
    a = await service.submit(first)
    b = await service.submit(second)
    assert a == Outcome("accepted", first["id"], 1, province="15")
    assert b == Outcome("accepted", second["id"], 2, province="15")
    assert len(journal.stored) == 2


async def test_same_id_same_content_is_a_duplicate_with_the_original_seq(
        service: IngestService, journal: FakeJetStream) -> None:
    raw = report()
    await service.submit(report())
    original = await service.submit(raw)
    again = await service.submit(dict(raw))
    assert original.status == "accepted"
    assert again == Outcome("duplicate", raw["id"], original.seq, province="15")
    assert len(journal.stored) == 2


async def test_same_content_written_differently_is_still_a_duplicate(
        service: IngestService, journal: FakeJetStream) -> None:
    raw = report(measures={"road_km": "3.50", "workdays": "120.0"})
    original = await service.submit(raw)
    rewritten = loads_exact(json.dumps({
        "measures": {"workdays": 120, "road_km": 0}, "unit": raw["unit"] + "  ",
        "date": raw["date"], "locality": raw["locality"], "campaign": raw["campaign"],
        "id": raw["id"].upper()}).replace('"road_km": 0', '"road_km": 3.5'))
    assert rewritten["measures"]["road_km"] == Decimal("3.5")
    again = await service.submit(rewritten)
    assert original.status == "accepted"
    assert (again.status, again.seq) == ("duplicate", original.seq)
    assert len(journal.stored) == 1


async def test_one_versus_one_point_zero_is_a_duplicate(service: IngestService) -> None:
    raw = report(measures={"workdays": "1.0"})
    original = await service.submit(raw)
    again = await service.submit({**raw, "measures": {"workdays": 1}})
    assert (again.status, again.seq) == ("duplicate", original.seq)


async def test_same_id_different_content_is_a_conflict(
        service: IngestService, journal: FakeJetStream) -> None:
    raw = report(measures={"road_km": "3.5", "workdays": 120})
    original = await service.submit(raw)
    clash = await service.submit({**raw, "measures": {"road_km": "3.6", "workdays": 120}})
    assert clash.status == "conflict"
    assert clash.seq == original.seq
    assert clash.id == raw["id"]
    assert [p.field for p in clash.problems] == ["id"]
    assert "already used for a different report" in clash.problems[0].reason
    assert f"stream sequence {original.seq}" in clash.problems[0].reason
    assert len(journal.stored) == 1
    stored = decode_event(journal.stored[0].payload)
    assert stored.activity.measures["road_km"] == Decimal("3.5")


async def test_rejected_report_is_not_appended(service: IngestService,
                                               journal: FakeJetStream) -> None:
    raw = report(measures={"road_km": "-1"})
    outcome = await service.submit(raw)
    assert outcome.status == "rejected"
    assert outcome.id == raw["id"]
    assert outcome.seq is None
    assert [p.field for p in outcome.problems] == ["measures.road_km"]
    assert journal.stored == []


async def test_non_object_body_is_rejected(service: IngestService) -> None:
    outcome = await service.submit(["not", "an", "object"])
    assert outcome.status == "rejected"
    assert outcome.id is None
    assert [p.field for p in outcome.problems] == ["(body)"]


# --- batches --------------------------------------------------------------------------------


async def test_batch_keeps_order_and_one_bad_item_sinks_nothing(
        service: IngestService, journal: FakeJetStream) -> None:
    stored_before = report(locality="137")
    first = await service.submit(stored_before)
    good, other_good = report(), report(locality="04492", date="2025-08-01")
    bad = report(campaign="nope")
    clash = {**stored_before, "unit": "another unit"}
    batch = [good, bad, stored_before, good, clash, other_good]

    outcomes = await service.submit_many(batch)

    assert [o.status for o in outcomes] == [
        "accepted", "rejected", "duplicate", "duplicate", "conflict", "accepted"]
    assert [o.id for o in outcomes] == [r["id"] for r in batch]
    assert outcomes[0].seq == 2
    assert outcomes[2].seq == first.seq == 1
    assert outcomes[3].seq == outcomes[0].seq  # repeated in the batch: the first copy's seq
    assert outcomes[4].seq == first.seq
    assert outcomes[5].seq == 3
    assert outcomes[5].province == "15"  # Lào Cai in the 2025 map
    assert [p.field for p in outcomes[1].problems] == ["campaign"]
    assert [decode_event(m.payload).activity.id for m in journal.stored] == [
        uuid.UUID(stored_before["id"]), uuid.UUID(good["id"]), uuid.UUID(other_good["id"])]


async def test_one_log_line_for_the_accepted_reports_of_a_batch_one_per_other_report(
        service: IngestService, caplog: pytest.LogCaptureFixture) -> None:
    stored_before = report()
    await service.submit(stored_before)
    caplog.clear()
    batch = [report(), stored_before, report(campaign="nope"), report(), report()]
    with caplog.at_level(logging.INFO, logger="cungdan.ingest"):
        await service.submit_many(batch)
    lines = [r for r in caplog.records if r.name == "cungdan.ingest"]
    assert [r.getMessage() for r in lines] == ["reports accepted", "report duplicate"]
    accepted, duplicate = lines
    assert (accepted.count, accepted.seq_first, accepted.seq_last) == (3, 2, 4)
    assert (duplicate.event_id, duplicate.seq) == (stored_before["id"], 1)


async def test_a_single_report_logs_its_id_and_sequence(
        service: IngestService, caplog: pytest.LogCaptureFixture) -> None:
    raw = report()
    with caplog.at_level(logging.INFO, logger="cungdan.ingest"):
        await service.submit_many([raw, report(measures={})])
    [line] = [r for r in caplog.records if r.name == "cungdan.ingest"]
    assert line.getMessage() == "report accepted"
    assert (line.event_id, line.seq, line.status) == (raw["id"], 1, "accepted")


async def test_batch_of_only_bad_items(service: IngestService, journal: FakeJetStream) -> None:
    outcomes = await service.submit_many([report(locality="1"), report(date="2023-02-30")])
    assert [o.status for o in outcomes] == ["rejected", "rejected"]
    assert [o.problems[0].field for o in outcomes] == ["locality", "date"]
    assert journal.stored == []


async def test_empty_batch(service: IngestService) -> None:
    assert await service.submit_many([]) == []


# --- broker failures ------------------------------------------------------------------------


async def test_broker_outage_answers_unavailable_and_nothing_accepted(
        gazetteer: Gazetteer) -> None:
    down = DownJournal()
    service = IngestService(down, gazetteer, clock=lambda: NOW)
    batch = [report(), report(measures={}), report(locality="137")]
    outcomes = await service.submit_many(batch)
    assert [o.status for o in outcomes] == ["unavailable", "rejected", "unavailable"]
    assert all(o.seq is None for o in outcomes)
    assert [o.id for o in outcomes] == [r["id"] for r in batch]
    assert outcomes[0].problems[0].field == "(broker)"
    assert "no acknowledgement" in outcomes[0].problems[0].reason
    assert down.offered == 2


async def test_unreadable_stored_event_answers_unavailable(gazetteer: Gazetteer) -> None:
    journal = UnreadableJetStream()
    service = IngestService(journal, gazetteer, clock=lambda: NOW)
    raw = report()
    assert (await service.submit(raw)).status == "accepted"
    again = await service.submit(raw)
    assert again.status == "unavailable"
    assert again.seq is None
    assert again.problems[0].field == "(broker)"
    assert "could not read event 1" in again.problems[0].reason


# --- date, locality, map --------------------------------------------------------------------


async def test_future_date_is_rejected_naming_date(service: IngestService) -> None:
    outcome = await service.submit(report(locality="04492", date="2025-09-02"))
    assert outcome.status == "rejected"
    assert [p.field for p in outcome.problems] == ["date"]
    reason = outcome.problems[0].reason
    assert "2025-09-02 is in the future" in reason
    assert "today is 2025-09-01" in reason


async def test_today_is_the_day_in_vietnam(journal: FakeJetStream,
                                           gazetteer: Gazetteer) -> None:
    # 18:00 UTC on 30 June is already 1 July (the reform day) in Vietnam
    late = dt.datetime(2025, 6, 30, 18, 0, tzinfo=dt.UTC)
    assert today_in_vietnam(late) == dt.date(2025, 7, 1)
    service = IngestService(journal, gazetteer, clock=lambda: late)
    outcome = await service.submit(report(locality="04492", date="2025-07-01"))
    assert outcome.status == "accepted"
    assert decode_event(journal.stored[0].payload).map is AdminMap.Y2025
    tomorrow = await service.submit(report(locality="04492", date="2025-07-02"))
    assert [p.field for p in tomorrow.problems] == ["date"]


async def test_unknown_locality_names_map_and_date(service: IngestService) -> None:
    outcome = await service.submit(report(locality="99999", date="2024-03-08"))
    assert outcome.status == "rejected"
    assert [p.field for p in outcome.problems] == ["locality"]
    reason = outcome.problems[0].reason
    assert "'99999'" in reason
    assert "legacy map" in reason
    assert "2024-03-08" in reason


async def test_legacy_district_is_read_in_the_map_of_its_date(
        service: IngestService, journal: FakeJetStream) -> None:
    legacy = await service.submit(report(locality="137", date="2023-06-30"))
    assert legacy.status == "accepted"
    assert legacy.province == "15"
    event = decode_event(journal.stored[0].payload)
    assert event.map is AdminMap.LEGACY

    after = await service.submit(report(locality="137", date="2025-08-01"))
    assert after.status == "rejected"
    assert [p.field for p in after.problems] == ["locality"]
    assert "'137' in the 2025 map" in after.problems[0].reason
    assert "2025-08-01" in after.problems[0].reason
    assert len(journal.stored) == 1


async def test_legacy_commune_code_is_unknown_after_the_reform(service: IngestService) -> None:
    outcome = await service.submit(report(locality="04495", date="2025-07-01"))
    assert [p.field for p in outcome.problems] == ["locality"]
    assert "2025 map" in outcome.problems[0].reason


async def test_a_future_date_is_reported_without_a_knock_on_locality_error(
        service: IngestService) -> None:
    outcome = await service.submit(report(locality="137", date="2025-12-01"))
    assert [p.field for p in outcome.problems] == ["date"]


# --- what is handed to the journal ----------------------------------------------------------


@pytest.mark.parametrize(("locality", "day", "admin_map", "province"), [
    ("04495", "2023-04-15", "legacy", "15"),
    ("14836", "2023-04-20", "legacy", "38"),
    ("05611", "2025-06-30", "legacy", "19"),
    ("05611", "2025-07-01", "2025", "19"),
    ("04492", "2025-08-01", "2025", "15"),
    ("VN", "2024-01-01", "legacy", "VN"),
])
async def test_the_outgoing_message(service: IngestService, journal: FakeJetStream,
                                    locality: str, day: str, admin_map: str,
                                    province: str) -> None:
    raw = report(locality=locality, date=day, campaign="dan-van-kheo",
                 measures={"flower_pots": 310, "flower_road_km": 2, "donations_vnd": 310000000},
                 note="hoa giấy")
    outcome = await service.submit(raw)
    assert (outcome.status, outcome.province) == ("accepted", province)
    [message] = journal.stored
    assert message.subject == (  # events are ActivityLogged v2, whatever the report's version
        f"cungdan.activity.{raw['id']}.logged.{admin_map}.{province}.dan-van-kheo.v2")
    assert message.key == (Kind.LOGGED, raw["id"])  # looked for in subject layout 1 too
    assert message.headers[HEADER_MSG_ID] == raw["id"]
    assert message.headers[HEADER_TYPE] == "ActivityLogged"
    assert message.headers[HEADER_VERSION] == "2"
    assert message.id_filter == id_filter(uuid.UUID(raw["id"]))

    event = decode_event(message.payload)
    assert event.map == AdminMap(admin_map)
    assert event.source_province == province
    assert event.recorded_at == NOW
    assert str(event.id) == raw["id"]
    assert event.activity.locality == locality
    assert event.activity.note == "hoa giấy"
    assert event.activity.measures == {"flower_pots": 310, "flower_road_km": 2,
                                       "donations_vnd": 310000000}
    assert message.headers[HEADER_FINGERPRINT] == event.activity.fingerprint()
    carried = json.loads(message.payload)["activity"]["measures"]
    assert carried == {"flower_pots": "310", "flower_road_km": "2", "donations_vnd": "310000000"}
