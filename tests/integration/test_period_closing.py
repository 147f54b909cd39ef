"""Closing a reporting period through ingest, on a real nats-server: close and reopen as
events, reports and changes into a closed period refused, who may do what."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client
from prometheus_client import CollectorRegistry
from tests.conftest import NatsConnect
from tests.factories import report
from tests.waits import until

from cungdan.processes import NatsServer
from cungdan.token_commands import issue
from cungdan_contracts.periods import ALL_PERIOD_EVENTS, PeriodReopened, decode_period_event
from cungdan_contracts.subjects import STREAM
from cungdan_ingest.app import create_app
from cungdan_ingest.period_actions import PeriodService, State, Target
from cungdan_ingest.settings import IngestSettings
from cungdan_service.tokens import TokenFile

pytestmark = pytest.mark.integration

YEN_BAI = "15"  # legacy Yên Bái; the factory's report is of Nậm Khắt 04495, 2023-05-06
CLOSE = f"/v1/periods/{YEN_BAI}/2023-Q2/close"
REOPEN = f"/v1/periods/{YEN_BAI}/2023-Q2/reopen"


@pytest.fixture
async def nc(nats_connect: NatsConnect) -> Client:
    return await nats_connect()


async def _ingest(nats_server: NatsServer, **settings: object
                  ) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    app = create_app(IngestSettings(nats_url=nats_server.url, **settings),  # type: ignore[arg-type]
                     registry=CollectorRegistry())
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        yield client, app


@pytest.fixture
async def served(nats_server: NatsServer) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    async for client, app in _ingest(nats_server):
        yield client, app


@pytest.fixture
def ingest(served: tuple[httpx.AsyncClient, FastAPI]) -> httpx.AsyncClient:
    return served[0]


async def known(app: FastAPI, answer: httpx.Response) -> None:
    """Wait until ingest's index applied the period event of ``answer`` (it follows the
    stream)."""
    seq = answer.json()["seq"]
    await until(lambda: app.state.closures.position >= seq, "ingest learns the event")


async def test_close_is_an_event_and_the_same_close_again_a_duplicate(
        ingest: httpx.AsyncClient, nc: Client) -> None:
    before = await ingest.post("/v1/activities", json=report())
    assert before.status_code == 202
    closed = await ingest.post(CLOSE, json={"reason": "quarterly report sent"})
    assert closed.status_code == 202, closed.text
    body = closed.json()
    assert body | {"seq": 0} == {"province": YEN_BAI, "map": "legacy", "period": "2023-Q2",
                                 "status": "accepted", "seq": 0, "type": "PeriodClosed",
                                 "closing": 1}
    assert body["seq"] > before.json()["seq"]
    again = await ingest.post(CLOSE, json={"reason": "quarterly report sent"})
    assert (again.status_code, again.json()["status"], again.json()["seq"]) == (
        200, "duplicate", body["seq"])
    other = await ingest.post(CLOSE, json={"reason": "another reason"})
    assert other.status_code == 409
    assert other.json()["type"] == "urn:cungdan:problem:period-closed"
    assert other.json()["closing"] | {"closed_at": None} == {
        "period": "2023-Q2", "closing": 1, "seq": body["seq"], "closed_at": None,
        "closed_by": None, "reason": "quarterly report sent"}
    stored = await nc.jetstream().get_msg(STREAM, body["seq"], direct=True)
    assert stored.subject == "cungdan.period.15.legacy.2023-Q2.closed.1.v1"
    event = decode_period_event(stored.data or b"")
    assert (event.type, event.closing, event.period) == ("PeriodClosed", 1, "2023-Q2")


async def test_reports_and_changes_dated_in_a_closed_period_are_refused(
        served: tuple[httpx.AsyncClient, FastAPI]) -> None:
    ingest, app = served
    earlier = report()
    assert (await ingest.post("/v1/activities", json=earlier)).status_code == 202
    closed = await ingest.post(CLOSE, json={"reason": "sent"})
    assert closed.status_code == 202
    await known(app, closed)
    late = await ingest.post("/v1/activities", json=report(date="2023-04-01"))
    assert late.status_code == 409
    problem = late.json()
    assert problem["type"] == "urn:cungdan:problem:period-closed"
    assert problem["closing"] | {"closed_at": None} == {  # the shape of the close's 409
        "period": "2023-Q2", "closing": 1, "seq": closed.json()["seq"], "closed_at": None,
        "closed_by": None, "reason": "sent"}
    assert "closed" in problem["detail"] and "2023-04-01" in problem["detail"]
    outside = await ingest.post("/v1/activities", json=report(date="2023-07-01"))
    assert outside.status_code == 202  # Q3 is open
    batch = await ingest.post("/v1/activities/batch", json=[report(), report(date="2023-03-31")])
    assert [r["status"] for r in batch.json()["results"]] == ["rejected", "accepted"]
    assert batch.json()["results"][0]["reason"] == "period-closed"
    correction = await ingest.post(f"/v1/activities/{earlier['id']}/corrections", json={
        "id": report()["id"], "measures": {"road_km": "2"}, "reason": "recounted"})
    assert correction.status_code == 409
    assert correction.json()["type"] == "urn:cungdan:problem:period-closed"
    retraction = await ingest.post(f"/v1/activities/{earlier['id']}/retraction",
                                   json={"reason": "double"})
    assert retraction.status_code == 409
    reopened = await ingest.post(REOPEN, json={"reason": "a commune was left out"})
    assert (reopened.status_code, reopened.json()["closing"]) == (202, 1)
    await known(app, reopened)
    assert (await ingest.post("/v1/activities", json=report())).status_code == 202
    again = await ingest.post(REOPEN, json={"reason": "a commune was left out"})
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert (await ingest.post(REOPEN, json={"reason": "other"})).status_code == 409
    second = await ingest.post(CLOSE, json={"reason": "sent again"})
    assert (second.status_code, second.json()["closing"]) == (202, 2)


async def test_a_restarted_ingest_knows_the_closings_from_the_stream(
        nats_server: NatsServer) -> None:
    async for client, _ in _ingest(nats_server):
        assert (await client.post(CLOSE, json={"reason": "sent"})).status_code == 202
    async for client, app in _ingest(nats_server):
        assert len(app.state.closures) == 1
        assert (await client.post("/v1/activities", json=report())).status_code == 409


async def test_bad_paths_and_bodies_are_problems(ingest: httpx.AsyncClient) -> None:
    for path, body, field in [
        (f"/v1/periods/{YEN_BAI}/2023-Q5/close", {"reason": "x"}, "period"),
        ("/v1/periods/99/2023/close", {"reason": "x"}, "province"),
        (f"/v1/periods/{YEN_BAI}/2023/close?map=1999", {"reason": "x"}, "map"),
        (CLOSE, {"reason": ""}, "reason"),
        (CLOSE, [], "(body)"),
    ]:
        answer = await ingest.post(path, json=body)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["errors"][0]["field"] == field
    assert (await ingest.post(REOPEN, json={"reason": "not closed"})).status_code == 409
    control = await ingest.post(f"/v1/periods/{YEN_BAI}/2023-Q2/control-totals",
                                json={"campaign": "dan-van-kheo",
                                      "measures": {"models_registered": 3}})
    assert control.json()["type"] == "urn:cungdan:problem:period-open"


async def test_only_approvers_of_the_province_close_and_only_national_admins_reopen(
        nats_server: NatsServer, tmp_path: Path) -> None:
    tokens = TokenFile(tmp_path / "tokens.json")
    approver = issue(tokens, "lao-cai-approver", ["15"], ["approve"]).secret
    reporter = issue(tokens, "lao-cai-reporter", ["15"], ["report"]).secret
    other = issue(tokens, "hanoi-approver", ["01"], ["approve"]).secret
    local_admin = issue(tokens, "lao-cai-admin", ["15"], ["admin"]).secret
    national = issue(tokens, "national-admin", ["VN"], ["admin"]).secret

    def bearer(secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}

    async for client, _ in _ingest(nats_server, auth_enabled=True,
                                   tokens_file=tmp_path / "tokens.json"):
        why = {"reason": "sent"}
        assert (await client.post(CLOSE, json=why)).status_code == 401
        assert (await client.post(CLOSE, json=why, headers=bearer(reporter))).status_code == 403
        outside = await client.post(CLOSE, json=why, headers=bearer(other))
        assert (outside.status_code, outside.json()["reason"]) == (403, "out-of-scope")
        closed = await client.post(CLOSE, json=why, headers=bearer(approver))
        assert closed.status_code == 202
        assert (await client.post(REOPEN, json=why, headers=bearer(approver))).status_code == 403
        assert (await client.post(REOPEN, json=why,
                                  headers=bearer(local_admin))).status_code == 403
        reopened = await client.post(REOPEN, json=why, headers=bearer(national))
        assert reopened.status_code == 202
        history = await client.get(f"/v1/periods/{YEN_BAI}/2023-Q2/history",
                                   headers=bearer(national))
        entries = history.json()["history"]
        assert [(e["type"], e["by"], e["reason"]) for e in entries] == [
            ("PeriodClosed", "lao-cai-approver", "sent"),
            ("PeriodReopened", "national-admin", "sent")]


async def test_concurrent_closes_make_one_closing(ingest: httpx.AsyncClient,
                                                  nc: Client) -> None:
    answers = await asyncio.gather(*(ingest.post(CLOSE, json={"reason": f"sent {i}"})
                                     for i in range(5)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(202) == 1 and statuses.count(409) == 4, statuses
    info = await nc.jetstream().stream_info(STREAM, subjects_filter=ALL_PERIOD_EVENTS)
    assert info.state.subjects == {"cungdan.period.15.legacy.2023-Q2.closed.1.v1": 1}


async def test_a_reopen_raced_by_another_with_another_reason_is_a_period_conflict(
        served: tuple[httpx.AsyncClient, FastAPI], nc: Client,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Both read the period as closed; the other stores its reopening first, so this one's
    (the same closing's reopening, another reason) is refused by the stream's once-only
    check and answered 409 period-conflict naming the stored one."""
    ingest, app = served
    assert (await ingest.post(CLOSE, json={"reason": "sent"})).status_code == 202
    service: PeriodService = app.state.periods
    read = service.state
    other: dict[str, httpx.Response] = {}
    racing = False

    async def state_then_another_reopen(target: Target) -> State:
        nonlocal racing
        state = await read(target)
        if not racing:  # the other request reads the state as it is
            racing = True
            other["reopen"] = await ingest.post(REOPEN, json={"reason": "a commune was left out"})
        return state

    monkeypatch.setattr(service, "state", state_then_another_reopen)
    raced = await ingest.post(REOPEN, json={"reason": "figures were wrong"})
    first = other["reopen"]
    assert (first.status_code, first.json()["closing"]) == (202, 1)
    assert raced.status_code == 409, raced.text
    problem = raced.json()
    assert problem["type"] == "urn:cungdan:problem:period-conflict"
    assert problem["seq"] == first.json()["seq"]
    assert problem["errors"] == [{"field": "period", "reason": (
        f"period:15:legacy:2023-Q2:reopened:1 was already stored differently (stream "
        f"sequence {first.json()['seq']})")}]
    info = await nc.jetstream().stream_info(STREAM, subjects_filter=ALL_PERIOD_EVENTS)
    assert info.state.subjects == {"cungdan.period.15.legacy.2023-Q2.closed.1.v1": 1,
                                   "cungdan.period.15.legacy.2023-Q2.reopened.1.v1": 1}
    stored = await nc.jetstream().get_msg(STREAM, first.json()["seq"], direct=True)
    reopening = decode_period_event(stored.data or b"")
    assert isinstance(reopening, PeriodReopened)
    assert reopening.reason == "a commune was left out"


