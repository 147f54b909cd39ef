"""End to end: a province's period closed, raced, reopened and closed again over HTTP;
the closed figures equal a recount of the stream up to each closing, and a rebuild
serves them again; on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from tests.factories import event, report, stack_config
from tests.recount import decimals, of_locality
from tests.recount import recount as recounted
from tests.waits import wait_until

from cungdan.client import wait_until_projected
from cungdan.stack import Stack
from cungdan_contracts import ActivityLogged, encode_event
from cungdan_contracts.periods import ALL_PERIOD_EVENTS
from cungdan_contracts.subjects import (
    HEADER_FINGERPRINT,
    HEADER_MSG_ID,
    HEADER_TYPE,
    HEADER_VERSION,
    STREAM,
    logged_subject,
)
from cungdan_service.nats import nats_target

pytestmark = pytest.mark.e2e

PROVINCE, PERIOD = "15", "2023-Q2"
BASE = f"/v1/periods/{PROVINCE}/{PERIOD}"
NCD = "ngay-cuoi-tuan-cung-dan"


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    """The services on a read model of SQLite, then of PostgreSQL."""
    config = stack_config(tmp_path / "periods", database_url=database_url,
                          extra_env={"CUNGDAN_READ_WAIT_SECONDS": "1"})
    with Stack(config) as running:
        yield running


def _stream(url: str) -> list[tuple[int, str, dict[str, Any]]]:
    async def read() -> list[tuple[int, str, dict[str, Any]]]:
        target = nats_target(url)  # as ingest, which may read any message back
        nc = await nats.connect(servers=target.servers, user=target.user,
                                password=target.password, inbox_prefix=target.inbox_prefix)
        try:
            js = nc.jetstream()
            last = (await js.stream_info(STREAM)).state.last_seq
            return [(seq, msg.subject or "", json.loads(msg.data, parse_float=Decimal))
                    for seq in range(1, last + 1)
                    if (msg := await js.get_msg(STREAM, seq, direct=True)).data]
        finally:
            await nc.close()

    return asyncio.run(read())


def _publish(url: str, logged: ActivityLogged) -> int:
    """Store ``logged`` straight on the stream, past ingest (which would refuse it in a
    closed period), as a report raced past a close would be; its sequence."""
    async def publish() -> int:
        target = nats_target(url)
        nc = await nats.connect(servers=target.servers, user=target.user,
                                password=target.password, inbox_prefix=target.inbox_prefix)
        try:
            activity = logged.activity
            ack = await nc.jetstream().publish(
                logged_subject(logged.map, logged.source_province, activity.campaign,
                               activity.id, logged.version),
                encode_event(logged), stream=STREAM,
                headers={HEADER_MSG_ID: str(activity.id), HEADER_TYPE: logged.type,
                         HEADER_VERSION: str(logged.version),
                         HEADER_FINGERPRINT: activity.fingerprint(),
                         "Content-Type": "application/json"})
            return ack.seq
        finally:
            await nc.close()

    return asyncio.run(publish())


def recount(stream: list[tuple[int, str, dict[str, Any]]], upto: int,
            locality: str) -> dict[str, Decimal]:
    """All campaigns' figures of ``locality`` for the period from the events before
    ``upto``, with nothing of the projector's code."""
    figures = recounted([(seq, ev) for seq, _, ev in stream], upto, PERIOD, PROVINCE)
    return of_locality(figures, locality)


