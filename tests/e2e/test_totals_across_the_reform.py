"""End to end, on SQLite and PostgreSQL: the 2025 map counts the legacy map's reports,
converted; the legacy map and ``basis=reported`` count only their own; a rebuild agrees."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.factories import report, stack_config
from tests.waits import wait_until

from cungdan.client import post_batches, wait_until_projected
from cungdan.stack import Stack

pytestmark = pytest.mark.e2e

REPORTS = [
    report(locality="04495", date="2024-03-10", measures={"road_km": "150"}),  # whole -> 04492
    report(locality="04468", date="2023-05-06", measures={"road_km": "2"}),  # whole -> 04456
    report(locality="137", date="2024-03-31", measures={"road_km": "0.5"}),  # district level
    report(locality="02650", date="2024-06-01", measures={"road_km": "1"}),  # legacy Lào Cai
    report(locality="31178", date="2024-03-05", measures={"road_km": "7"}),  # split (Cần Thơ)
    report(locality="04492", date="2025-09-06", measures={"road_km": "3"}),  # 2025 map
    report(locality="15", date="2025-10-01", measures={"road_km": "4"}),  # 2025 province
]


@pytest.fixture
def projector(tmp_path: Path, database_url: str) -> Iterator[httpx.Client]:
    config = stack_config(tmp_path / "stack", database_url=database_url)
    with Stack(config) as stack, httpx.Client(base_url=stack.projector_url, timeout=10,
                                              trust_env=False) as client:
        counts = post_batches(stack.ingest_url, REPORTS)
        assert counts["accepted"] == len(REPORTS), counts
        wait_until_projected(stack.projector_url, counts["last_seq"])
        yield client


def get(projector: httpx.Client, code: str, **params: str) -> dict[str, Any]:
    response = projector.get(f"/v1/totals/{code}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def km(entry: dict[str, Any], part: str = "totals") -> Decimal:
    return Decimal(entry[part].get("road_km", "0"))


def children_sum(body: dict[str, Any], part: str = "totals") -> Decimal:
    return sum((km(c, part) for c in body["children"]), Decimal(0))


def test_the_2025_map_counts_every_report_and_the_legacy_map_only_its_own(
        projector: httpx.Client) -> None:
    nation = get(projector, "VN", map="2025")
    assert (nation["basis"], km(nation), km(nation, "from_legacy")) == (
        "all", Decimal("167.5"), Decimal("160.5"))
    assert children_sum(nation) == km(nation)
    assert km(get(projector, "VN", map="2025", basis="reported")) == Decimal(7)
    assert km(get(projector, "VN", map="legacy")) == Decimal("160.5")

    lao_cai = get(projector, "15", map="2025")  # legacy Yên Bái (15) and Lào Cai (10)
    assert (km(lao_cai), km(lao_cai, "from_legacy")) == (Decimal("160.5"), Decimal("153.5"))
    assert children_sum(lao_cai) == km(lao_cai) - 4  # the province's own 2025 report
    [unattributed] = [c for c in lao_cai["children"] if c.get("unattributed")]
    assert (unattributed["code"], km(unattributed)) == (None, Decimal("0.5"))
    assert [(s["map"], s["code"], s["why"]) for s in unattributed["sources"]] == [
        ("legacy", "137", "own")]
    pung_luong = next(c for c in lao_cai["children"] if c["code"] == "04492")
    assert (km(pung_luong), km(pung_luong, "from_legacy")) == (Decimal(153), Decimal(150))

    reported = get(projector, "15", map="2025", basis="reported")
    assert km(reported) == 7 and "from_legacy" not in reported
    assert not any(c.get("unattributed") for c in reported["children"])

    can_tho = get(projector, "92", map="2025")
    assert km(can_tho) == 7 and children_sum(can_tho) == 7
    [split] = [c for c in can_tho["children"] if c.get("unattributed")]
    assert [(s["code"], s["why"]) for s in split["sources"]] == [("31178", "split")]


def test_dates_filter_the_activity_date_whatever_its_map(projector: httpx.Client) -> None:
    assert km(get(projector, "15", map="2025", period="2024")) == Decimal("151.5")
    assert km(get(projector, "15", map="2025", period="2025")) == Decimal(7)
    # days that cut through a month are read from the activities themselves
    march = get(projector, "15", map="2025", **{"from": "2024-03-10", "to": "2024-04-15"})
    assert km(march) == Decimal("150.5") and children_sum(march) == km(march)
    commune = get(projector, "04492", map="2025", **{"from": "2024-03-09", "to": "2025-09-06"})
    assert (km(commune), km(commune, "from_legacy")) == (Decimal(153), Decimal(150))
    assert km(get(projector, "VN", map="2025", **{"from": "2024-03-05", "to": "2024-03-09"})) == 7


def test_a_rebuild_gives_the_same_totals_on_both_maps(projector: httpx.Client) -> None:
    views = [("VN", "2025"), ("15", "2025"), ("92", "2025"), ("VN", "legacy")]
    before = [get(projector, code, map=m) for code, m in views]
    assert projector.post("/v1/rebuild").status_code == 202
    wait_until(lambda: projector.get("/v1/rebuild").json()["state"] == "done",
               "the rebuild to be done", within=60)
    after = [get(projector, code, map=m) for code, m in views]
    assert [(b["totals"], b["children"]) for b in before] == [
        (a["totals"], a["children"]) for a in after]