async def test_control_totals_sent_again_with_other_figures_are_stored_too(
        ingest: httpx.AsyncClient, nc: Client) -> None:
    """Control totals are stored once per content (the latest of a campaign counts), so
    other figures for the same closing are not a conflict: both are in the stream."""
    control = f"/v1/periods/{YEN_BAI}/2023-Q2/control-totals"
    assert (await ingest.post(CLOSE, json={"reason": "sent"})).status_code == 202
    figures = {"campaign": "dan-van-kheo", "measures": {"models_registered": 3}}
    sent = await ingest.post(control, json=figures)
    assert (sent.status_code, sent.json()["closing"]) == (202, 1)
    again = await ingest.post(control, json=figures)
    assert (again.status_code, again.json()["status"], again.json()["seq"]) == (
        200, "duplicate", sent.json()["seq"])
    other = await ingest.post(control, json={**figures, "measures": {"models_registered": 4}})
    assert (other.status_code, other.json()["status"]) == (202, "accepted")
    assert other.json()["seq"] > sent.json()["seq"]
    history = (await ingest.get(f"/v1/periods/{YEN_BAI}/2023-Q2/history")).json()["history"]
    assert [(e["type"], e.get("control")) for e in history] == [
        ("PeriodClosed", None),
        ("ControlTotalsSubmitted", {**figures, "measures": {"models_registered": "3"}}),
        ("ControlTotalsSubmitted", {**figures, "measures": {"models_registered": "4"}})]
    info = await nc.jetstream().stream_info(STREAM, subjects_filter=ALL_PERIOD_EVENTS)
    assert sorted(s.split(".")[5] for s in info.state.subjects or {}) == [
        "closed", "control", "control"]


