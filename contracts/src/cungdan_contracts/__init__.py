"""cungdan's event contracts: what ingest publishes and every consumer reads."""

from .activity import ActivityLogged, ActivityReport
from .catalog import CAMPAIGNS, INDICATORS, Campaign, Indicator
from .codec import MalformedJSONError, decode_event, encode_event, loads_exact
from .localities import NATION, AdminMap, Gazetteer, Level, Locality, load_gazetteer, map_for_date
from .quantities import Quantity, format_decimal, from_units, to_units

__all__ = [
    "CAMPAIGNS", "INDICATORS", "NATION", "ActivityLogged", "ActivityReport", "AdminMap",
    "Campaign", "Gazetteer", "Indicator", "Level", "Locality", "MalformedJSONError", "Quantity",
    "decode_event", "encode_event", "format_decimal", "from_units", "load_gazetteer",
    "loads_exact", "map_for_date", "to_units",
]
