"""The current shape of every event, and of every report a client may send."""

from __future__ import annotations

import contextlib
from typing import Any

from pydantic import BaseModel, ValidationError

from .activity_v1 import ActivityReportV1
from .activity_v2 import ActivityLoggedV2, ActivityReportV2, OrganisingUnit
from .corrections import ActivityCorrected, ActivityRetracted
from .upcasting import infer_unit_kind, upcast, upcast_report_v1_v2

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
    if model is ActivityReportV2:
        return ActivityReportV2.model_validate(data)
    if data.keys() <= _V1_FIELDS and isinstance(data.get("unit"), str):
        with contextlib.suppress(ValidationError):
            return _v1_validated_as_v2(data)
    # Invalid (or not plainly v1): validated as v1, so that its problems are named in v1's
    # terms (``unit``, not ``unit.name``). The v1 fields as they are (validated, Python
    # values), not dumped to JSON and parsed again: dict(iter(...)), not dict(model), as
    # dict() first asks a model for ``keys``, and pydantic's failing __getattr__ is slow.
    report = ActivityReportV1.model_validate(data)
    return ActivityReportV2.model_validate(upcast_report_v1_v2(dict(iter(report))))


_V1_FIELDS = frozenset(ActivityReportV1.model_fields)


def _v1_validated_as_v2(data: dict[str, Any]) -> ActivityReportV2:
    """A v1 report validated once, as v2 (ingest saves a second validation).

    The same as validating it as v1 and upcasting that: v2 has v1's fields with the same
    types and constraints, and its unit name v1's unit's. The kind is inferred again from
    the name as validated (stripped of surrounding whitespace), as the v1 path infers it.
    """
    report = ActivityReportV2.model_validate(upcast_report_v1_v2(data))
    kind = infer_unit_kind(report.unit.name)
    if kind is report.unit.kind:
        return report
    return report.model_copy(update={"unit": OrganisingUnit(name=report.unit.name, kind=kind)})
