"""Ingest's corrections, retractions and history over HTTP, against an in-memory journal
that finds and refuses messages by subject as JetStream does: the lifecycle's rules as
clients see them (ids, a retraction is final, the current measures)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from tests.fakes import SubjectJournal

from cungdan_contracts import (
    ActivityCorrected,
    ActivityLogged,
    ActivityRetracted,
    AdminMap,
    CorrectionRequest,
    RetractionRequest,
    encode_event,
    report_from_json,
)
from cungdan_contracts.subjects import (
    HEADER_MSG_ID,
    layout1_corrected_subject,
    layout1_logged_subject,
    layout1_retracted_subject,
    logged_subject,
)
from cungdan_ingest.app import create_app
from cungdan_ingest.changes import ChangeService
from cungdan_ingest.settings import IngestSettings

AT = dt.datetime(2025, 9, 1, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def journal() -> SubjectJournal:
    return SubjectJournal()


@pytest.fixture
async def client(journal: SubjectJournal) -> AsyncIterator[httpx.AsyncClient]:
    """The ingest app without its lifespan (no broker): the changes read ``journal``."""
    app = create_app(IngestSettings(), registry=CollectorRegistry())
    app.state.changes = ChangeService(journal, clock=lambda: AT)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://ingest") as client:
        yield client


def logged(journal: SubjectJournal, measures: dict[str, Any], layout: int = 2) -> str:
    """Log an activity of a commune of Mù Cang Chải (on a subject of ``layout``); its id."""
    report = report_from_json({
        "id": str(uuid.uuid4()), "campaign": "ngay-cuoi-tuan-cung-dan", "locality": "04495",
        "date": "2023-05-06", "unit": "Ban CHQS huyện", "measures": measures})
    event = ActivityLogged(recorded_at=AT, source_province="15", map=AdminMap.LEGACY,
                           activity=report)
    subject = logged_subject if layout == 2 else layout1_logged_subject
    journal.put(subject(AdminMap.LEGACY, "15", report.campaign, report.id), encode_event(event))
    return str(report.id)


def fix(**measures: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "measures": measures, "reason": "đo lại"}


async def correct(client: httpx.AsyncClient, activity: str,
                  body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/v1/activities/{activity}/corrections", json=body)


async def retract(client: httpx.AsyncClient, activity: str,
                  reason: str = "báo trùng") -> httpx.Response:
    return await client.post(f"/v1/activities/{activity}/retraction", json={"reason": reason})


async def history(client: httpx.AsyncClient, activity: str) -> dict[str, Any]:
    response = await client.get(f"/v1/activities/{activity}")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_change_is_stored_under_its_change_id(client: httpx.AsyncClient,
                                                      journal: SubjectJournal) -> None:
    activity = logged(journal, {"road_km": "1.5"})
    body = fix(road_km="2")
    corrected = await correct(client, activity, body)
    assert (corrected.status_code, corrected.json()) == (
        202, {"id": body["id"], "status": "accepted", "seq": 2})
    gone = await retract(client, activity)
    assert (gone.status_code, gone.json()) == (
        202, {"id": activity, "status": "accepted", "seq": 3})
    assert [headers[HEADER_MSG_ID] for _, headers, _ in journal.stored[1:]] == [
        body["id"], f"retraction:{activity}"]


async def test_a_retraction_counts_once(client: httpx.AsyncClient,
                                        journal: SubjectJournal) -> None:
    activity = logged(journal, {"road_km": "1.5"})
    assert (await retract(client, activity)).status_code == 202
    again = await retract(client, activity)
    assert (again.status_code, again.json()["seq"]) == (200, 2)
    other = await retract(client, activity, reason="khác")
    assert other.status_code == 409
    assert other.json()["errors"] == [{
        "field": "id", "reason": f"retraction:{activity} was already used for a different "
                                 f"change (stream sequence 2)"}]
    assert len(journal.stored) == 2


async def test_a_retracted_activity_cannot_be_corrected(client: httpx.AsyncClient,
                                                        journal: SubjectJournal) -> None:
    activity = logged(journal, {"road_km": "1.5"})
    assert (await retract(client, activity)).status_code == 202
    late = await correct(client, activity, fix(road_km="2"))
    assert late.status_code == 409
    assert late.json()["errors"] == [{
        "field": "activity",
        "reason": f"activity {activity} was retracted; it cannot be corrected"}]
    assert len(journal.stored) == 2


async def test_the_history_shows_the_last_correction_as_the_current_measures(
    client: httpx.AsyncClient, journal: SubjectJournal,
) -> None:
    activity = logged(journal, {"road_km": "1.50", "citizen_turns": 120})
    assert (await history(client, activity))["measures"] == {"road_km": "1.5",
                                                             "citizen_turns": "120"}
    for body in (fix(road_km="2.250", trees_planted=40), fix(workdays="7")):
        assert (await correct(client, activity, body)).status_code == 202
    answer = await history(client, activity)
    assert list(answer) == ["id", "status", "measures", "history"]
    assert (answer["id"], answer["status"], answer["measures"]) == (
        activity, "active", {"workdays": "7"})  # a whole set: road_km is gone
    assert [(h["seq"], h["type"]) for h in answer["history"]] == [
        (1, "ActivityLogged"), (2, "ActivityCorrected"), (3, "ActivityCorrected")]
    assert answer["history"][1]["correction"]["measures"] == {"road_km": "2.25",
                                                              "trees_planted": "40"}


async def test_a_retracted_activity_has_no_current_measures(client: httpx.AsyncClient,
                                                            journal: SubjectJournal) -> None:
    activity = logged(journal, {"road_km": "1.5"})
    assert (await retract(client, activity)).status_code == 202
    answer = await history(client, activity)
    assert (answer["status"], answer["measures"]) == ("retracted", {})
    assert [h["type"] for h in answer["history"]] == ["ActivityLogged", "ActivityRetracted"]
    missing = await client.get(f"/v1/activities/{uuid.uuid4()}")
    assert missing.status_code == 404


# --- an activity logged before the upgrade (subject layout 1) --------------------------------


def changed_in_layout1(journal: SubjectJournal, activity: str, body: dict[str, Any]) -> None:
    """Store a correction (``body`` with an id) or a retraction (a reason only) of
    ``activity`` as ingest did before the upgrade."""
    common = {"recorded_at": AT, "source_province": "15", "map": AdminMap.LEGACY,
              "activity_id": uuid.UUID(activity), "campaign": "ngay-cuoi-tuan-cung-dan"}
    if "id" in body:
        correction = ActivityCorrected(**common, correction=CorrectionRequest(**body))
        journal.put(layout1_corrected_subject(AdminMap.LEGACY, "15", correction.campaign,
                                              activity, body["id"]), encode_event(correction))
    else:
        retraction = ActivityRetracted(**common, retraction=RetractionRequest(**body))
        journal.put(layout1_retracted_subject(AdminMap.LEGACY, "15", retraction.campaign,
                                              activity), encode_event(retraction))


async def test_an_activity_of_layout_1_is_changed_in_layout_2_and_old_changes_count_once(
    client: httpx.AsyncClient, journal: SubjectJournal,
) -> None:
    activity = logged(journal, {"road_km": "1.5"}, layout=1)
    before = fix(road_km="2")
    changed_in_layout1(journal, activity, before)
    again = await correct(client, activity, before)
    assert (again.status_code, again.json()["status"], again.json()["seq"]) == (
        200, "duplicate", 2)
    assert (await correct(client, activity, {**before, "reason": "khác"})).status_code == 409
    after = fix(road_km="4")
    assert (await correct(client, activity, after)).json()["seq"] == 3
    assert journal.stored[2][0] == (f"cungdan.activity.{after['id']}.corrected.legacy.15."
                                    f"ngay-cuoi-tuan-cung-dan.v1.{activity}")
    answer = await history(client, activity)
    assert [h["seq"] for h in answer["history"]] == [1, 2, 3]
    assert answer["measures"] == {"road_km": "4"}
    assert (await retract(client, activity)).json()["seq"] == 4
    assert journal.stored[3][0].startswith(f"cungdan.activity.{activity}.retracted.legacy.15.")
    assert (await retract(client, activity)).status_code == 200
    assert len(journal.stored) == 4


async def test_a_retraction_of_layout_1_is_final_and_counts_once(
    client: httpx.AsyncClient, journal: SubjectJournal,
) -> None:
    activity = logged(journal, {"road_km": "1.5"}, layout=1)
    changed_in_layout1(journal, activity, {"reason": "báo trùng"})
    again = await retract(client, activity)
    assert (again.status_code, again.json()["seq"]) == (200, 2)
    assert (await retract(client, activity, reason="khác")).status_code == 409
    assert (await correct(client, activity, fix(road_km="2"))).status_code == 409
    assert (await history(client, activity))["status"] == "retracted"
    assert len(journal.stored) == 2


async def test_the_history_unreadable_is_503_not_500(client: httpx.AsyncClient,
                                                     journal: SubjectJournal) -> None:
    activity = logged(journal, {"road_km": "1.5"})
    journal.failing = {"history"}
    answer = await client.get(f"/v1/activities/{activity}")
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    body = answer.json()
    assert body["type"] == "urn:cungdan:problem:broker-unavailable"
    assert body["detail"] == "reading the log failed: ConnectionError"
    journal.failing = set()
    assert (await history(client, activity))["status"] == "active"
