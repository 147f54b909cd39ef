"""cungdan's event contracts: what ingest publishes and every consumer reads.

``ActivityLogged`` / ``ActivityReport`` name the current version (v2); older
versions stay importable (``ActivityLoggedV1``) and are upcast on read by
:func:`decode_event`.

The names below are loaded on first use (PEP 562): a process that needs only the
catalog or the maps (the projector's writer) does not build the pydantic models.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .activity_v1 import ActivityLoggedV1, ActivityReportV1
    from .activity_v2 import ActivityLoggedV2, ActivityReportV2, OrganisingUnit, UnitKind
    from .catalog import CAMPAIGNS, INDICATORS, Campaign, Indicator
    from .codec import MalformedJSONError, decode_event, encode_event, loads_exact
    from .corrections import (
        ActivityCorrected,
        ActivityRetracted,
        CorrectionRequest,
        RetractionRequest,
    )
    from .events import ActivityLogged, ActivityReport, Event, event_from_json, report_from_json
    from .localities import (
        NATION,
        AdminMap,
        Gazetteer,
        Level,
        Locality,
        load_gazetteer,
        map_for_date,
    )
    from .quantities import Quantity, format_decimal, format_units, from_units, to_units
    from .upcasting import UnknownContractError, upcast

_MODULES: dict[str, tuple[str, ...]] = {
    "activity_v1": ("ActivityLoggedV1", "ActivityReportV1"),
    "activity_v2": ("ActivityLoggedV2", "ActivityReportV2", "OrganisingUnit", "UnitKind"),
    "catalog": ("CAMPAIGNS", "INDICATORS", "Campaign", "Indicator"),
    "codec": ("MalformedJSONError", "decode_event", "encode_event", "loads_exact"),
    "corrections": ("ActivityCorrected", "ActivityRetracted", "CorrectionRequest",
                    "RetractionRequest"),
    "events": ("ActivityLogged", "ActivityReport", "Event", "event_from_json",
               "report_from_json"),
    "localities": ("NATION", "AdminMap", "Gazetteer", "Level", "Locality", "load_gazetteer",
                   "map_for_date"),
    "quantities": ("Quantity", "format_decimal", "format_units", "from_units", "to_units"),
    "upcasting": ("UnknownContractError", "upcast"),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}
"""Each public name -> the module of the package that defines it."""


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # found once, then a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "CAMPAIGNS", "INDICATORS", "NATION", "ActivityCorrected", "ActivityLogged",
    "ActivityLoggedV1", "ActivityLoggedV2", "ActivityReport", "ActivityReportV1",
    "ActivityReportV2", "ActivityRetracted", "AdminMap", "Campaign", "CorrectionRequest",
    "Event", "Gazetteer", "Indicator", "Level", "Locality", "MalformedJSONError",
    "OrganisingUnit", "Quantity", "RetractionRequest", "UnitKind", "UnknownContractError",
    "decode_event", "encode_event", "event_from_json", "format_decimal", "format_units",
    "from_units",
    "load_gazetteer", "loads_exact", "map_for_date", "report_from_json", "to_units", "upcast",
]
