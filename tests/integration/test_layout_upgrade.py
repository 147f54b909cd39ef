"""A stream written by the ingest of before subject layout 2, upgraded in place.

``data/layout1_stream.json`` is what the ingest of commit 48477f1 stored (and answered) for
a few reports, corrections and a retraction (``data/make_layout1_stream.py`` made it with
that code). Its messages are replayed, as they were stored, into a fresh server; today's
ingest then starts on it and is sent the same requests and some new ones: an id stored in
layout 1 is still a duplicate (or 409 with other content, or other routing), a change of
an old activity is stored once in layout 2, and nothing is stored twice.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client
from prometheus_client import CollectorRegistry
from tests.conftest import NatsConnect
from tests.factories import report

from cungdan.processes import NatsServer
from cungdan_contracts import decode_event, load_gazetteer
from cungdan_contracts.subjects import STREAM, STREAM_SUBJECTS, Kind, parse
from cungdan_ingest.app import create_app
from cungdan_ingest.journal import ensure_stream, stream_config
from cungdan_ingest.settings import IngestSettings
from cungdan_projector.decoding import decode
from cungdan_projector.items import DeadLetter

pytestmark = pytest.mark.integration

WRITTEN = json.loads((Path(__file__).parent / "data" / "layout1_stream.json").read_text())
REQUESTS: list[dict[str, Any]] = WRITTEN["requests"]
FIRST, V2, BATCH, _, FIX1, FIX2, RETRACT = REQUESTS


async def _replay(nc: Client) -> None:
    """Store the messages as the old ingest stored them (its headers, its checks)."""
    js = nc.jetstream()
    for message in WRITTEN["messages"]:
        ack = await js.publish(message["subject"], message["payload"].encode(),
                               headers=message["headers"])
        assert ack.seq == message["seq"]


@pytest.fixture
async def nc(nats_connect: NatsConnect) -> Client:
    client = await nats_connect()
    await ensure_stream(client, stream_config(STREAM, STREAM_SUBJECTS, 120.0, 1))  # unchanged
    await _replay(client)
    return client


@pytest.fixture
async def ingest(nats_server: NatsServer, nc: Client) -> AsyncIterator[httpx.AsyncClient]:
    """Today's ingest, started on the old stream."""
    app = create_app(IngestSettings(nats_url=nats_server.url), registry=CollectorRegistry())
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        assert app.state.journal.layout1.counts() == {"logged": 5, "corrected": 2,
                                                      "retracted": 1}
        yield client


async def _stored(nc: Client) -> int:
    return int((await nc.jetstream().stream_info(STREAM)).state.messages)


def test_the_fixture_is_layout_1_as_the_old_ingest_wrote_it() -> None:
    layouts = {parse(m["subject"]).layout for m in WRITTEN["messages"]}  # type: ignore[union-attr]
    assert layouts == {1}
    assert [r["status"] for r in REQUESTS] == [202, 202, 200, 200, 202, 202, 202]
    assert REQUESTS[3]["answer"]["status"] == "duplicate"


async def test_reports_stored_before_are_duplicates_or_conflicts(
    ingest: httpx.AsyncClient, nc: Client,
) -> None:
    before = await _stored(nc)
    again = await ingest.post(FIRST["path"], json=FIRST["body"])
    assert (again.status_code, again.json()) == (200, {
        "id": FIRST["body"]["id"], "status": "duplicate", "seq": FIRST["answer"]["seq"]})
    as_v2 = await ingest.post(V2["path"], json=V2["body"])
    assert (as_v2.status_code, as_v2.json()["seq"]) == (200, V2["answer"]["seq"])
    other = await ingest.post(FIRST["path"], json={**FIRST["body"], "measures": {"road_km": 9}})
    assert other.status_code == 409
    moved = await ingest.post(FIRST["path"], json={**FIRST["body"], "locality": "01894",
                                                   "date": "2023-03-04"})
    assert moved.status_code == 409  # other routing: another layout-1 subject, the same id
    changed = copy.deepcopy(BATCH["body"])
    changed[1]["measures"] = {"road_km": "7"}
    fresh = report()
    batch = await ingest.post(BATCH["path"], json=[*changed, fresh])
    assert [r["status"] for r in batch.json()["results"]] == [
        "duplicate", "rejected", "duplicate", "accepted"]  # a conflict, in a batch
    assert [r["seq"] for r in batch.json()["results"][:3]] == [
        r["seq"] for r in BATCH["answer"]["results"]]
    assert await _stored(nc) == before + 1
    subject = (await nc.jetstream().get_msg(STREAM, before + 1, direct=True)).subject
    assert subject is not None and subject.startswith(f"cungdan.activity.{fresh['id']}.logged.")
    again = await ingest.post("/v1/activities", json=fresh)
    assert (again.status_code, again.json()["seq"]) == (200, before + 1)


