"""The demo dataset: article totals, ids, dates, localities, quantities."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal

import pytest

from cungdan.demo import ARTICLE_TOTALS, demo_reports
from cungdan_contracts import AdminMap, Level, load_gazetteer
from cungdan_contracts.admin_units_data import query
from cungdan_contracts.conversion import load_conversion

REFORM = dt.date(2025, 7, 1)
LAO_CAI = "15"  # 2025 map: legacy Lào Cai 10 and Yên Bái 15 (Mù Cang Chải 137 with it)
INDICATORS = {
    "leader_cell_visits", "cadre_turns", "citizen_turns", "workdays", "propaganda_sessions",
    "listener_turns", "party_cell_sessions", "road_km", "lighting_km", "self_managed_roads",
    "trees_planted", "flower_road_km", "flower_pots", "cleanup_sessions", "cleanup_road_km",
    "houses_built", "toilets_built", "cement_tonnes", "terraced_field_ha", "donations_vnd",
    "enterprises_founded", "cooperatives_founded", "cooperative_groups_founded",
    "models_registered", "models_recognised",
}
DECIMAL_INDICATORS = {
    "road_km", "lighting_km", "flower_road_km", "cleanup_road_km", "cement_tonnes",
    "terraced_field_ha",
}
CAMPAIGNS = {
    "ngay-cuoi-tuan-cung-dan", "dan-van-kheo", "hoc-tap-lam-theo-bac",
    "xay-dung-nong-thon-moi", "xuan-tinh-nguyen",
}
KEYS = {"id", "campaign", "locality", "date", "unit", "measures", "note"}

Report = dict[str, object]


@pytest.fixture(scope="module")
def legacy() -> list[tuple[str, str, str]]:
    """(provinceCode, districtCode, wardCode) rows of the legacy map, read independently
    of the gazetteer the demo is built from."""
    rows = query("SELECT provinceCode, districtCode, wardCode FROM admin_units_legacy")
    return [(str(p), str(d), str(w)) for p, d, w in rows]


@pytest.fixture(scope="module")
def reports() -> list[Report]:
    return demo_reports()


def _date(report: Report) -> dt.date:
    return dt.date.fromisoformat(str(report["date"]))


@pytest.fixture(scope="module")
def before(reports: list[Report]) -> list[Report]:
    """The reports made on the legacy map (dated before the reform): the articles'."""
    return [r for r in reports if _date(r) < REFORM]


@pytest.fixture(scope="module")
def after(reports: list[Report]) -> list[Report]:
    """The reports made on the 2025 map (dated from the reform on)."""
    return [r for r in reports if _date(r) >= REFORM]


def _measures(report: Report) -> dict[str, str]:
    measures = report["measures"]
    assert isinstance(measures, dict)
    return measures


def _sum(reports: list[Report], indicator: str) -> Decimal:
    return sum(
        (Decimal(_measures(r)[indicator]) for r in reports if indicator in _measures(r)),
        Decimal(0),
    )


def test_article_totals_are_the_article_figures() -> None:
    mcc = ARTICLE_TOTALS[("137", "ngay-cuoi-tuan-cung-dan")]
    assert mcc["road_km"] == 150
    assert mcc["lighting_km"] == 30
    assert mcc["donations_vnd"] == 2_400_000_000
    assert mcc["cooperative_groups_founded"] == 247
    assert mcc["workdays"] == 500
    assert mcc["party_cell_sessions"] == 200
    assert ARTICLE_TOTALS[("061", "dan-van-kheo")] == {"models_registered": 128}
    assert ARTICLE_TOTALS[("14836", "dan-van-kheo")] == {
        "models_recognised": 7, "flower_pots": 310, "flower_road_km": 2,
        "donations_vnd": 310_000_000,
    }


def test_sums_equal_article_totals(
    before: list[Report], legacy: list[tuple[str, str, str]]
) -> None:
    """By legacy code: the 2025 reports, whose codes may be the same (2025 04456 Mù Cang
    Chải is legacy 04456's code), are another map's and not the articles'."""
    for (code, campaign), expected in ARTICLE_TOTALS.items():
        area = {code} | {w for _, d, w in legacy if d == code}
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for report in before:
            if report["campaign"] == campaign and report["locality"] in area:
                for indicator, quantity in _measures(report).items():
                    totals[indicator] += Decimal(quantity)
        assert dict(totals) == dict(expected), (code, campaign)


def test_ids_unique_and_deterministic(reports: list[Report]) -> None:
    ids = [str(r["id"]) for r in reports]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 5 for i in ids)
    assert demo_reports() == reports


def test_shape_dates_and_localities(
    reports: list[Report], before: list[Report], after: list[Report],
    legacy: list[tuple[str, str, str]],
) -> None:
    """Each report is about a locality of the map in force on its date: the legacy
    map's before the reform, the 2025 map's (only Lào Cai's) from it on."""
    known = {p for p, _, _ in legacy} | {d for _, d, _ in legacy} | {w for _, _, w in legacy}
    assert 150 <= len(reports) <= 400
    assert len(before) >= 200
    assert len(after) >= 16
    for report in reports:
        assert set(report) == KEYS
        assert report["campaign"] in CAMPAIGNS
        assert _date(report) <= dt.date.today()
        assert isinstance(report["unit"], str)
        assert report["unit"]
        assert isinstance(report["note"], str)
    for report in before:
        assert report["locality"] in known
    gazetteer = load_gazetteer()
    for report in after:
        commune = gazetteer.get(AdminMap.Y2025, str(report["locality"]))
        assert commune is not None, report["locality"]
        assert (commune.level, commune.parent) == (Level.COMMUNE, LAO_CAI), commune


