"""The ingest use case with a caller: each valid report must lie in the token's provinces."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from tests.factories import report_v2 as report
from tests.fakes import SubjectJournal

from cungdan_contracts import AdminMap, decode_event, load_gazetteer
from cungdan_ingest.service import IngestService, out_of_scope
from cungdan_ingest.validation import ValidReport, validate_report
from cungdan_service.auth import make_principal

NOW = dt.datetime(2025, 9, 1, 3, 0, tzinfo=dt.UTC)
LAO_CAI = make_principal("lao-cai", ["15"], ["report"])


def _report(locality: str, date: str) -> dict[str, Any]:
    return report(id=str(uuid.uuid4()), locality=locality, date=date)


async def test_each_item_is_checked_and_the_others_go_on() -> None:
    journal = SubjectJournal()
    service = IngestService(journal, load_gazetteer(), clock=lambda: NOW)
    outcomes = await service.submit_many([
        _report("04495", "2023-05-06"),  # Yên Bái (legacy 15): Lào Cai's
        _report("01894", "2023-05-06"),  # Bắc Kạn (legacy 06): Thái Nguyên's
        _report("04492", "2025-08-02"),  # Lào Cai (2025 15)
        _report("99999", "2023-05-06"),  # invalid whoever sends it
    ], LAO_CAI)
    assert [o.status for o in outcomes] == ["accepted", "forbidden", "accepted", "rejected"]
    refused = outcomes[1]
    assert refused.province == "06" and refused.seq is None
    assert refused.problems[0].field == "locality"
    assert refused.problems[0].reason == (
        "01894 (read in the legacy map, in force on 2023-05-06): token 'lao-cai' covers "
        "2025 province(s) 15 (legacy 10, 15), not province 06 of the legacy map")
    assert len(journal.stored) == 2  # nothing refused reached the journal
    assert {m.subject.split(".")[5] for m in journal.stored} == {"15"}


async def test_without_a_caller_nothing_is_checked() -> None:
    journal = SubjectJournal()
    service = IngestService(journal, load_gazetteer(), clock=lambda: NOW)
    outcome = await service.submit(_report("01894", "2023-05-06"))
    assert outcome.status == "accepted"


@pytest.mark.parametrize(("locality", "date", "province", "forbidden"), [
    ("04495", "2023-05-06", "15", False), ("137", "2023-05-06", "15", False),
    ("15", "2023-05-06", "15", False), ("15", "2025-08-02", "15", False),
    ("01894", "2025-08-02", "19", True), ("VN", "2025-08-02", "VN", True),
])
def test_out_of_scope_is_pure(locality: str, date: str, province: str, forbidden: bool) -> None:
    valid = validate_report(_report(locality, date), load_gazetteer(), NOW.date())
    assert isinstance(valid, ValidReport) and valid.province == province
    assert valid.map is (AdminMap.LEGACY if date < "2025-07-01" else AdminMap.Y2025)
    assert (out_of_scope(LAO_CAI, valid) is not None) is forbidden
    assert out_of_scope(None, valid) is None


async def test_the_event_names_the_token_that_reported_it() -> None:
    journal = SubjectJournal()
    service = IngestService(journal, load_gazetteer(), clock=lambda: NOW)
    await service.submit(_report("04495", "2023-05-06"), LAO_CAI)
    await service.submit(_report("04495", "2023-05-06"))
    events = [decode_event(m.payload) for m in journal.stored]
    assert [getattr(e, "reported_by", "?") for e in events] == ["lao-cai", None]
