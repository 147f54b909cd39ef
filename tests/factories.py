"""Builders of valid reports and events for tests (override any field)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from cungdan_contracts import (
    ActivityLogged,
    AdminMap,
    load_gazetteer,
    map_for_date,
    report_from_json,
)


def report(**overrides: Any) -> dict[str, Any]:
    """A valid v1 report in the ingest API's JSON shape (a commune of Mù Cang Chải, 2023)."""
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "campaign": "ngay-cuoi-tuan-cung-dan",
        "locality": "04495",
        "date": "2023-05-06",
        "unit": "Ban CHQS huyện",
        "measures": {"road_km": "1.5", "citizen_turns": 120},
    }
    body.update(overrides)
    return body


def report_v2(**overrides: Any) -> dict[str, Any]:
    """A valid v2 report: structured unit, village."""
    body = report(version=2, village="Khuổi Tẩu",
                  unit={"name": "Chi bộ thôn Khuổi Tẩu", "kind": "party_cell"})
    body.update(overrides)
    return body


def event(**overrides: Any) -> ActivityLogged:
    """The (current, v2) event ingest would publish for :func:`report` with these overrides."""
    activity = report_from_json(report(**overrides))
    admin_map: AdminMap = map_for_date(activity.date)
    return ActivityLogged(
        recorded_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        source_province=load_gazetteer().province_of(admin_map, activity.locality),
        map=admin_map,
        activity=activity,
    )
