"""vietnamadminunits' data read directly and through its public API
(``cungdan_contracts.admin_units_data``) are the same rows; an untested version or a
missing file takes the public API; when nothing works, the error says what."""

from __future__ import annotations

from pathlib import Path

import pytest

from cungdan_contracts import admin_units_data as data
from cungdan_service import provinces

QUERIES = [
    "SELECT provinceCode, province, districtCode, district, wardCode, ward "
    "FROM admin_units_legacy ORDER BY provinceCode, districtCode, wardCode",
    "SELECT provinceCode, province, wardCode, ward FROM admin_units "
    "ORDER BY provinceCode, wardCode",
    "SELECT DISTINCT provinceKey, provinceCode FROM admin_units_legacy",
    "SELECT provinceCode, districtCode, wardCode FROM admin_units_legacy",
]


def test_the_installed_version_is_one_tested_with_its_files_in_place() -> None:
    """An upgrade past TESTED, or one that moves the files, fails here (the gazetteer
    would be read through the public API: the same rows, more slowly)."""
    assert data.is_tested(data.installed_version())
    assert data.data_file(data.DATASET) is not None
    assert data.data_file(data.MERGERS) is not None


@pytest.mark.parametrize("sql", QUERIES)
def test_the_public_api_gives_the_same_rows(sql: str) -> None:
    rows = data.query(sql)
    assert len(rows) > 30
    assert data.public_query(sql) == rows


def test_the_public_api_gives_the_same_mergers() -> None:
    mergers = data.province_mergers()
    assert len(mergers) == 34 and sum(map(len, mergers.values())) == 63
    assert data.public_province_mergers() == mergers


def test_an_untested_version_reads_through_the_public_api(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    expected = dict(provinces.legacy_successors())
    monkeypatch.setattr(data, "TESTED", ((0, 1), (0, 1)))
    data.data_file.cache_clear()
    provinces.legacy_successors.cache_clear()
    try:
        assert data.data_file(data.DATASET) is None
        assert provinces.legacy_successors() == expected
        assert "public API" in caplog.text
    finally:
        data.data_file.cache_clear()
        provinces.legacy_successors.cache_clear()


def test_a_missing_file_is_read_through_the_public_api() -> None:
    assert data.data_file(Path("data") / "moved.db") is None


def test_when_nothing_works_the_error_names_the_package(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def gone(name: str) -> object:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(data, "import_module", gone)
    with pytest.raises(RuntimeError, match=r"vietnamadminunits 1\.0\.\d+ .*tested with 1\.0"):
        data.public_query("SELECT 1")
    with pytest.raises(RuntimeError, match="province mergers"):
        data.public_province_mergers()


def test_without_the_package_the_error_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match="vietnamadminunits package is not installed"):
        data.data_file(Path("data") / "elsewhere.db")


def test_without_its_file_the_commune_conversion_names_the_package(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The public API converts one address to one commune and cannot tell a split: no
    fallback, an error that names the package and the file."""
    monkeypatch.setattr(data, "data_file", lambda relative: None)
    with pytest.raises(RuntimeError,
                       match=r"commune conversion of vietnamadminunits .*converter_2025\.json"):
        data.ward_mergers()


def test_the_commune_conversion_is_read_from_the_package() -> None:
    whole, split = data.ward_mergers()
    assert len(whole) == 34 and len(split) <= 34
    assert sum(len(olds) for communes in whole.values() for olds in communes.values()) > 9000
