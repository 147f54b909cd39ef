"""Ingest's journal against a real nats-server: stored once, forever, and honest when down."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from nats.aio.client import Client
from tests.conftest import NatsConnect
from tests.factories import report

from cungdan.processes import NatsServer
from cungdan_contracts import AdminMap, decode_event, load_gazetteer
from cungdan_contracts.subjects import (
    HEADER_MSG_ID,
    STREAM,
    STREAM_SUBJECTS,
    Kind,
    layout1_logged_subject,
    parse,
)
from cungdan_ingest.journal import (
    AlreadyStored,
    Journal,
    NotStored,
    Stored,
    ensure_stream,
    stream_config,
)
from cungdan_ingest.service import IngestService, to_outgoing
from cungdan_ingest.validation import ValidReport, today_in_vietnam, validate_report

pytestmark = pytest.mark.integration


@pytest.fixture
async def nc(nats_connect: NatsConnect) -> Client:
    """A connection with the activity stream, whose duplicate window is 1 s: short, so that
    a test can outlive it."""
    client = await nats_connect()
    await ensure_stream(client, stream_config(STREAM, STREAM_SUBJECTS, 1.0, 1))
    return client


@pytest.fixture
async def journal(nc: Client) -> Journal:
    j = Journal(nc, STREAM, timeout=2.0, max_in_flight=100)
    await j.start()
    return j


def _valid(**overrides: object) -> ValidReport:
    checked = validate_report(report(**overrides), load_gazetteer(), today_in_vietnam())
    assert isinstance(checked, ValidReport), checked
    return checked


async def test_append_assigns_sequences_and_refuses_a_known_id(journal: Journal) -> None:
    first, second = _valid(), _valid()
    results = await journal.append_many([to_outgoing(first, _now()), to_outgoing(second, _now())])
    assert results == [Stored(1), Stored(2)]
    again = await journal.append_many([to_outgoing(first, _now())])
    assert again == [AlreadyStored(1)]
    assert decode_event(await journal.message_at(1)).activity == first.report


async def test_a_batch_larger_than_the_window_waits_for_slots_and_is_all_stored(
    nc: Client,
) -> None:
    journal = Journal(nc, STREAM, timeout=5.0, max_in_flight=3)
    await journal.start()
    first, second = (await asyncio.gather(*(
        journal.append_many([to_outgoing(_valid(), _now()) for _ in range(20)])
        for _ in range(2))))
    assert all(isinstance(r, Stored) for r in first + second)
    assert sorted(r.seq for r in first + second if isinstance(r, Stored)) == list(range(1, 41))
    assert (await nc.jetstream().stream_info(STREAM)).state.messages == 40


async def test_known_id_is_refused_after_the_dedup_window_and_with_other_routing(
    journal: Journal, nc: Client
) -> None:
    original = _valid()
    assert await journal.append_many([to_outgoing(original, _now())]) == [Stored(1)]
    await _outlive_the_duplicate_window(nc)  # 1 s in this module
    # Same id, different campaign and province: another subject, still the same id.
    moved = _valid(id=str(original.report.id), campaign="dan-van-kheo", locality="01894")
    assert await journal.append_many([to_outgoing(moved, _now())]) == [AlreadyStored(1)]
    info = await nc.jetstream().stream_info(STREAM)
    assert info.state.messages == 3  # the original and the probe's two copies


async def test_known_id_survives_a_broker_restart(nats_server: NatsServer,
                                                   nats_connect: NatsConnect) -> None:
    nc = await nats_connect()
    await ensure_stream(nc, stream_config(STREAM, STREAM_SUBJECTS, 1.0, 1))
    journal = Journal(nc, STREAM, timeout=2.0, max_in_flight=10)
    await journal.start()
    original = _valid()
    assert await journal.append_many([to_outgoing(original, _now())]) == [Stored(1)]
    await nc.close()
    nats_server.kill()
    nats_server.restart()
    nc = await nats_connect()
    journal = Journal(nc, STREAM, timeout=2.0, max_in_flight=10)
    await journal.start()
    assert await journal.append_many([to_outgoing(original, _now())]) == [AlreadyStored(1)]
    await nc.close()


async def test_broker_down_means_not_stored_within_the_timeout(
    nats_server: NatsServer, journal: Journal, nc: Client
) -> None:
    nats_server.stop()
    results = await journal.append_many([to_outgoing(_valid(), _now()) for _ in range(3)])
    assert all(isinstance(r, NotStored) for r in results), results


async def test_service_reports_duplicates_and_conflicts_from_the_real_stream(
    journal: Journal,
) -> None:
    service = IngestService(journal, load_gazetteer())
    body = report()
    first = await service.submit(body)
    assert (first.status, first.seq) == ("accepted", 1)
    rewritten = {**body, "measures": {"citizen_turns": "120.0", "road_km": Decimal("1.50")}}
    duplicate = await service.submit(rewritten)
    assert (duplicate.status, duplicate.seq) == ("duplicate", 1)
    conflict = await service.submit({**body, "measures": {"road_km": "2"}})
    assert (conflict.status, conflict.seq) == ("conflict", 1)
    batch = await service.submit_many([report(), body, report(locality="99999"), report()])
    assert [o.status for o in batch] == ["accepted", "duplicate", "rejected", "accepted"]
    assert [o.seq for o in batch] == [2, 1, None, 3]


async def test_ids_repeated_inside_one_batch_are_stored_once(journal: Journal,
                                                            nc: Client) -> None:
    service = IngestService(journal, load_gazetteer())
    body = report(id=str(uuid.uuid4()))
    outcomes = await service.submit_many([body, body, {**body, "unit": "other"}])
    assert [o.status for o in outcomes] == ["accepted", "duplicate", "conflict"]
    assert (await nc.jetstream().stream_info(STREAM)).state.messages == 1


async def test_an_id_stored_in_layout_1_is_found_once_indexed(journal: Journal,
                                                               nc: Client) -> None:
    """A report stored before the upgrade (subject layout 1, as the old journal sent it):
    the layout-2 check alone does not see it; the journal's layout-1 index does, whatever
    the routing of the report sent again, and the stream keeps one event per id."""
    old = to_outgoing(_valid(), _now())
    address = parse(old.subject)
    assert address is not None
    layout1 = layout1_logged_subject(AdminMap(address.map), address.province,
                                     address.campaign, address.key)
    await nc.jetstream().publish(layout1, old.payload, headers={
        **old.headers, "Nats-Expected-Last-Subject-Sequence": "0",
        "Nats-Expected-Last-Subject-Sequence-Subject":
            f"cungdan.activity.*.logged.*.*.*.{address.key}"})
    assert len(await journal.index_layout1()) == 1
    await _outlive_the_duplicate_window(nc)
    moved = _valid(id=address.key, campaign="dan-van-kheo", locality="01894")
    assert await journal.append_many([old, to_outgoing(moved, _now())]) == [
        AlreadyStored(1), AlreadyStored(1)]
    assert await journal.find_id(Kind.LOGGED, address.key) == (1, old.payload)
    fresh = to_outgoing(_valid(), _now())
    assert await journal.append_many([fresh]) == [Stored(4)]  # after the probe's two copies
    assert [seq for seq, _ in await journal.history(address.key)] == [1]


async def _outlive_the_duplicate_window(nc: Client) -> None:
    """Publish a probe (a fresh id; a plain JetStream publish, none of the journal's checks)
    again and again until JetStream stores it a second time instead of calling it a
    duplicate: what was stored before the probe has left the duplicate window too.
    Adds the probe's two copies to the stream."""
    js = nc.jetstream()
    probe = to_outgoing(_valid(), _now())
    headers = {HEADER_MSG_ID: probe.headers[HEADER_MSG_ID]}
    assert not (await js.publish(probe.subject, probe.payload, headers=headers)).duplicate
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while (await js.publish(probe.subject, probe.payload, headers=headers)).duplicate:
        assert loop.time() < deadline, "JetStream still deduplicates the probe after 30 s"
        await asyncio.sleep(0.05)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
