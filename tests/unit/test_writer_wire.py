"""The wire format of batches sent to the writer process: every item arrives equal."""

from __future__ import annotations

import datetime as dt
import pickle

from cungdan_contracts import AdminMap
from cungdan_projector.items import Corrected, DeadLetter, Logged, Origin, Retracted
from cungdan_projector.rollup import Facts
from cungdan_projector.writer import pack, unpack

ORIGIN = Origin("2025", "01", "dan-van-kheo", dt.datetime(2025, 7, 2, 8, 30, 1, 123456,
                                                          tzinfo=dt.UTC))


def test_every_kind_of_item_survives_the_trip_to_the_writer() -> None:
    items = [
        Logged(1, "a1", Facts(AdminMap.Y2025, ("00004", "01", "VN"), "dan-van-kheo",
                              dt.date(2025, 7, 1), {"houses_built": 3, "road_km": 1500}),
               ORIGIN),
        Logged(2, "a2", Facts(AdminMap.LEGACY, ("04495", "135", "15", "VN"),
                              "ngay-cuoi-tuan-cung-dan", dt.date(2023, 5, 6), {},
                              retracted=True), ORIGIN),
        Corrected(3, "c1", "a1", {"houses_built": 4}, ORIGIN),
        Retracted(4, "retraction:a2", "a2", ORIGIN),
        DeadLetter(5, "cungdan.activity.v2.logged.x", "not JSON: bad", attempts=3),
    ]
    arrived = unpack(pickle.loads(pickle.dumps(pack(items))))  # noqa: S301 - our own bytes
    assert arrived == items
    assert [type(i) for i in arrived] == [type(i) for i in items]
    assert arrived[0].facts.map is AdminMap.Y2025
    assert unpack(pack([])) == []
