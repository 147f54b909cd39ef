"""The 2025 map's view of legacy reports (conversion table and read-side fold). Pure."""

from __future__ import annotations

import datetime as dt
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from cungdan_contracts import NATION, AdminMap, Level, load_gazetteer
from cungdan_contracts.conversion import Conversion, load_conversion
from cungdan_projector.reform import Converted, reform_view
from cungdan_projector.rollup import CONVERSION_VERSION, OVERALL, Facts, Tally

LEGACY, Y2025 = AdminMap.LEGACY, AdminMap.Y2025
GAZ = load_gazetteer()
CONV = load_conversion()


@cache
def localities(admin_map: AdminMap, *levels: Level, former: bool = False) -> list[str]:
    """The localities of the map's latest list (with ``former``: and of earlier ones)."""
    found, below = [], [NATION]
    while below:
        children = [c for code in below for c in GAZ.children(admin_map, code)]
        if former:
            children += [c for code in below for c in GAZ.former_children(admin_map, code)]
        found += [c.code for c in children if c.level in levels]
        below = [c.code for c in children]
    return sorted(found)


def test_every_legacy_commune_is_whole_or_split_and_stays_in_its_province() -> None:
    communes = localities(LEGACY, Level.COMMUNE)
    assert len(communes) > 10_000
    for code in communes:
        province = CONV.provinces[GAZ.province_of(LEGACY, code)]
        targets = (CONV.whole[code],) if code in CONV.whole else CONV.split[code]
        assert code not in CONV.whole or code not in CONV.split
        assert all(GAZ.province_of(Y2025, t) == province for t in targets), code
        assert len(targets) == 1 or code in CONV.split
    assert 400 < len(CONV.split) < 500  # the ~470 the statistics office lists


def test_every_province_and_island_district_converts() -> None:
    assert sorted(set(CONV.provinces.values())) == localities(Y2025, Level.PROVINCE)
    assert sorted(CONV.provinces) == localities(LEGACY, Level.PROVINCE)
    islands = [d for d in localities(LEGACY, Level.DISTRICT) if not GAZ.children(LEGACY, d)]
    assert islands and all(d in CONV.whole for d in islands)


def test_the_articles_communes_convert_as_the_domain_notes_say() -> None:
    assert CONV.whole["04495"] == "04492"  # Nậm Khắt -> Púng Luông
    assert CONV.whole["04468"] == "04456"  # Mồ Dề -> Mù Cang Chải
    assert CONV.whole["14836"] == "16531"  # Trường Sơn -> Sầm Sơn
    assert CONV.whole["05611"] == "05611"  # Đu township -> Phú Lương
    assert CONV.legacy_provinces("15") == ("10", "15")  # Lào Cai, Yên Bái
    assert "31178" in CONV.split and set(CONV.split["31178"]) == {"31120", "31168"}


Report = tuple[AdminMap, str, int]
"""A report of some units of one indicator (trees planted)."""


def _stored(reports: list[Report]) -> dict[tuple[str, str], list[int]]:
    """The all-time totals the projector's tally keeps for these reports, by (map of the
    totals, locality): one-element amounts."""
    tally = Tally()
    for m, code, units in reports:
        day = dt.date(2024, 5, 1) if m is LEGACY else dt.date(2025, 8, 1)
        tally.add(Facts(m, GAZ.ancestors(m, code), "dan-van-kheo", day,
                        {"trees_planted": units}))
    return {(m, loc): [amounts["trees_planted"]]
            for (m, loc, month, _), amounts in tally.totals().items() if month == OVERALL}


def _converted(conversion: Conversion, code: str, reports: list[Report], *,
               dated: bool = False) -> Converted:
    view = reform_view(GAZ, conversion, code, dated=dated)
    stored = _stored(reports)
    return view.fold([{c: stored[(m, c)] for c in codes if (m, c) in stored}
                      for m, codes in view.parts])


def _view(conversion: Conversion, code: str, reports: list[Report], *,
          dated: bool = False) -> dict[str, int]:
    """Each entry of the 2025 view of ``code`` (and its unattributed part), both maps:
    from the legacy activities' entries, or ``dated``: from the legacy rows."""
    stored = _stored(reports)
    converted = _converted(conversion, code, reports, dated=dated)
    entries = [code, *(c.code for c in GAZ.children(Y2025, code))]
    out = {c: stored.get((Y2025, c), [0])[0] + converted.entries.get(c, [0])[0]
           for c in entries}
    if converted.unattributed:
        out["unattributed"] = converted.unattributed[0]
    return out


