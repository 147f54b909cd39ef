"""Localities of the two administrative maps: the real gazetteer and a hand-built one."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from cungdan_contracts import (
    NATION,
    AdminMap,
    Gazetteer,
    Level,
    Locality,
    load_gazetteer,
    map_for_date,
)
from cungdan_contracts.admin_units_data import installed_version, query
from cungdan_contracts.localities import EARLIEST_MAP_DATE, legacy_history

LEGACY, Y2025 = AdminMap.LEGACY, AdminMap.Y2025


# --- which map a date reads in --------------------------------------------------------------


@pytest.mark.parametrize(("day", "expected"), [
    (dt.date(2023, 4, 15), LEGACY),
    (dt.date(2025, 6, 30), LEGACY),
    (dt.date(2025, 7, 1), Y2025),
    (dt.date(2025, 7, 2), Y2025),
    (dt.date(1990, 1, 1), LEGACY),
])
def test_map_for_date_switches_on_2025_07_01(day: dt.date, expected: AdminMap) -> None:
    assert map_for_date(day) is expected


def test_map_values_are_the_wire_names() -> None:
    assert [m.value for m in AdminMap] == ["legacy", "2025"]


# --- the real gazetteer: DOMAIN.md examples -------------------------------------------------


def test_load_gazetteer_is_read_once(gazetteer: Gazetteer) -> None:
    assert load_gazetteer() is gazetteer
    assert len(gazetteer) > 13000  # ~10,600 legacy + 3,321 new units, nations, provinces


def test_legacy_code_15_is_yen_bai_and_2025_code_15_is_lao_cai(gazetteer: Gazetteer) -> None:
    legacy = gazetteer.get(LEGACY, "15")
    new = gazetteer.get(Y2025, "15")
    assert legacy is not None
    assert new is not None
    assert "Yên Bái" in legacy.name
    assert "Lào Cai" in new.name
    assert legacy.level is new.level is Level.PROVINCE
    assert legacy.parent == new.parent == NATION


def test_mu_cang_chai_district_and_its_communes(gazetteer: Gazetteer) -> None:
    district = gazetteer.get(LEGACY, "137")
    assert district is not None
    assert "Mù Căng Chải" in district.name  # the official spelling, as its township's
    assert district.level is Level.DISTRICT
    assert district.parent == "15"
    nam_khat = gazetteer.get(LEGACY, "04495")
    assert nam_khat is not None
    assert "Nậm Khắt" in nam_khat.name
    assert (nam_khat.level, nam_khat.parent) == (Level.COMMUNE, "137")
    mo_de = gazetteer.get(LEGACY, "04468")
    assert mo_de is not None
    assert "Mồ Dề" in mo_de.name
    assert mo_de.parent == "137"
    children = gazetteer.children(LEGACY, "137")
    assert {"04495", "04468"} <= {c.code for c in children}
    assert all(c.level is Level.COMMUNE and c.parent == "137" for c in children)


def test_pung_luong_is_a_2025_commune_of_lao_cai(gazetteer: Gazetteer) -> None:
    pung_luong = gazetteer.get(Y2025, "04492")
    assert pung_luong is not None
    assert "Púng Luông" in pung_luong.name
    assert (pung_luong.level, pung_luong.parent) == (Level.COMMUNE, "15")
    assert gazetteer.ancestors(Y2025, "04492") == ("04492", "15", NATION)


def test_code_05611_means_du_before_and_phu_luong_after(gazetteer: Gazetteer) -> None:
    du = gazetteer.get(LEGACY, "05611")
    phu_luong = gazetteer.get(Y2025, "05611")
    assert du is not None
    assert phu_luong is not None
    assert "Đu" in du.name
    assert "Phú Lương" in phu_luong.name
    assert gazetteer.ancestors(LEGACY, "05611") == ("05611", "168", "19", NATION)
    assert gazetteer.ancestors(Y2025, "05611") == ("05611", "19", NATION)
    district = gazetteer.get(LEGACY, "168")
    assert district is not None
    assert "Phú Lương" in district.name


def test_truong_son_ward_under_sam_son_under_thanh_hoa(gazetteer: Gazetteer) -> None:
    ward = gazetteer.get(LEGACY, "14836")
    city = gazetteer.get(LEGACY, "382")
    province = gazetteer.get(LEGACY, "38")
    assert ward is not None
    assert city is not None
    assert province is not None
    assert "Trường Sơn" in ward.name
    assert "Sầm Sơn" in city.name
    assert "Thanh Hóa" in province.name
    assert gazetteer.ancestors(LEGACY, "14836") == ("14836", "382", "38", NATION)
    assert gazetteer.get(Y2025, "14836") is None


@pytest.mark.parametrize(("admin_map", "code", "path"), [
    (LEGACY, "04495", ("04495", "137", "15", NATION)),
    (LEGACY, "137", ("137", "15", NATION)),
    (LEGACY, "15", ("15", NATION)),
    (LEGACY, NATION, (NATION,)),
    (LEGACY, "01894", ("01894", "061", "06", NATION)),
    (Y2025, "01894", ("01894", "19", NATION)),
    (Y2025, "16531", ("16531", "38", NATION)),
    (Y2025, "04456", ("04456", "15", NATION)),
    (Y2025, "15", ("15", NATION)),
    (Y2025, NATION, (NATION,)),
])
def test_ancestors_paths(gazetteer: Gazetteer, admin_map: AdminMap, code: str,
                         path: tuple[str, ...]) -> None:
    assert gazetteer.ancestors(admin_map, code) == path
    assert gazetteer.ancestors(admin_map, code) == path  # cached answer is the same


def test_province_counts(gazetteer: Gazetteer) -> None:
    legacy = gazetteer.children(LEGACY, NATION)
    new = gazetteer.children(Y2025, NATION)
    assert len(legacy) == 63
    assert len(new) == 34
    assert all(p.level is Level.PROVINCE and len(p.code) == 2 for p in legacy + new)
    assert [p.code for p in new] == sorted(p.code for p in new)


def test_2025_map_has_no_districts(gazetteer: Gazetteer) -> None:
    provinces = gazetteer.children(Y2025, NATION)
    communes = [c for p in provinces for c in gazetteer.children(Y2025, p.code)]
    assert len(communes) == 3321
    assert {c.level for c in communes} == {Level.COMMUNE}
    assert all(gazetteer.children(Y2025, c.code) == [] for c in communes[:200])
    assert gazetteer.get(Y2025, "137") is None
    assert gazetteer.get(Y2025, "382") is None


def test_legacy_provinces_hold_districts(gazetteer: Gazetteer) -> None:
    districts = gazetteer.children(LEGACY, "15")
    assert "137" in {d.code for d in districts}
    assert {d.level for d in districts} == {Level.DISTRICT}
    assert all(len(d.code) == 3 for d in districts)


@pytest.mark.parametrize(("admin_map", "code", "province"), [
    (LEGACY, "04495", "15"), (LEGACY, "137", "15"), (LEGACY, "15", "15"),
    (LEGACY, "14836", "38"), (LEGACY, "05611", "19"), (LEGACY, "01912", "06"),
    (Y2025, "04492", "15"), (Y2025, "01912", "19"), (Y2025, "16531", "38"),
    (LEGACY, NATION, NATION), (Y2025, NATION, NATION),
])
def test_province_of(gazetteer: Gazetteer, admin_map: AdminMap, code: str,
                     province: str) -> None:
    assert gazetteer.province_of(admin_map, code) == province


@pytest.mark.parametrize(("admin_map", "code"), [
    (LEGACY, "99999"), (LEGACY, "00"), (Y2025, "137"), (Y2025, "04495"), (LEGACY, "vn"),
])
def test_unknown_codes(gazetteer: Gazetteer, admin_map: AdminMap, code: str) -> None:
    assert gazetteer.get(admin_map, code) is None
    assert gazetteer.children(admin_map, code) == []
    with pytest.raises(KeyError, match=f"unknown locality '{code}' in the {admin_map} map"):
        gazetteer.ancestors(admin_map, code)
    with pytest.raises(KeyError):
        gazetteer.province_of(admin_map, code)


# --- the legacy map's history and official names --------------------------------------------


def test_a_commune_merged_in_2025_is_known_on_its_dates(gazetteer: Gazetteer) -> None:
    chieng_ly = gazetteer.get(LEGACY, "03751")  # Thuận Châu 119, Sơn La 14
    assert chieng_ly is not None
    assert (chieng_ly.name, chieng_ly.level, chieng_ly.parent) == (
        "Xã Chiềng Ly", Level.COMMUNE, "119")
    assert gazetteer.ancestors(LEGACY, "03751") == ("03751", "119", "14", NATION)
    assert gazetteer.province_of(LEGACY, "03751") == "14"
    assert gazetteer.valid_on(LEGACY, "03751", dt.date(2020, 1, 1))
    assert gazetteer.valid_on(LEGACY, "03751", dt.date(2024, 6, 1))
    # in the list of 2025-01-04, not in that of 2025-03-01: known until the day before
    assert chieng_ly.valid_until == dt.date(2025, 3, 1)
    assert gazetteer.valid_on(LEGACY, "03751", dt.date(2025, 2, 28))
    assert not gazetteer.valid_on(LEGACY, "03751", dt.date(2025, 3, 1))
    assert not gazetteer.valid_on(LEGACY, "03751", dt.date(2025, 6, 30))


def test_a_former_commune_is_below_its_district_but_not_among_its_current_children(
    gazetteer: Gazetteer,
) -> None:
    assert "03751" not in {c.code for c in gazetteer.children(LEGACY, "119")}
    assert [c.code for c in gazetteer.former_children(LEGACY, "119")] == ["03751"]
    assert "03751" in {c.code for c in gazetteer.children(LEGACY, "119", on=dt.date(2024, 6, 1))}
    assert "03751" not in {c.code for c in gazetteer.children(LEGACY, "119",
                                                              on=dt.date(2025, 6, 1))}


def test_a_commune_created_after_2020_is_refused_before_it_existed(
    gazetteer: Gazetteer,
) -> None:
    moc_ly = gazetteer.get(LEGACY, "03980")  # a ward of Mộc Châu town, made in 2025
    assert moc_ly is not None
    assert moc_ly.valid_until is None  # in the 2025-06-30 list
    assert moc_ly.valid_from == dt.date(2025, 1, 5)  # not in the list of 2025-01-04
    assert not gazetteer.valid_on(LEGACY, "03980", dt.date(2024, 6, 1))
    assert gazetteer.valid_on(LEGACY, "03980", dt.date(2025, 6, 30))
    assert moc_ly in gazetteer.children(LEGACY, "123")  # a current child, on no day given
    assert moc_ly not in gazetteer.children(LEGACY, "123", on=dt.date(2024, 6, 1))


def test_a_district_dissolved_in_2024_keeps_its_former_communes(gazetteer: Gazetteer) -> None:
    """Yên Dũng (Bắc Giang) was merged into other districts at the end of 2024: a district
    report of 2023 names it, and its communes that are gone with it roll up through it."""
    yen_dung = gazetteer.get(LEGACY, "221")
    assert yen_dung is not None
    assert (yen_dung.name, yen_dung.level, yen_dung.parent) == (
        "Huyện Yên Dũng", Level.DISTRICT, "24")
    assert gazetteer.valid_on(LEGACY, "221", dt.date(2023, 6, 1))
    assert not gazetteer.valid_on(LEGACY, "221", dt.date(2025, 6, 1))
    assert "221" not in {d.code for d in gazetteer.children(LEGACY, "24")}
    assert "221" in {d.code for d in gazetteer.former_children(LEGACY, "24")}
    former = gazetteer.former_children(LEGACY, "221")
    assert former and all(c.level is Level.COMMUNE for c in former)
    assert gazetteer.ancestors(LEGACY, former[0].code) == (former[0].code, "221", "24", NATION)
    assert gazetteer.children(LEGACY, "221") == []


def test_the_earliest_map_is_the_list_of_2020_taken_from_2020_01_01(
    gazetteer: Gazetteer,
) -> None:
    assert dt.date(2020, 1, 1) == EARLIEST_MAP_DATE
    assert legacy_history()["sources"][0]["date"] == "2020-02-25"
    binh_khanh = gazetteer.get(LEGACY, "27103")  # Thủ Đức, gone by 2021-02-03
    assert binh_khanh is not None
    assert binh_khanh.valid_from is None
    assert binh_khanh.in_force_on(EARLIEST_MAP_DATE)
    assert not binh_khanh.in_force_on(dt.date(2021, 2, 3))


def test_the_history_names_its_sources_and_their_sha256() -> None:
    sources = legacy_history()["sources"]
    assert [s["date"] for s in sources] == sorted(s["date"] for s in sources)
    assert {(s["package"], s["version"]) for s in sources} >= {
        ("vietnam-provinces", "0.2.2"), ("vietnam-provinces", "0.4.3"),
        ("vietnam-provinces", "0.5.0"), ("vietnam-provinces", "0.6.0"),
        ("dvhcvn", "1.2.20250301")}
    assert all(re.fullmatch(r"[0-9a-f]{64}", s["sha256"]) for s in sources)
    assert all(s["file"] and s["licence"] for s in sources)
    final = sources[-1]
    assert (final["package"], final["date"]) == ("vietnamadminunits", "2025-06-30")
    assert final["version"] == installed_version()  # else: run the build script again


def test_the_history_agrees_with_the_list_of_2025_06_30(gazetteer: Gazetteer) -> None:
    """Units gone by 2025-06-30 are not in vietnamadminunits' list, those created later
    are; each gone unit is a locality with its bounds, under a known parent."""
    listed = {code for row in query("SELECT provinceCode, districtCode, wardCode "
                                    "FROM admin_units_legacy") for code in row if code}
    units = legacy_history()["units"]
    gone = {code for code, unit in units.items() if "until" in unit}
    assert not gone & listed
    assert {code for code in units if code not in gone} <= listed
    communes = {code for code in gone if units[code]["level"] == "commune"}
    assert len(communes) > 800
    assert len(gone - communes) == 17  # districts merged away in 2020-2024
    for code in gone:
        loc = gazetteer.get(LEGACY, code)
        assert loc is not None
        assert loc.valid_until is not None
        assert loc.valid_from is None or loc.valid_from < loc.valid_until
        assert gazetteer.ancestors(LEGACY, code)[-1] == NATION


@pytest.mark.parametrize(("district", "town", "spelling"), [
    ("137", "04456", "Mù Căng Chải"),
    ("610", "23341", "Đắk Glei"),
    ("612", "23401", "Đắk Tô"),
    ("652", "24412", "M'Đrắk"),
])
def test_a_district_and_its_township_share_the_official_spelling(
    gazetteer: Gazetteer, district: str, town: str, spelling: str,
) -> None:
    d, t = gazetteer.get(LEGACY, district), gazetteer.get(LEGACY, town)
    assert d is not None
    assert t is not None
    assert (d.name, t.name) == (f"Huyện {spelling}", f"Thị trấn {spelling}")


def test_renamed_units_keep_their_newer_name(gazetteer: Gazetteer) -> None:
    """Names the 2025-06-30 list changed after the official list of 2025-01-04 (a commune
    made a ward, a district a town) are not spellings: they stay."""
    moc_chau = gazetteer.get(LEGACY, "123")
    moc_son = gazetteer.get(LEGACY, "03979")
    assert moc_chau is not None
    assert moc_son is not None
    assert (moc_chau.name, moc_son.name) == ("Thị xã Mộc Châu", "Phường Mộc Sơn")


# --- a hand-built gazetteer -----------------------------------------------------------------


@pytest.fixture
def tiny() -> Gazetteer:
    def loc(admin_map: AdminMap, code: str, level: Level, parent: str | None) -> Locality:
        return Locality(admin_map, code, f"{admin_map}-{code}", level, parent)

    return Gazetteer([
        loc(LEGACY, NATION, Level.NATION, None),
        loc(LEGACY, "01", Level.PROVINCE, NATION),
        loc(LEGACY, "002", Level.DISTRICT, "01"),
        loc(LEGACY, "001", Level.DISTRICT, "01"),
        loc(LEGACY, "00009", Level.COMMUNE, "001"),
        loc(LEGACY, "00003", Level.COMMUNE, "001"),
        loc(Y2025, NATION, Level.NATION, None),
        loc(Y2025, "01", Level.PROVINCE, NATION),
        loc(Y2025, "00009", Level.COMMUNE, "01"),
    ])


def test_tiny_lookups_are_per_map(tiny: Gazetteer) -> None:
    assert len(tiny) == 9
    legacy = tiny.get(LEGACY, "00009")
    new = tiny.get(Y2025, "00009")
    assert legacy is not None
    assert new is not None
    assert (legacy.name, legacy.parent) == ("legacy-00009", "001")
    assert (new.name, new.parent) == ("2025-00009", "01")
    assert tiny.get(Y2025, "001") is None


def test_tiny_children_are_sorted_by_code(tiny: Gazetteer) -> None:
    assert [c.code for c in tiny.children(LEGACY, "01")] == ["001", "002"]
    assert [c.code for c in tiny.children(LEGACY, "001")] == ["00003", "00009"]
    assert tiny.children(LEGACY, "002") == []
    assert [c.code for c in tiny.children(Y2025, "01")] == ["00009"]


def test_tiny_children_are_a_copy(tiny: Gazetteer) -> None:
    tiny.children(LEGACY, "01").clear()
    assert len(tiny.children(LEGACY, "01")) == 2


def test_tiny_validity_bounds() -> None:
    day = dt.date
    gazetteer = Gazetteer([
        Locality(LEGACY, NATION, "VN", Level.NATION, None),
        Locality(LEGACY, "01", "p", Level.PROVINCE, NATION),
        Locality(LEGACY, "001", "d", Level.DISTRICT, "01"),
        Locality(LEGACY, "00001", "old", Level.COMMUNE, "001", None, day(2021, 2, 3)),
        Locality(LEGACY, "00002", "new", Level.COMMUNE, "001", day(2020, 2, 26)),
        Locality(LEGACY, "00003", "both", Level.COMMUNE, "001", day(2021, 1, 1), day(2022, 1, 1)),
    ])
    assert [c.code for c in gazetteer.children(LEGACY, "001")] == ["00002"]
    assert [c.code for c in gazetteer.former_children(LEGACY, "001")] == ["00001", "00003"]
    assert [c.code for c in gazetteer.children(LEGACY, "001", on=day(2020, 1, 1))] == ["00001"]
    assert [c.code for c in gazetteer.children(LEGACY, "001", on=day(2021, 2, 2))] == [
        "00001", "00002", "00003"]
    assert [c.code for c in gazetteer.children(LEGACY, "001", on=day(2022, 1, 1))] == ["00002"]
    assert gazetteer.valid_on(LEGACY, "00002", day(2020, 2, 26))
    assert not gazetteer.valid_on(LEGACY, "00002", day(2020, 2, 25))
    assert gazetteer.valid_on(LEGACY, "00001", day(2021, 2, 2))
    assert not gazetteer.valid_on(LEGACY, "00001", day(2021, 2, 3))
    assert not gazetteer.valid_on(LEGACY, "99999", day(2021, 2, 2))
    assert gazetteer.valid_on(LEGACY, "001", day(1990, 1, 1))  # no bounds: always
    assert gazetteer.ancestors(LEGACY, "00001") == ("00001", "001", "01", NATION)


def test_tiny_ancestors_and_province(tiny: Gazetteer) -> None:
    assert tiny.ancestors(LEGACY, "00009") == ("00009", "001", "01", NATION)
    assert tiny.ancestors(Y2025, "00009") == ("00009", "01", NATION)
    assert tiny.province_of(LEGACY, "00003") == "01"
    assert tiny.province_of(LEGACY, "002") == "01"
    assert tiny.province_of(Y2025, "01") == "01"
    assert tiny.province_of(Y2025, NATION) == NATION
    with pytest.raises(KeyError):
        tiny.ancestors(Y2025, "001")
