"""Localities of the two administrative maps: the real gazetteer and a hand-built one."""

from __future__ import annotations

import datetime as dt

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
    assert "Mù Căng Chải" in district.name  # the dataset's spelling
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


def test_tiny_ancestors_and_province(tiny: Gazetteer) -> None:
    assert tiny.ancestors(LEGACY, "00009") == ("00009", "001", "01", NATION)
    assert tiny.ancestors(Y2025, "00009") == ("00009", "01", NATION)
    assert tiny.province_of(LEGACY, "00003") == "01"
    assert tiny.province_of(LEGACY, "002") == "01"
    assert tiny.province_of(Y2025, "01") == "01"
    assert tiny.province_of(Y2025, NATION) == NATION
    with pytest.raises(KeyError):
        tiny.ancestors(Y2025, "001")
