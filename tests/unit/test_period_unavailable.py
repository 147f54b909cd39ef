"""The period routes when the broker fails, at each step a request takes: reading the
period's state, storing the event, reading back the event already stored, reading the
history. Each is ``503 broker-unavailable`` with Retry-After (send it again later), never
a 500, and stores nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from tests.fakes import DownJournal, SubjectJournal

from cungdan_contracts import load_gazetteer
from cungdan_ingest.app import create_app
from cungdan_ingest.period_actions import PeriodService
from cungdan_ingest.settings import IngestSettings

AT = dt.datetime(2023, 7, 2, tzinfo=dt.UTC)
PERIOD = "/v1/periods/15/2023-Q2"
CONTROL = {"campaign": "dan-van-kheo", "measures": {"models_registered": 3}}


async def client_of(journal: SubjectJournal) -> AsyncIterator[httpx.AsyncClient]:
    """The ingest app without its lifespan (no broker): the period routes use ``journal``."""
    app = create_app(IngestSettings(retry_after_seconds=7), registry=CollectorRegistry())
    app.state.periods = PeriodService(journal, load_gazetteer(), clock=lambda: AT)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://ingest") as client:
        yield client


@pytest.fixture
def journal() -> SubjectJournal:
    return SubjectJournal()


@pytest.fixture
async def client(journal: SubjectJournal) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_of(journal):
        yield client


def unavailable(answer: httpx.Response) -> dict[str, Any]:
    """The body of a 503 broker-unavailable that asks to come back after Retry-After."""
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "7"
    body: dict[str, Any] = answer.json()
    assert body["type"] == "urn:cungdan:problem:broker-unavailable"
    assert [e["field"] for e in body["errors"]] == ["(broker)"]
    return body


@pytest.mark.parametrize("action", ["close", "reopen", "control-totals"])
async def test_the_period_state_unreadable_is_503_and_nothing_offered(action: str) -> None:
    down = DownJournal()
    async for client in client_of(down):
        body = {"reason": "sent"} if action != "control-totals" else CONTROL
        answer = await client.post(f"{PERIOD}/{action}", json=body)
        assert "connection closed" in unavailable(answer)["errors"][0]["reason"]
    assert down.offered == 0 and down.stored == []


async def test_an_event_the_store_refuses_is_503(client: httpx.AsyncClient,
                                                 journal: SubjectJournal) -> None:
    journal.failing = {"append_many"}
    answer = await client.post(f"{PERIOD}/close", json={"reason": "sent"})
    assert unavailable(answer)["errors"][0]["reason"] == (
        "no acknowledgement from JetStream in time")
    assert journal.offered == 1 and journal.stored == []
    journal.failing = set()  # the broker back: the same request goes in
    assert (await client.post(f"{PERIOD}/close", json={"reason": "sent"})).status_code == 202


async def test_a_stored_event_unreadable_is_503_not_a_duplicate(
        client: httpx.AsyncClient, journal: SubjectJournal) -> None:
    assert (await client.post(f"{PERIOD}/close", json={"reason": "sent"})).status_code == 202
    sent = await client.post(f"{PERIOD}/control-totals", json=CONTROL)
    assert sent.status_code == 202
    journal.failing = {"message_at"}  # the state reads, the stored totals do not
    again = await client.post(f"{PERIOD}/control-totals", json=CONTROL)
    assert "connection closed" in unavailable(again)["errors"][0]["reason"]
    assert len(journal.stored) == 2
    journal.failing = set()
    duplicate = await client.post(f"{PERIOD}/control-totals", json=CONTROL)
    assert (duplicate.status_code, duplicate.json()["seq"]) == (200, sent.json()["seq"])


async def test_the_history_unreadable_is_503(client: httpx.AsyncClient,
                                             journal: SubjectJournal) -> None:
    assert (await client.post(f"{PERIOD}/close", json={"reason": "sent"})).status_code == 202
    read = await client.get(f"{PERIOD}/history")
    assert [e["type"] for e in read.json()["history"]] == ["PeriodClosed"]
    journal.failing = {"events_on"}
    answer = await client.get(f"{PERIOD}/history")
    assert "connection closed" in unavailable(answer)["errors"][0]["reason"]
