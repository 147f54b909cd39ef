"""cungdan_ingest.validation on its own, and what clients and metrics make of its problems:
each problem's field, reason and ``kind`` (the code that labels the rejection metric), the
``{field, reason}`` pairs of a 422 body, and which day it is in Vietnam (UTC+7)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import AfterValidator, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError
from tests.factories import report, report_v2

from cungdan_contracts import AdminMap, Gazetteer, UnitKind
from cungdan_ingest.app import create_app
from cungdan_ingest.journal import AppendResult, Outgoing, Stored
from cungdan_ingest.service import IngestService
from cungdan_ingest.settings import IngestSettings
from cungdan_ingest.validation import (
    VIETNAM,
    FieldProblem,
    ValidReport,
    problems_of,
    today_in_vietnam,
    validate_report,
)

TODAY = dt.date(2025, 9, 1)


def problems(raw: Any, gazetteer: Gazetteer, today: dt.date = TODAY) -> list[FieldProblem]:
    checked = validate_report(raw, gazetteer, today)
    assert isinstance(checked, list), checked
    return checked


def valid(raw: Any, gazetteer: Gazetteer, today: dt.date = TODAY) -> ValidReport:
    checked = validate_report(raw, gazetteer, today)
    assert isinstance(checked, ValidReport), checked
    return checked


# --- FieldProblem: what a client sees, and the code it is counted under -----------------------


def test_a_problem_shows_clients_its_field_and_reason_only() -> None:
    problem = FieldProblem("measures.road_km", "a quantity cannot be negative (got -1)",
                           "negative_quantity")
    shown = problem.as_json()
    assert shown == {"field": "measures.road_km",
                     "reason": "a quantity cannot be negative (got -1)"}
    assert list(shown) == ["field", "reason"]


def test_a_problem_without_a_code_is_counted_as_invalid() -> None:
    assert FieldProblem("(body)", "expected a JSON array").kind == "invalid"


def test_a_problem_is_immutable() -> None:
    problem = FieldProblem("date", "in the future", "future_date")
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.kind = "other"  # type: ignore[misc]


# --- problems_of: pydantic errors as field problems ------------------------------------------


def test_an_error_without_a_location_is_about_the_whole_body() -> None:
    with pytest.raises(ValidationError) as info:
        TypeAdapter(int).validate_python("not a number")
    assert problems_of(info.value) == [FieldProblem(
        "(body)", "Input should be a valid integer, unable to parse string as an integer",
        "int_parsing")]


def test_a_nested_location_is_a_dotted_path_without_pydantic_key_markers() -> None:
    with pytest.raises(ValidationError) as info:
        TypeAdapter(dict[str, list[dict[int, int]]]).validate_python(
            {"a": [{1: 1}, {"k": 2}]})
    [problem] = problems_of(info.value)
    assert problem.field == "a.1.k"  # pydantic's location is ('a', 1, 'k', '[key]')
    assert problem.kind == "int_parsing"


def _refused(kind: str, context: dict[str, str]) -> ValidationError:
    """The error a check of a whole ``measures`` dict raises with this type and context."""
    def check(measures: dict[str, int]) -> dict[str, int]:
        raise PydanticCustomError(kind, "refused", context)

    adapter = TypeAdapter(dict[str, Annotated[dict[str, int], AfterValidator(check)]])
    with pytest.raises(ValidationError) as info:
        adapter.validate_python({"measures": {"road_km": 1}})
    return info.value


def test_only_a_too_precise_problem_is_named_after_its_indicator() -> None:
    # too_precise is raised on the whole measures dict: its field names the indicator
    assert problems_of(_refused("too_precise", {"indicator": "road_km"})) == [
        FieldProblem("measures.road_km", "refused", "too_precise")]
    assert problems_of(_refused("too_precise", {"unit": "km"})) == [
        FieldProblem("measures", "refused", "too_precise")]
    assert problems_of(_refused("other_check", {"indicator": "road_km"})) == [
        FieldProblem("measures", "refused", "other_check")]


# --- validate_report: each problem's field, reason and kind ----------------------------------


@pytest.mark.parametrize(("changes", "field", "kind"), [
    ({"campaign": "weekend-fun"}, "campaign", "unknown_campaign"),
    ({"measures": {"road_miles": 3}}, "measures.road_miles", "unknown_indicator"),
    ({"measures": {"road_km": "-1"}}, "measures.road_km", "negative_quantity"),
    ({"measures": {"road_km": "1.2345"}}, "measures.road_km", "too_precise"),
    ({"measures": {"workdays": "0.5"}}, "measures.workdays", "too_precise"),
    ({"measures": {"road_km": "1e3"}}, "measures.road_km", "quantity_type"),
    ({"measures": {"road_km": True}}, "measures.road_km", "quantity_type"),
    ({"measures": {"road_km": "1000000000001"}}, "measures.road_km", "quantity_too_large"),
    ({"measures": {}}, "measures", "too_short"),
    ({"locality": "1"}, "locality", "locality_format"),
    ({"id": "x"}, "id", "uuid_parsing"),
    ({"date": "2023-02-30"}, "date", "date_from_datetime_parsing"),
    ({"unit": "  "}, "unit", "string_too_short"),
    ({"province": "15"}, "province", "extra_forbidden"),
    ({"note": 5}, "note", "string_type"),
])
def test_each_contract_problem_names_its_field_and_kind(
    gazetteer: Gazetteer, changes: dict[str, Any], field: str, kind: str
) -> None:
    [problem] = problems(report(**changes), gazetteer)
    assert (problem.field, problem.kind) == (field, kind)
    assert problem.reason


def test_a_missing_field_is_kind_missing(gazetteer: Gazetteer) -> None:
    raw = report()
    del raw["campaign"], raw["date"]
    found = problems(raw, gazetteer)
    assert [(p.field, p.reason, p.kind) for p in found] == [
        ("campaign", "Field required", "missing"), ("date", "Field required", "missing")]


def test_a_v2_problem_is_named_in_v2_terms(gazetteer: Gazetteer) -> None:
    [problem] = problems(report_v2(unit={"name": "x", "kind": "bogus"}), gazetteer)
    assert (problem.field, problem.kind) == ("unit.kind", "enum")


def test_too_precise_names_the_indicator_and_its_scale(gazetteer: Gazetteer) -> None:
    [problem] = problems(report(measures={"road_km": "1.2345", "workdays": 2}), gazetteer)
    assert problem == FieldProblem(
        "measures.road_km", "road_km takes at most 3 decimal places (unit: km); got 1.2345",
        "too_precise")


@pytest.mark.parametrize("raw", [[], [report()], "report", 12, None, True])
def test_a_body_that_is_not_an_object_is_not_an_object(gazetteer: Gazetteer, raw: Any) -> None:
    assert problems(raw, gazetteer) == [
        FieldProblem("(body)", "a report must be a JSON object", "not_an_object")]


@pytest.mark.parametrize(("version", "shown"), [
    (3, "3"), (0, "0"), ("2", "'2'"), (None, "None"), (1.0, "1.0"),
])
def test_an_unsupported_version_is_named_with_the_supported_ones(
    gazetteer: Gazetteer, version: object, shown: str
) -> None:
    assert problems(report(version=version), gazetteer) == [FieldProblem(
        "version", f"unsupported report version {shown} (supported: 1, 2)",
        "unsupported_version")]


def test_both_versions_are_accepted(gazetteer: Gazetteer) -> None:
    assert valid(report(), gazetteer).report.version == 2  # v1 (no "version"), as the current
    assert valid(report_v2(), gazetteer).report.unit.kind is UnitKind.PARTY_CELL


def test_a_future_date_names_today_in_vietnam(gazetteer: Gazetteer) -> None:
    assert problems(report(locality="04492", date="2025-09-02"), gazetteer) == [FieldProblem(
        "date", "2025-09-02 is in the future (today is 2025-09-01 in Vietnam)",
        "future_date")]


def test_today_is_not_the_future(gazetteer: Gazetteer) -> None:
    assert valid(report(locality="04492", date="2025-09-01"), gazetteer).report.date == TODAY


@pytest.mark.parametrize(("locality", "date", "shown_map"), [
    ("99999", "2024-03-08", "legacy"),
    ("99999", "2025-08-02", "2025"),
    ("137", "2025-07-01", "2025"),  # a district: the 2025 map has none
])
def test_an_unknown_locality_names_the_map_in_force_on_the_date(
    gazetteer: Gazetteer, locality: str, date: str, shown_map: str
) -> None:
    assert problems(report(locality=locality, date=date), gazetteer) == [FieldProblem(
        "locality", f"unknown locality '{locality}' in the {shown_map} map, "
                    f"the map in force on {date}", "unknown_locality")]


def test_a_future_date_is_the_only_error_when_the_date_is_the_cause(
    gazetteer: Gazetteer,
) -> None:
    """A locality is checked in the map in force on the date, so a date in the future
    leaves nothing to check it against: no knock-on "unknown locality" error."""
    for locality in ("99999", "04495"):  # unknown anywhere; known only before the reform
        found = problems(report(locality=locality, date="2026-01-01"), gazetteer)
        assert [(p.field, p.kind) for p in found] == [("date", "future_date")]


def test_a_date_before_the_earliest_map_is_the_only_error(gazetteer: Gazetteer) -> None:
    for locality in ("04495", "99999"):
        assert problems(report(locality=locality, date="1999-05-01"), gazetteer) == [
            FieldProblem("date", "no administrative map is known for 1999-05-01 "
                                 "(the earliest is of 2020-01-01)", "no_map")]
    assert [p.kind for p in problems(report(date="2019-12-31"), gazetteer)] == ["no_map"]


@pytest.mark.parametrize(("locality", "date", "lifetime"), [
    ("03751", "2025-06-01", "until 2025-02-28"),  # Chiềng Ly, merged in early 2025
    ("03751", "2025-03-01", "until 2025-02-28"),
    ("03980", "2024-06-01", "from 2025-01-05"),  # Mộc Lỵ, a ward made in 2025
    ("27103", "2022-01-01", "until 2021-02-02"),  # Bình Khánh, Thủ Đức, gone by 2021
    ("221", "2025-02-01", "until 2025-01-03"),  # Yên Dũng district, gone by 2025
])
def test_a_locality_that_did_not_exist_on_the_date_says_when_it_did(
    gazetteer: Gazetteer, locality: str, date: str, lifetime: str
) -> None:
    assert problems(report(locality=locality, date=date), gazetteer) == [FieldProblem(
        "locality", f"locality '{locality}' did not exist on {date} in the legacy map "
                    f"(it existed {lifetime})", "unknown_locality")]


@pytest.mark.parametrize(("locality", "date", "admin_map", "province"), [
    ("03751", "2024-06-01", AdminMap.LEGACY, "14"),  # merged in early 2025
    ("03751", "2025-02-28", AdminMap.LEGACY, "14"),  # still in the list of 2025-01-04
    ("27103", "2020-01-01", AdminMap.LEGACY, "79"),  # the first day of the earliest map
    ("04495", "2020-01-01", AdminMap.LEGACY, "15"),
    ("03980", "2025-06-30", AdminMap.LEGACY, "14"),
    ("221", "2023-06-01", AdminMap.LEGACY, "24"),  # a district dissolved in 2024
    ("04495", "2023-05-06", AdminMap.LEGACY, "15"),
    ("137", "2025-06-30", AdminMap.LEGACY, "15"),  # the last day of the old map
    ("04492", "2025-07-01", AdminMap.Y2025, "15"),  # the first day of the new one
    ("01894", "2023-05-06", AdminMap.LEGACY, "06"),
    ("01894", "2025-08-02", AdminMap.Y2025, "19"),
    ("VN", "2024-01-01", AdminMap.LEGACY, "VN"),
])
def test_a_valid_report_carries_its_map_and_province(
    gazetteer: Gazetteer, locality: str, date: str, admin_map: AdminMap, province: str
) -> None:
    checked = valid(report(locality=locality, date=date), gazetteer)
    assert (checked.map, checked.province) == (admin_map, province)
    assert (checked.report.locality, checked.report.date.isoformat()) == (locality, date)


# --- which day it is in Vietnam ----------------------------------------------------------------


def test_vietnam_is_seven_hours_ahead_of_utc() -> None:
    assert VIETNAM.utcoffset(None) == dt.timedelta(hours=7)


@pytest.mark.parametrize(("utc", "day"), [
    (dt.datetime(2025, 6, 30, 16, 59, 59, 999999), dt.date(2025, 6, 30)),
    (dt.datetime(2025, 6, 30, 17, 0, 0), dt.date(2025, 7, 1)),
    (dt.datetime(2025, 6, 30, 0, 0, 0), dt.date(2025, 6, 30)),
    (dt.datetime(2024, 12, 31, 16, 59), dt.date(2024, 12, 31)),
    (dt.datetime(2024, 12, 31, 17, 0), dt.date(2025, 1, 1)),
])
def test_the_day_in_vietnam_turns_at_17_00_utc(utc: dt.datetime, day: dt.date) -> None:
    assert today_in_vietnam(utc.replace(tzinfo=dt.UTC)) == day


def test_the_day_in_vietnam_from_another_zone() -> None:
    new_york = dt.timezone(dt.timedelta(hours=-4))
    assert today_in_vietnam(dt.datetime(2025, 6, 30, 12, 59, tzinfo=new_york)) == dt.date(
        2025, 6, 30)
    assert today_in_vietnam(dt.datetime(2025, 6, 30, 13, 0, tzinfo=new_york)) == dt.date(
        2025, 7, 1)


def test_without_a_time_it_is_today_in_vietnam_now() -> None:
    before = dt.datetime.now(VIETNAM).date()
    today = today_in_vietnam()
    after = dt.datetime.now(VIETNAM).date()
    assert today in (before, after)
    assert abs(today - dt.datetime.now(dt.UTC).date()) <= dt.timedelta(days=1)


class NoJournal:
    """A journal that no report reaches here: an invalid one is never published."""

    async def append_many(self, messages: Sequence[Outgoing]) -> list[AppendResult]:
        assert not messages, f"published {len(messages)} message(s)"
        return []

    async def message_at(self, seq: int) -> bytes:
        raise AssertionError(f"read {seq}")


@pytest.mark.parametrize(("utc", "accepted"), [
    (dt.datetime(2025, 6, 30, 16, 59, 59, tzinfo=dt.UTC), False),
    (dt.datetime(2025, 6, 30, 17, 0, tzinfo=dt.UTC), True),
])
async def test_a_report_of_1_july_is_in_the_future_until_17_00_utc(
    gazetteer: Gazetteer, utc: dt.datetime, accepted: bool
) -> None:
    class Storing(NoJournal):
        async def append_many(self, messages: Sequence[Outgoing]) -> list[AppendResult]:
            return [Stored(n) for n, _ in enumerate(messages, 1)]

    service = IngestService(Storing(), gazetteer, clock=lambda: utc)
    outcome = await service.submit(report(locality="04492", date="2025-07-01"))
    if accepted:
        assert (outcome.status, outcome.seq, outcome.problems) == ("accepted", 1, [])
    else:
        assert outcome.status == "rejected"
        assert [(p.field, p.kind) for p in outcome.problems] == [("date", "future_date")]
        assert "today is 2025-06-30 in Vietnam" in outcome.problems[0].reason


# --- over HTTP: the 422 body's errors, and the rejection metric's labels ----------------------


@pytest.fixture
async def ingest(gazetteer: Gazetteer) -> AsyncIterator[tuple[httpx.AsyncClient,
                                                               CollectorRegistry]]:
    """The ingest app without its lifespan (no broker), on a clock at 2025-09-01 in Vietnam."""
    registry = CollectorRegistry()
    app = create_app(IngestSettings(), gazetteer=gazetteer, registry=registry)
    now = dt.datetime(2025, 9, 1, 3, 0, tzinfo=dt.UTC)
    app.state.service = IngestService(NoJournal(), gazetteer, clock=lambda: now)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://ingest") as client:
        yield client, registry


def rejections(registry: CollectorRegistry) -> dict[str, float]:
    return {s.labels["reason"]: s.value for family in registry.collect()
            if family.name == "cungdan_ingest_rejections" for s in family.samples
            if s.name.endswith("_total")}


async def test_a_422_lists_each_problem_as_field_and_reason_only(
    ingest: tuple[httpx.AsyncClient, CollectorRegistry],
) -> None:
    client, registry = ingest
    body = report(campaign="nope", locality="99999", measures={"road_km": "-1", "x": 1})
    response = await client.post("/v1/activities", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["type"], problem["status"], problem["id"]) == (
        "urn:cungdan:problem:invalid-report", 422, body["id"])
    assert all(list(error) == ["field", "reason"] for error in problem["errors"])
    assert {e["field"] for e in problem["errors"]} == {
        "campaign", "measures.road_km", "measures.x"}
    assert rejections(registry) == {
        "unknown_campaign": 1.0, "negative_quantity": 1.0, "unknown_indicator": 1.0}


async def test_the_rules_of_the_gazetteer_and_the_clock_are_counted_by_kind(
    ingest: tuple[httpx.AsyncClient, CollectorRegistry],
) -> None:
    client, registry = ingest
    response = await client.post("/v1/activities", json=report(locality="99999",
                                                                date="2025-09-02"))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "date", "reason": "2025-09-02 is in the future (today is 2025-09-01 in Vietnam)"}]
    for locality, date in (("99999", "2025-08-02"), ("03751", "2025-06-01")):
        response = await client.post("/v1/activities", json=report(locality=locality,
                                                                    date=date))
        assert [e["field"] for e in response.json()["errors"]] == ["locality"]
    response = await client.post("/v1/activities", json=report(date="1999-05-01"))
    assert response.json()["errors"] == [
        {"field": "date", "reason": "no administrative map is known for 1999-05-01 "
                                    "(the earliest is of 2020-01-01)"}]
    batch = await client.post("/v1/activities/batch", json=[
        [], report(version=7), report(measures={"road_km": "0.0001"})])
    assert batch.status_code == 200
    assert [item["errors"] for item in batch.json()["results"]] == [
        [{"field": "(body)", "reason": "a report must be a JSON object"}],
        [{"field": "version", "reason": "unsupported report version 7 (supported: 1, 2)"}],
        [{"field": "measures.road_km",
          "reason": "road_km takes at most 3 decimal places (unit: km); got 0.0001"}]]
    assert rejections(registry) == {
        "future_date": 1.0, "unknown_locality": 2.0, "no_map": 1.0, "not_an_object": 1.0,
        "unsupported_version": 1.0, "too_precise": 1.0}