def test_closings_freeze_the_stream_up_to_their_place(stack: Stack) -> None:
    ingest = httpx.Client(base_url=stack.ingest_url, timeout=10, trust_env=False)
    projector = httpx.Client(base_url=stack.projector_url, timeout=10, trust_env=False)
    first = report(date="2023-05-06", measures={"road_km": "1.5", "citizen_turns": 120})
    assert ingest.post("/v1/activities", json=first).status_code == 202
    assert ingest.post("/v1/activities", json=report(
        locality="04468", date="2023-04-10", measures={"road_km": "0.2"})).status_code == 202

    racing = report(locality="137", date="2023-06-30", measures={"road_km": "6"})
    with ThreadPoolExecutor(2) as pool:  # a report published while the close is in flight
        raced = pool.submit(ingest.post, "/v1/activities", json=racing)
        closing = pool.submit(ingest.post, f"{BASE}/close", json={"reason": "Q2 sent"})
        raced_answer, closed = raced.result(), closing.result()
    assert closed.status_code == 202, closed.text
    assert raced_answer.status_code in (202, 409)  # either side of the close, never inside

    def refused() -> bool:
        answer = ingest.post("/v1/activities", json=report(date="2023-04-02"))
        assert answer.status_code in (202, 409)
        return answer.status_code == 409

    wait_until(refused, "ingest refuses reports into the closed period")
    late_seq = _publish(stack.broker.client_url("ingest"), event(
        locality="04468", date="2023-06-15", measures={"road_km": "0.4"}))
    reopened = ingest.post(f"{BASE}/reopen", json={"reason": "a commune left out"})
    assert reopened.status_code == 202, reopened.text

    def taken() -> bool:
        return ingest.post("/v1/activities", json=report(
            locality="04468", date="2023-06-01", measures={"road_km": "2"})).status_code == 202

    wait_until(taken, "ingest takes reports again")
    assert ingest.post(f"/v1/activities/{first['id']}/corrections", json={
        "id": report()["id"], "measures": {"road_km": "1.75"},
        "reason": "recounted"}).status_code == 202
    second = ingest.post(f"{BASE}/close", json={"reason": "Q2 sent again"})
    assert (second.status_code, second.json()["closing"]) == (202, 2)
    control = ingest.post(f"{BASE}/control-totals", json={
        "campaign": NCD, "measures": {"road_km": "12", "citizen_turns": 100}})
    assert control.status_code == 202, control.text
    wait_until_projected(stack.projector_url, control.json()["seq"])

    stream = _stream(stack.broker.client_url("ingest"))
    closes = {ev["closing"]: seq for seq, _, ev in stream if ev["type"] == "PeriodClosed"}
    assert set(closes) == {1, 2}

    def as_closed(code: str, closing: int) -> dict[str, Any]:
        answer = projector.get(f"/v1/totals/{code}", params={
            "map": "legacy", "period": PERIOD, "as_closed": "true", "closing": closing})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    frozen = {}
    for number, seq in closes.items():
        for code in (PROVINCE, "137", "04495", "04468"):
            body = as_closed(code, number)
            assert body["closing"]["seq"] == seq
            assert decimals(body["totals"]) == recount(stream, seq, code), (number, code)
            frozen[(number, code)] = body["totals"]
    last = projector.get(f"/v1/totals/{PROVINCE}", params={
        "map": "legacy", "period": PERIOD, "as_closed": "true"}).json()
    assert last["closing"]["closing"] == 2 and last["closing"]["closed_by"] is None

    periods = projector.get(f"/v1/periods/{PROVINCE}", params={"map": "legacy"}).json()
    [q2] = periods["periods"]
    assert q2["status"] == "closed"
    assert [(c["closing"], c["reopened"] is not None) for c in q2["closings"]] == [
        (1, True), (2, False)]
    assert q2["closings"][0]["reopened"]["reason"] == "a commune left out"
    detail = projector.get(f"/v1/periods/{PROVINCE}/{PERIOD}",
                           params={"campaign": NCD}).json()
    assert detail["map"] == "legacy"  # the map in force on 2023-04-01
    [comparison] = detail["comparisons"]
    rows = {r["indicator"]: r for r in comparison["indicators"]}
    projected = Decimal(rows["road_km"]["projected"])
    assert projected == recount(stream, closes[2], PROVINCE)["road_km"]
    assert Decimal(rows["road_km"]["difference"]) == Decimal("12") - projected
    reopened_at = next(s for s, _, e in stream if e["type"] == "PeriodReopened")
    late = sum(1 for seq, _, ev in stream if ev["type"] == "ActivityLogged"
               and closes[1] < seq < reopened_at
               and dt.date.fromisoformat(ev["activity"]["date"]) <= dt.date(2023, 6, 30))
    assert late >= 1  # the one published past ingest, and the raced report if stored after
    assert q2["late_amendments"] == late
    assert len(detail["late"]) == late
    assert late_seq in {entry["seq"] for entry in detail["late"]}
    assert all(closes[1] < entry["seq"] < reopened_at for entry in detail["late"])

    metrics = projector.get("/metrics").text
    assert 'cungdan_projector_period_events_total{kind="closed"} 2.0' in metrics
    assert f'cungdan_projector_period_events_total{{kind="late"}} {float(late)}' in metrics
    ingest_metrics = ingest.get("/metrics").text
    assert 'cungdan_ingest_period_requests_total{kind="close",outcome="accepted"} 2.0' \
        in ingest_metrics
    assert re.search(r'cungdan_ingest_period_closed_refusals_total\{kind="report"\} [1-9]',
                     ingest_metrics)

    assert projector.post("/v1/rebuild").status_code == 202
    wait_until(lambda: projector.get("/v1/rebuild").json()["state"] == "done",
               "the rebuild to be done", within=60)
    for (number, code), totals in frozen.items():
        assert as_closed(code, number)["totals"] == totals
    ingest.close()
    projector.close()
    with_subjects = [s for _, s, _ in stream if s.startswith(ALL_PERIOD_EVENTS[:-1])]
    assert len(with_subjects) == 4  # close, reopen, close, control totals


def test_period_reads_answer_problems_never_a_500(stack: Stack) -> None:
    with httpx.Client(base_url=stack.projector_url, timeout=10, trust_env=False) as projector:
        for path, params, status, kind in [
            ("/v1/totals/15", {"map": "legacy", "as_closed": "true"}, 422, "invalid-query"),
            ("/v1/totals/15", {"map": "legacy", "period": "2023-Q9", "as_closed": "true"},
             422, "invalid-query"),
            ("/v1/totals/VN", {"map": "legacy", "period": "2023", "as_closed": "true"}, 422,
             "invalid-query"),
            ("/v1/totals/15", {"map": "legacy", "period": "2019", "as_closed": "true"}, 404,
             "not-closed"),
            ("/v1/totals/15", {"map": "legacy", "period": PERIOD, "as_closed": "true",
                               "closing": "0"}, 422, None),
            ("/v1/totals/15", {"map": "legacy", "period": PERIOD, "as_closed": "true",
                               "indicator": "nope"}, 422, "invalid-query"),
            ("/v1/periods/99", {"map": "legacy"}, 404, "unknown-locality"),
            ("/v1/periods/15", {"map": "1999"}, 422, "invalid-query"),
            ("/v1/periods/15/2023-13", {}, 422, "invalid-query"),
            ("/v1/periods/15/2023", {"campaign": "nope"}, 422, "invalid-query"),
        ]:
            answer = projector.get(path, params=params)
            assert answer.status_code == status, (path, params, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json") \
                or kind is None
            if kind is not None:
                assert answer.json()["type"] == f"urn:cungdan:problem:{kind}"
        empty = projector.get("/v1/periods/10", params={"map": "legacy"}).json()
        assert empty["periods"] == []
        open_period = projector.get("/v1/periods/15/2019").json()
        assert (open_period["status"], open_period["comparisons"]) == ("open", [])