legacy_reports = st.tuples(
    st.just(LEGACY),
    st.sampled_from(localities(LEGACY, Level.PROVINCE, Level.DISTRICT, Level.COMMUNE,
                               former=True)),
    st.integers(1, 1000))
communes_2025 = st.tuples(st.just(Y2025), st.sampled_from(localities(Y2025, Level.COMMUNE)),
                          st.integers(1, 1000))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(legacy_reports, communes_2025), min_size=1, max_size=40),
       st.sampled_from(localities(Y2025, Level.PROVINCE)))
def test_totals_add_up_on_the_2025_map(reports: list[Report], some_province: str) -> None:
    everything = sum(units for _, _, units in reports)
    nation = _view(CONV, NATION, reports)
    assert nation.pop(NATION) == everything
    assert sum(nation.values()) == everything
    provinces = {CONV.provinces[GAZ.province_of(LEGACY, code)] if m is LEGACY
                 else GAZ.province_of(m, code) for m, code, _ in reports} | {some_province}
    for province in provinces:
        view = _view(CONV, province, reports)
        assert _view(CONV, province, reports, dated=True) == view  # both ways agree
        assert (_converted(CONV, province, reports).sources
                == _converted(CONV, province, reports, dated=True).sources)
        total = view.pop(province)
        assert total == nation[province]
        assert sum(view.values()) == total, province
    assert _view(CONV, NATION, reports, dated=True) == _view(CONV, NATION, reports)
    for m, code, _ in reports:
        if m is Y2025:
            assert _view(CONV, code, reports, dated=True) == _view(CONV, code, reports)


def test_a_split_commune_goes_to_its_province_unattributed_never_to_a_commune() -> None:
    reports: list[Report] = [(LEGACY, "31178", 7), (LEGACY, "04495", 5), (Y2025, "04492", 1)]
    can_tho = _view(CONV, "92", reports)
    assert (can_tho.pop("92"), can_tho.pop("unattributed")) == (7, 7)
    assert not any(can_tho.values())
    lao_cai = _view(CONV, "15", reports)
    assert lao_cai["04492"] == 6 and "unattributed" not in lao_cai
    assert _view(CONV, "04492", reports) == {"04492": 6}


def test_reports_at_a_legacy_district_or_province_level_are_unattributed_with_their_source(
) -> None:
    reports: list[Report] = [(LEGACY, "137", 3), (LEGACY, "15", 2), (LEGACY, "04468", 1)]
    converted = _converted(CONV, "15", reports)
    assert converted.unattributed == [5]
    assert [(s.code, s.why, s.amounts) for s in converted.sources] == [
        ("137", "own", [3]), ("15", "own", [2])]
    assert converted.entries["04456"] == [1]


def test_a_commune_gone_before_the_reform_is_unattributed_in_its_province() -> None:
    reports: list[Report] = [(LEGACY, "03751", 4)]  # Chiềng Ly, Thuận Châu, Sơn La
    assert GAZ.get(LEGACY, "03751") is not None and "03751" not in CONV.whole
    province = CONV.provinces[GAZ.province_of(LEGACY, "03751")]
    converted = _converted(CONV, province, reports)
    assert converted.unattributed == [4]
    assert [(s.code, s.why) for s in converted.sources] == [("03751", "gone")]
    assert _view(CONV, province, reports)[province] == 4


def test_the_references_disagreements_are_decided_as_documented() -> None:
    """docs/reform.md: where vietnamadminunits and the official table disagree, the
    official table wins, read by name where its code column borrowed Cổ Bi's code."""
    assert CONV.split["00556"] == ("00541", "00562")  # Đặng Xá: Phù Đổng and Thuận An
    assert "00556" not in CONV.whole
    assert CONV.whole["31379"] == "31378"  # Phú Tân (Hậu Giang) -> Phú Hữu
    assert CONV.whole["31582"] == "31582"  # the other Phú Tân (Sóc Trăng) -> Thuận Hòa
    assert CONV.split["00553"] == ("00136", "00541", "00565")  # Cổ Bi as vietnamadminunits
    assert CONV.version.startswith("vietnamadminunits 1.0.") and "rules 1" in CONV.version


def test_the_read_model_was_built_with_this_conversion() -> None:
    """Legacy activities' 2025 entries are stored: a new conversion (a new
    vietnamadminunits, new DISAGREEMENTS) needs a rebuild. Raise PROJECTION_VERSION (the
    projector rebuilds on start) and set CONVERSION_VERSION to the new one."""
    assert CONV.version == CONVERSION_VERSION
