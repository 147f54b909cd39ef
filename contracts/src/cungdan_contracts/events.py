"""The current shape of every event, and of every report a client may send."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .activity_v1 import ActivityReportV1
from .activity_v2 import ActivityLoggedV2, ActivityReportV2
from .corrections import ActivityCorrected, ActivityRetracted
from .upcasting import upcast, upcast_report_v1_v2

ActivityReport = ActivityReportV2
ActivityLogged = ActivityLoggedV2
Event = ActivityLoggedV2 | ActivityCorrected | ActivityRetracted

CURRENT: dict[str, type[BaseModel]] = {
    "ActivityLogged": ActivityLoggedV2,
    "ActivityCorrected": ActivityCorrected,
    "ActivityRetracted": ActivityRetracted,
}
REPORT_VERSIONS: dict[int, type[ActivityReportV1] | type[ActivityReportV2]] = {
    1: ActivityReportV1, 2: ActivityReportV2}


def event_from_json(data: dict[str, Any]) -> Event:
    """Validate a decoded event of any known version, upcast to the current shape.

    Raises :class:`~.upcasting.UnknownContractError` or pydantic's ValidationError.
    """
    current = upcast(data)
    model = CURRENT[current["type"]]
    event: Event = model.model_validate(current)  # type: ignore[assignment]
    return event


def report_from_json(data: dict[str, Any]) -> ActivityReportV2:
    """Validate a client's report of any version (``"version"``, default 1) as the current one.

    Raises :class:`~.upcasting.UnknownContractError` or pydantic's ValidationError.
    """
    version = data.get("version", 1)
    model = REPORT_VERSIONS.get(version) if isinstance(version, int) else None
    if model is None:
        raise ValueError(f"unsupported report version {version!r} "
                         f"(supported: {', '.join(map(str, REPORT_VERSIONS))})")
    report = model.model_validate(data)
    if isinstance(report, ActivityReportV2):
        return report
    # The v1 fields as they are (validated, Python values), not dumped to JSON and parsed
    # again: the same v2 report, in about half the time. dict(iter(...)), not dict(model):
    # dict() first asks a model for ``keys``, and pydantic's failing __getattr__ took
    # 2.3 µs of the 3.8.
    return ActivityReportV2.model_validate(upcast_report_v1_v2(dict(iter(report))))