async def test_a_period_event_it_cannot_read_does_not_hold_up_the_start(
        nats_server: NatsServer, nc: Client, caplog: pytest.LogCaptureFixture) -> None:
    """A malformed or newer-version period event is skipped, and the index's position moves
    past it: else the start waits for it until its timeout."""
    async for _ in _ingest(nats_server):
        pass  # makes the stream
    js = nc.jetstream()
    newer = await js.publish("cungdan.period.01.legacy.2023-Q3.closed.1.v2", json.dumps({
        "type": "PeriodClosed", "version": 2, "province": "01"}).encode(), stream=STREAM)
    garbage = await js.publish("cungdan.period.01.legacy.2023-Q2.closed.1.v1", b"\xff{not json",
                               stream=STREAM)
    assert garbage.seq > newer.seq
    caplog.set_level(logging.INFO, logger="cungdan.ingest")
    started = time.perf_counter()
    async for client, app in _ingest(nats_server, nats_connect_timeout_seconds=60):
        assert time.perf_counter() - started < 30  # the wait's timeout is 60 s
        assert app.state.closures.position >= garbage.seq
        assert "period events not all read at start" not in caplog.text
        assert f"period event {newer.seq} ignored" in caplog.text
        assert f"period event {garbage.seq} ignored" in caplog.text
        assert (await client.post("/v1/activities", json=report())).status_code == 202
        closed = await client.post(CLOSE, json={"reason": "sent"})
        assert closed.status_code == 202, closed.text
        await known(app, closed)
        assert (await client.post("/v1/activities", json=report())).status_code == 409
