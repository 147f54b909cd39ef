"""Where localities lie: latitude and longitude from the ``vietnamadminunits`` data.

The package ships a point per province, district and commune of both maps (the 2025
map: provinces and communes). Read once per process through
:func:`cungdan_contracts.admin_units_data.query`.
"""

from __future__ import annotations

from functools import cache

from cungdan_contracts import AdminMap
from cungdan_contracts.admin_units_data import query

Point = tuple[float, float]
"""(latitude, longitude) in degrees."""

_SQL = {
    AdminMap.Y2025: ("SELECT provinceCode, provinceLat, provinceLon, wardCode, wardLat, "
                     "wardLon FROM admin_units",),
    AdminMap.LEGACY: ("SELECT provinceCode, provinceLat, provinceLon, districtCode, "
                      "districtLat, districtLon FROM admin_units_legacy",
                      "SELECT wardCode, wardLat, wardLon, wardCode, wardLat, wardLon "
                      "FROM admin_units_legacy"),
}


@cache
def coordinates(admin_map: AdminMap) -> dict[str, Point]:
    """Each locality code of ``admin_map`` with a known point -> its point."""
    found: dict[str, Point] = {}
    for sql in _SQL[admin_map]:
        for a, a_lat, a_lon, b, b_lat, b_lon in query(sql):
            for code, lat, lon in ((a, a_lat, a_lon), (b, b_lat, b_lon)):
                if code and lat is not None and lon is not None and code not in found:
                    found[str(code)] = (float(lat), float(lon))
    return found