def test_quantities_are_positive_decimal_strings(reports: list[Report]) -> None:
    for report in reports:
        measures = _measures(report)
        assert 1 <= len(measures) <= 5
        for indicator, quantity in measures.items():
            assert indicator in INDICATORS
            assert isinstance(quantity, str)
            value = Decimal(quantity)
            assert value > 0
            assert "E" not in quantity.upper()
            exponent = value.as_tuple().exponent
            assert isinstance(exponent, int)
            if indicator in DECIMAL_INDICATORS:
                assert exponent >= -3, quantity
            else:
                assert "." not in quantity, (indicator, quantity)


def test_mu_cang_chai_spread(before: list[Report]) -> None:
    mcc = [r for r in before if r["campaign"] == "ngay-cuoi-tuan-cung-dan"
           and str(r["locality"]).startswith(("137", "044"))]
    district = [r for r in mcc if r["locality"] == "137"]
    communes = {r["locality"] for r in mcc} - {"137"}
    months = {str(r["date"])[:7] for r in mcc}
    dates = [dt.date.fromisoformat(str(r["date"])) for r in mcc]
    assert 0 < len(district) < len(mcc) / 2
    assert len(communes) >= 10
    assert len(months) >= 24
    assert all(dt.date(2020, 1, 1) <= d <= dt.date(2022, 12, 31) for d in dates)
    assert all(d.weekday() >= 5 for d in dates)
    assert len({r["unit"] for r in mcc}) >= 10


def test_bloc_and_military_sub_figures(reports: list[Report]) -> None:
    bloc = [r for r in reports if "Khối Đảng - đoàn thể" in str(r["unit"])]
    assert bloc
    assert _sum(bloc, "workdays") == 500
    assert _sum(bloc, "road_km") == 11
    assert _sum(bloc, "lighting_km") == 5
    assert _sum(bloc, "party_cell_sessions") == 200
    military = [r for r in reports if str(r["unit"]).startswith("Ban CHQS huyện Mù Cang Chải")]
    roads = [r for r in military if "road_km" in _measures(r)]
    assert _sum(roads, "road_km") == 6
    assert {r["locality"] for r in roads} == {"04495", "04468"}


def test_ba_be_individual_models(reports: list[Report]) -> None:
    ba_be = [r for r in reports if r["campaign"] == "dan-van-kheo"
             and str(r["locality"]).startswith(("061", "018", "019"))]
    individual = [r for r in ba_be if str(r["unit"]).startswith("Cá nhân")]
    assert _sum(individual, "models_registered") == 10
    assert {"01894", "01912"} <= {r["locality"] for r in ba_be}
    assert all(str(r["date"]).startswith("2023-") for r in ba_be)


def test_truong_son_april_2023(reports: list[Report]) -> None:
    ward = [r for r in reports if r["locality"] == "14836"]
    assert len(ward) == 7
    assert all(str(r["date"]).startswith("2023-04-") for r in ward)


def test_son_thuy_and_thai_nguyen(reports: list[Report]) -> None:
    son_thuy = [r for r in reports if r["locality"] == "15010"]
    assert {r["campaign"] for r in son_thuy} == {"hoc-tap-lam-theo-bac", "xuan-tinh-nguyen"}
    thai_nguyen = [r for r in reports if str(r["locality"]).startswith(("056", "059"))]
    assert "05611" in {r["locality"] for r in thai_nguyen}
    for report in thai_nguyen:
        date = dt.date.fromisoformat(str(report["date"]))
        assert dt.date(2024, 1, 1) <= date <= dt.date(2024, 11, 21)
        assert date.weekday() >= 5
        assert "minh họa" in str(report["note"])


def test_lao_cai_after_the_reform(
    after: list[Report], before: list[Report], legacy: list[tuple[str, str, str]]
) -> None:
    """Today's Lào Cai has a history across the reform: monthly illustrative reports
    from July 2025 to October 2026 in the 2025 communes that took Mù Cang Chải's legacy
    communes (by the official conversion), where the article's reports were made."""
    conversion = load_conversion()
    mcc_wards = {w for _, d, w in legacy if d == "137"}
    assert {r["campaign"] for r in after} == {"ngay-cuoi-tuan-cung-dan"}
    communes = {str(r["locality"]) for r in after}
    assert {"04456", "04492"} <= communes
    for commune in communes:
        assert set(conversion.predecessors(commune)) <= mcc_wards, commune
    article = {str(r["locality"]) for r in before if r["campaign"] == "ngay-cuoi-tuan-cung-dan"}
    assert {"04495", "04468"} <= article
    assert conversion.whole["04495"] == "04492"
    assert conversion.whole["04468"] == "04456"
    dates = [_date(r) for r in after]
    assert all(REFORM <= d < dt.date(2026, 11, 1) for d in dates)
    assert all(d.weekday() >= 5 for d in dates)
    assert {(d.year, d.month) for d in dates} == {
        (y, m) for y in (2025, 2026) for m in range(1, 13)
        if dt.date(2025, 7, 1) <= dt.date(y, m, 1) <= dt.date(2026, 10, 1)}
    for report in after:
        assert "Số liệu minh họa" in str(report["note"])
        assert "huyện" not in str(report["unit"])  # no districts on the 2025 map
        measures = _measures(report)
        assert measures["cleanup_sessions"] == "1"
        assert Decimal(measures["cleanup_road_km"]) <= 3
        assert Decimal(measures.get("road_km", 0)) <= Decimal("1.5")
        assert int(measures["citizen_turns"]) <= 400

