"""Upcasters: pure functions that lift an old event's JSON to the next version.

One function per step, chained by :func:`upcast` until the current version,
so the projector and downstream consumers see one current shape however old
the event in the log is.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from typing import Any

from .activity_v2 import UnitKind

Json = dict[str, Any]

_KIND_HINTS: tuple[tuple[UnitKind, tuple[str, ...]], ...] = (
    (UnitKind.INDIVIDUAL, ("cá nhân",)),
    (UnitKind.BORDER_GUARD, ("biên phòng",)),
    (UnitKind.POLICE, ("công an",)),
    (UnitKind.MILITARY, ("quân sự", "chqs", "quân đội", "bộ đội", "dân quân")),
    (UnitKind.YOUTH_UNION, ("đoàn thanh niên", "đoàn tn", "thanh niên", "đoàn xã")),
    (UnitKind.PARTY_CELL, ("chi bộ",)),
    (UnitKind.PARTY_COMMITTEE, ("đảng ủy", "huyện ủy", "tỉnh ủy", "thành ủy", "khối đảng",
                                "ban thường vụ", "ban tuyên giáo", "ban dân vận")),
    (UnitKind.MASS_ORGANISATION, ("hội ", "mặt trận", "công đoàn", "liên đoàn", "đoàn thể")),
    (UnitKind.GOVERNMENT, ("ubnd", "ủy ban nhân dân", "phòng ", "sở ", "trạm y tế",
                           "trường ")),
)


def _fold(text: str) -> str:
    # "uỷ" and "ủy" are the same word in two spellings; compare in one of them.
    return unicodedata.normalize("NFC", text).casefold().replace("uỷ", "ủy") + " "


@functools.lru_cache(maxsize=4096)
def infer_unit_kind(name: str) -> UnitKind:
    """The kind of unit a free-text v1 name most likely denotes (``other`` if unsure).

    Cached: the same units report again and again, and ingest upcasts every v1 report
    (the keyword scan was a visible share of ingest's CPU per event)."""
    folded = _fold(name)
    for kind, hints in _KIND_HINTS:
        if any(hint in folded for hint in hints):
            return kind
    return UnitKind.OTHER


def upcast_report_v1_v2(report: Json) -> Json:
    """v1 report -> v2: the free-text unit becomes a named unit of an inferred kind."""
    lifted = {k: v for k, v in report.items() if k != "unit"}
    unit = str(report.get("unit", ""))
    lifted.update(version=2, village=None,
                  unit={"name": unit, "kind": infer_unit_kind(unit).value})
    return lifted


def upcast_logged_v1_v2(event: Json) -> Json:
    """v1 ActivityLogged -> v2: the report is upcast; nobody is named as reporter."""
    return {**event, "version": 2, "reported_by": None,
            "activity": upcast_report_v1_v2(event["activity"])}


UPCASTERS: dict[tuple[str, int], Callable[[Json], Json]] = {
    ("ActivityLogged", 1): upcast_logged_v1_v2,
}
CURRENT_VERSIONS: dict[str, int] = {
    "ActivityLogged": 2, "ActivityCorrected": 1, "ActivityRetracted": 1}


class UnknownContractError(ValueError):
    """An event of a type or version this code does not know (a newer producer?)."""


def upcast(event: Json) -> Json:
    """Lift ``event`` step by step to the current version of its type."""
    kind, version = event.get("type"), event.get("version")
    if not isinstance(kind, str) or kind not in CURRENT_VERSIONS:
        raise UnknownContractError(f"unknown event type {kind!r}")
    while version != CURRENT_VERSIONS[kind]:
        step = UPCASTERS.get((kind, version)) if isinstance(version, int) else None
        if step is None:
            raise UnknownContractError(
                f"unknown {kind} version {version!r} (this code reads up to "
                f"{CURRENT_VERSIONS[kind]})")
        event = step(event)
        version = event["version"]
    return event