async def test_changes_stored_before_count_once_and_old_activities_take_new_ones(
    ingest: httpx.AsyncClient, nc: Client,
) -> None:
    before = await _stored(nc)
    for change in (FIX1, FIX2, RETRACT):
        again = await ingest.post(change["path"], json=change["body"])
        assert (again.status_code, again.json()["status"], again.json()["seq"]) == (
            200, "duplicate", change["answer"]["seq"]), change
    other = await ingest.post(FIX1["path"], json={**FIX1["body"], "measures": {"road_km": 3}})
    assert other.status_code == 409
    retracted = BATCH["body"][0]["id"]
    late = await ingest.post(f"/v1/activities/{retracted}/corrections",
                             json={**FIX1["body"], "id": "c0000000-0000-4000-8000-0000000000ff"})
    assert late.status_code == 409  # retracted in layout 1: final
    assert (await ingest.post(RETRACT["path"], json={"reason": "khác"})).status_code == 409
    assert await _stored(nc) == before

    fix3 = {"id": "c0000000-0000-4000-8000-000000000003", "measures": {"road_km": "3"},
            "reason": "lần ba"}
    stored = await ingest.post(FIX1["path"], json=fix3)
    assert (stored.status_code, stored.json()["seq"]) == (202, before + 1)
    assert (await ingest.post(FIX2["path"], json=fix3)).json()["seq"] == before + 1
    first = FIRST["body"]["id"]
    gone = await ingest.post(f"/v1/activities/{first}/retraction", json={"reason": "hủy"})
    assert (gone.status_code, gone.json()["seq"]) == (202, before + 2)
    history = (await ingest.get(f"/v1/activities/{first}")).json()
    assert [h["seq"] for h in history["history"]] == [
        FIRST["answer"]["seq"], FIX1["answer"]["seq"], FIX2["answer"]["seq"], before + 1,
        before + 2]
    assert history["status"] == "retracted"
    js = nc.jetstream()
    subjects = [(await js.get_msg(STREAM, seq, direct=True)).subject
                for seq in (before + 1, before + 2)]
    assert [parse(s or "") for s in subjects] == [
        parse(f"cungdan.activity.{fix3['id']}.corrected.legacy.15.ngay-cuoi-tuan-cung-dan.v1"
              f".{first}"),
        parse(f"cungdan.activity.{first}.retracted.legacy.15.ngay-cuoi-tuan-cung-dan.v1")]
    assert [(a.layout, a.kind) for a in map(parse, subjects) if a] == [
        (2, Kind.CORRECTED), (2, Kind.RETRACTED)]


async def test_the_projector_reads_both_layouts(ingest: httpx.AsyncClient, nc: Client) -> None:
    assert (await ingest.post("/v1/activities", json=report())).status_code == 202
    gazetteer, js = load_gazetteer(), nc.jetstream()
    last = int((await js.stream_info(STREAM)).state.last_seq)
    for seq in range(1, last + 1):
        msg = await js.get_msg(STREAM, seq, direct=True)
        item = decode(seq, msg.subject or "", msg.data or b"", gazetteer)
        assert not isinstance(item, DeadLetter), item
        decode_event(msg.data or b"")
