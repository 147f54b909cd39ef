"""cungdan's event contracts: what ingest publishes and every consumer reads.

``ActivityLogged`` / ``ActivityReport`` name the current version (v2); older
versions stay importable (``ActivityLoggedV1``) and are upcast on read by
:func:`decode_event`.
"""

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
from .localities import NATION, AdminMap, Gazetteer, Level, Locality, load_gazetteer, map_for_date
from .quantities import Quantity, format_decimal, format_units, from_units, to_units
from .upcasting import UnknownContractError, upcast

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
