"""A close is answered once this ingest's closings index holds it (read your writes), but
never later than ``APPLIED_WAIT_SECONDS``: the event is stored either way, so an index that
lags (its feed reconnecting) delays the answer, it does not lose it."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

import pytest
from tests.fakes import SubjectJournal

from cungdan_contracts import AdminMap, load_gazetteer
from cungdan_ingest import period_actions
from cungdan_ingest.period_actions import PeriodService, Target
from cungdan_service.auth import make_principal

AT = dt.datetime(2024, 7, 2, tzinfo=dt.UTC)
TARGET = Target("15", AdminMap.LEGACY, "2024-Q2")
APPROVER = make_principal("lc", ["15"], ["approve"])


def service(journal: SubjectJournal, applied: asyncio.Event) -> PeriodService:
    async def until(seq: int) -> None:
        await applied.wait()

    return PeriodService(journal, load_gazetteer(), clock=lambda: AT, applied=until)


async def test_the_answer_waits_for_the_index_to_hold_the_close() -> None:
    journal, applied = SubjectJournal(), asyncio.Event()
    answer = asyncio.create_task(
        service(journal, applied).close(TARGET, {"reason": "sent"}, APPROVER))
    await asyncio.sleep(0.2)
    assert not answer.done() and len(journal.stored) == 1  # stored, waiting for the index
    applied.set()
    outcome = await asyncio.wait_for(answer, 5)
    assert (outcome.status, outcome.seq) == ("accepted", 1)


async def test_an_index_that_lags_delays_the_answer_no_longer_than_the_wait(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(period_actions, "APPLIED_WAIT_SECONDS", 0.3)
    journal = SubjectJournal()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="cungdan.ingest"):
        outcome = await service(journal, asyncio.Event()).close(  # never applied
            TARGET, {"reason": "sent"}, APPROVER)
    waited = time.monotonic() - started
    assert (outcome.status, outcome.seq) == ("accepted", 1)
    assert len(journal.stored) == 1
    assert 0.3 <= waited < 3.0
    assert "period event 1 stored, not yet in the closings index" in caplog.text
