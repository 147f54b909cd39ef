"""The ActivityReport / ActivityLogged contracts: validation, exact decimals, fingerprint, codec,
committed JSON Schemas and the catalogs against the domain brief."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.factories import report as raw_report

from cungdan_contracts import (
    CAMPAIGNS,
    INDICATORS,
    ActivityLoggedV2,
    ActivityReportV2,
    AdminMap,
    MalformedJSONError,
    UnitKind,
    decode_event,
    encode_event,
    format_decimal,
    from_units,
    loads_exact,
    report_from_json,
    schemas,
    to_units,
)
from cungdan_contracts import ActivityLoggedV1 as ActivityLogged
from cungdan_contracts import ActivityReportV1 as ActivityReport
from cungdan_contracts.catalog import V1_INDICATORS
from cungdan_contracts.quantities import MAX_QUANTITY
from cungdan_ingest.validation import problems_of

REPO_ROOT = Path(__file__).resolve().parents[2]
DOMAIN_MD = REPO_ROOT.parent / "shared" / "DOMAIN.md"
SCHEMA_DIR = REPO_ROOT / "contracts" / "schemas"
RECORDED_AT = dt.datetime(2025, 9, 1, 3, 0, tzinfo=dt.UTC)
ID = "0b6f2a52-5d1e-4a8e-9a59-2b8f6f3c1d01"
"""One id for the reports whose fingerprints are compared (the id is part of the content)."""


def problems(raw: dict[str, Any]) -> dict[str, str]:
    """field -> reason of every problem of ``raw``; fails if ``raw`` is valid."""
    with pytest.raises(ValidationError) as info:
        ActivityReport.model_validate(raw)
    return {p.field: p.reason for p in problems_of(info.value)}


def event_of(report: ActivityReport, admin_map: AdminMap = AdminMap.LEGACY,
             province: str = "15") -> ActivityLogged:
    return ActivityLogged(recorded_at=RECORDED_AT, source_province=province, map=admin_map,
                          activity=report)


# --- validation: each problem names its field and says why -------------------------------


def test_valid_report_is_accepted_with_exact_quantities() -> None:
    report = ActivityReport.model_validate(raw_report(locality="137", date="2023-06-30"))
    assert report.locality == "137"
    assert report.date == dt.date(2023, 6, 30)
    assert report.measures == {"road_km": Decimal("1.5"), "citizen_turns": Decimal("120")}
    assert all(isinstance(q, Decimal) for q in report.measures.values())


def test_unknown_campaign_names_field_and_lists_known_codes() -> None:
    found = problems(raw_report(campaign="weekend-fun"))
    assert list(found) == ["campaign"]
    assert "unknown campaign 'weekend-fun'" in found["campaign"]
    assert "dan-van-kheo" in found["campaign"]


def test_unknown_indicator_is_reported_under_measures_dot_code() -> None:
    found = problems(raw_report(measures={"road_miles": 3, "workdays": 1}))
    assert list(found) == ["measures.road_miles"]
    assert "unknown indicator 'road_miles'" in found["measures.road_miles"]


@pytest.mark.parametrize("value", [-1, "-0.5", Decimal("-3")])
def test_negative_quantity_is_refused(value: object) -> None:
    found = problems(raw_report(measures={"road_km": value}))
    assert list(found) == ["measures.road_km"]
    assert "cannot be negative" in found["measures.road_km"]


def test_float_from_python_is_refused_even_when_it_looks_exact() -> None:
    for value in (0.1, 1.0):
        found = problems(raw_report(measures={"road_km": value}))
        assert found == {
            "measures.road_km": "a quantity must be a JSON number or a decimal string"}


def test_bool_is_not_a_quantity() -> None:
    found = problems(raw_report(measures={"workdays": True}))
    assert "JSON number or a decimal string" in found["measures.workdays"]


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_nan_and_infinity_are_refused(value: object) -> None:
    found = problems(raw_report(measures={"road_km": value}))
    assert found == {"measures.road_km": "a quantity must be finite"}


@pytest.mark.parametrize("text", ['{"road_km": NaN}', '{"road_km": Infinity}',
                                  '{"road_km": -Infinity}'])
def test_nan_and_infinity_literals_are_not_json(text: str) -> None:
    with pytest.raises(MalformedJSONError, match="is not allowed"):
        loads_exact(text)


@pytest.mark.parametrize("value", ["abc", "1,5", "", "1.2.3", "0x10", "NaN", "Infinity",
                                   "1e2", "1_000", ".5", "２", "sNaN"])
def test_non_decimal_string_is_refused(value: str) -> None:
    found = problems(raw_report(measures={"road_km": value}))
    assert found == {
        "measures.road_km": f"'{value}' is not a plain decimal number such as 12 or 1.5"}


def test_quantity_above_the_maximum_is_refused() -> None:
    found = problems(raw_report(measures={"workdays": MAX_QUANTITY + 1}))
    assert "cannot exceed" in found["measures.workdays"]
    accepted = ActivityReport.model_validate(raw_report(measures={"workdays": MAX_QUANTITY}))
    assert accepted.measures["workdays"] == MAX_QUANTITY


def test_too_many_decimal_places_for_the_indicator_scale() -> None:
    found = problems(raw_report(measures={"road_km": "1.2345", "workdays": 1}))
    assert found == {
        "measures.road_km": "road_km takes at most 3 decimal places (unit: km); got 1.2345"}
    # terraced_field_ha has scale 4: four places are fine, five are not
    ok = ActivityReport.model_validate(raw_report(measures={"terraced_field_ha": "0.1234"}))
    assert ok.measures["terraced_field_ha"] == Decimal("0.1234")
    found = problems(raw_report(measures={"terraced_field_ha": "0.12345"}))
    assert "at most 4 decimal places" in found["measures.terraced_field_ha"]


def test_integer_indicators_take_whole_numbers_only() -> None:
    found = problems(raw_report(measures={"donations_vnd": "2400000000.5"}))
    assert found == {"measures.donations_vnd":
                     "donations_vnd takes whole numbers (unit: VND); got 2400000000.5"}
    # trailing zeros are not extra precision
    ok = ActivityReport.model_validate(raw_report(measures={"workdays": "500.000"}))
    assert ok.measures["workdays"] == 500


def test_precision_check_is_exact_beyond_28_significant_digits() -> None:
    found = problems(raw_report(measures={"workdays": "1.000000000000000000000000000001"}))
    assert "takes whole numbers" in found["measures.workdays"]


@pytest.mark.parametrize("code", ["1", "1234", "123456", "vn", "Vn", "ab", "0123a", " 15x"])
def test_bad_locality_format(code: str) -> None:
    found = problems(raw_report(locality=code))
    assert list(found) == ["locality"]
    assert "is not a locality code" in found["locality"]


@pytest.mark.parametrize("code", ["VN", "15", "137", "04495", " 137 "])
def test_good_locality_formats(code: str) -> None:
    assert ActivityReport.model_validate(raw_report(locality=code)).locality == code.strip()


def test_extra_field_is_refused() -> None:
    found = problems(raw_report(province="15"))
    assert list(found) == ["province"]
    assert "Extra inputs are not permitted" in found["province"]


def test_missing_fields_are_each_named() -> None:
    found = problems(raw_report(id=..., campaign=..., locality=..., date=..., unit=...,
                                measures=...))
    assert set(found) == {"id", "campaign", "locality", "date", "unit", "measures"}
    assert set(found.values()) == {"Field required"}


def test_note_is_optional() -> None:
    assert ActivityReport.model_validate(raw_report()).note is None


def test_empty_measures_are_refused() -> None:
    found = problems(raw_report(measures={}))
    assert list(found) == ["measures"]
    assert "at least 1 item" in found["measures"]


@pytest.mark.parametrize(("field", "value"), [("id", "not-a-uuid"), ("date", "2023-02-30"),
                                              ("unit", "   "), ("unit", "x" * 301)])
def test_other_field_problems_name_the_field(field: str, value: str) -> None:
    assert list(problems(raw_report(**{field: value}))) == [field]


def test_several_problems_are_reported_together() -> None:
    found = problems(raw_report(campaign="nope", locality="1",
                                measures={"road_km": "-1", "x": 1}))
    assert set(found) == {"campaign", "locality", "measures.road_km", "measures.x"}


# --- exact decimals ------------------------------------------------------------------------


def test_loads_exact_sums_point_one_and_point_two_exactly() -> None:
    a = loads_exact('{"road_km": 0.1}')["road_km"]
    b = loads_exact(b'{"road_km": 0.2}')["road_km"]
    assert isinstance(a, Decimal)
    assert a + b == Decimal("0.3")
    assert to_units(a, 3) + to_units(b, 3) == 300


def test_loads_exact_keeps_a_long_json_number_exact() -> None:
    value = loads_exact('{"road_km": 123456789.123}')["road_km"]
    assert value == Decimal("123456789.123")
    assert str(value) == "123456789.123"
    assert to_units(value, 3) == 123456789123
    report = ActivityReport.model_validate(raw_report(measures={"road_km": value}))
    assert json.loads(report.model_dump_json())["measures"]["road_km"] == "123456789.123"


def test_loads_exact_leaves_integers_as_int_and_rejects_garbage() -> None:
    assert loads_exact('{"workdays": 500}') == {"workdays": 500}
    with pytest.raises(MalformedJSONError):
        loads_exact('{"road_km": 0.1')
    with pytest.raises(MalformedJSONError):
        loads_exact(b"\xff\xfe{}")


@pytest.mark.parametrize(("number", "scale", "units"), [
    (Decimal("1.5"), 3, 1500), (Decimal("0.001"), 3, 1), (Decimal("150"), 4, 1500000),
    (Decimal("2400000000"), 0, 2400000000), (Decimal("0"), 3, 0), (Decimal("1E+2"), 0, 100),
    (Decimal("7.000"), 0, 7),
])
def test_to_units_and_back(number: Decimal, scale: int, units: int) -> None:
    assert to_units(number, scale) == units
    assert from_units(units, scale) == number


def test_to_units_refuses_extra_places() -> None:
    with pytest.raises(ValueError, match="more than 3 decimal places"):
        to_units(Decimal("1.0001"), 3)
    with pytest.raises(ValueError, match="more than 0 decimal places"):
        to_units(Decimal("0.5"), 0)


def test_to_units_never_rounds() -> None:
    with pytest.raises(ValueError, match="decimal places"):
        to_units(Decimal("1.000000000000000000000000000001"), 0)


def test_point_one_plus_point_two_in_units() -> None:
    assert to_units(Decimal("0.1") + Decimal("0.2"), 3) == 300
    assert from_units(300, 3) == Decimal("0.3")


@pytest.mark.parametrize(("number", "text"), [
    (Decimal("150.000"), "150"), (Decimal("1E+3"), "1000"), (Decimal("0.10"), "0.1"),
    (Decimal("0E-7"), "0"), (Decimal("123456789012.123"), "123456789012.123"),
])
def test_format_decimal(number: Decimal, text: str) -> None:
    assert format_decimal(number) == text


# --- fingerprint ----------------------------------------------------------------------------


def test_fingerprint_ignores_how_quantities_are_written() -> None:
    prints = {ActivityReport.model_validate(raw_report(id=ID, measures={"workdays": q}))
              .fingerprint() for q in ("1.0", 1, "1", Decimal("1.00"), " 1 ")}
    assert len(prints) == 1


def test_fingerprint_ignores_key_order() -> None:
    raw = raw_report(measures={"road_km": "6", "workdays": 500}, note="x")
    reordered = dict(reversed(list(raw.items())))
    reordered["measures"] = {"workdays": 500, "road_km": "6.000"}
    assert list(reordered) != list(raw)
    a = ActivityReport.model_validate(raw).fingerprint()
    b = ActivityReport.model_validate(reordered).fingerprint()
    assert a == b
    assert re.fullmatch(r"[0-9a-f]{64}", a)


@pytest.mark.parametrize("change", [
    {"measures": {"road_km": "6.001", "workdays": 500}},
    {"measures": {"road_km": "6"}},
    {"campaign": "dan-van-kheo"},
    {"locality": "137"},
    {"date": "2023-07-01"},
    {"unit": "Huyện đoàn"},
    {"note": "ghi chú"},
    {"id": str(uuid.UUID(int=1))},
])
def test_fingerprint_differs_for_different_content(change: dict[str, Any]) -> None:
    base = ActivityReport.model_validate(raw_report(id=ID)).fingerprint()
    assert ActivityReport.model_validate(raw_report(**{"id": ID, **change})).fingerprint() != base


def test_minus_zero_is_the_same_content_as_zero() -> None:
    zero = ActivityReport.model_validate(raw_report(id=ID, measures={"workdays": "0"}))
    minus = ActivityReport.model_validate(raw_report(id=ID, measures={"workdays": "-0"}))
    assert minus.fingerprint() == zero.fingerprint()


# --- codec ----------------------------------------------------------------------------------


def _walk(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _walk(v)]
    if isinstance(value, list):
        return [x for v in value for x in _walk(v)]
    return [value]


def test_encode_decode_round_trip_with_quantities_as_strings() -> None:
    raw = loads_exact(json.dumps(raw_report(
        measures={"road_km": 0, "workdays": 500}, note="ghi chú")).replace(
        '"road_km": 0', '"road_km": 123456789012.123'))
    event = event_of(ActivityReport.model_validate(raw))
    payload = encode_event(event)
    plain = json.loads(payload)  # a float-happy reader: still no float anywhere
    assert not any(isinstance(v, float) for v in _walk(plain))
    assert plain["activity"]["measures"] == {
        "road_km": "123456789012.123", "workdays": "500"}
    assert plain["type"] == "ActivityLogged"
    assert plain["version"] == 1
    assert plain["map"] == "legacy"
    assert plain["activity"]["note"] == "ghi chú"
    decoded = decode_event(payload)  # read back in the current shape (v2), upcast
    assert isinstance(decoded, ActivityLoggedV2)
    assert decoded.id == uuid.UUID(raw["id"])
    assert decoded.activity.measures == event.activity.measures
    assert decoded.activity.measures["road_km"] == Decimal("123456789012.123")
    assert (decoded.activity.unit.name, decoded.activity.unit.kind) == (
        event.activity.unit, UnitKind.MILITARY)
    assert (decoded.recorded_at, decoded.map, decoded.reported_by) == (
        event.recorded_at, event.map, None)


def test_decode_event_refuses_bad_payloads() -> None:
    good = json.loads(encode_event(event_of(ActivityReport.model_validate(raw_report()))))
    with pytest.raises(MalformedJSONError):
        decode_event(b"not json")
    with pytest.raises(ValidationError):
        decode_event(json.dumps({**good, "version": 2}).encode())
    with pytest.raises(ValidationError):
        decode_event(json.dumps({**good, "recorded_at": "2025-09-01T03:00:00"}).encode())
    good["activity"]["measures"]["road_km"] = "1.2345"
    with pytest.raises(ValidationError):
        decode_event(json.dumps(good).encode())


# --- committed JSON Schemas -----------------------------------------------------------------


@pytest.mark.parametrize("name", list(schemas.CONTRACTS))
def test_committed_schema_matches_the_model(name: str) -> None:
    path = SCHEMA_DIR / f"{name}.schema.json"
    assert path.is_file(), (
        f"{path} is missing; regenerate with `python -m cungdan_contracts.schemas`")
    assert path.read_text(encoding="utf-8") == schemas.render(name), (
        f"{path.name} is out of date with the model; regenerate the committed schemas with "
        f"`python -m cungdan_contracts.schemas` (from the repository root) and commit them")


def test_no_stray_schema_files() -> None:
    committed = {p.name for p in SCHEMA_DIR.glob("*.schema.json")}
    assert committed == {f"{name}.schema.json" for name in schemas.CONTRACTS}


def test_event_quantities_match_the_published_string_pattern() -> None:
    schema = json.loads((SCHEMA_DIR / "ActivityLogged.v1.schema.json").read_text("utf-8"))
    measures = schema["$defs"]["LoggedActivityV1"]["properties"]["measures"]
    pattern = next(alt["pattern"] for alt in measures["additionalProperties"]["anyOf"]
                   if alt["type"] == "string")
    report = ActivityReport.model_validate(raw_report(
        measures={"road_km": Decimal("1E+2"), "workdays": "0", "cement_tonnes": "2110.000",
                  "terraced_field_ha": Decimal("0.0001")}))
    carried = json.loads(encode_event(event_of(report)))["activity"]["measures"]
    assert carried == {"road_km": "100", "workdays": "0", "cement_tonnes": "2110",
                       "terraced_field_ha": "0.0001"}
    for text in carried.values():
        assert re.fullmatch(pattern, text), text


# --- catalogs against DOMAIN.md -------------------------------------------------------------


def _markdown_tables(text: str) -> list[list[list[str]]]:
    """Every table as rows of cells (header first, the --- separator dropped)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.strip().startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= {"-", ":"} for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _domain_table(first_header: str) -> list[list[str]]:
    if not DOMAIN_MD.is_file():
        pytest.skip(f"{DOMAIN_MD} not found (shared/ lives beside the repository)")
    tables = [t for t in _markdown_tables(DOMAIN_MD.read_text("utf-8"))
              if t[0][0] == first_header]
    assert len(tables) == 1, f"expected one table headed {first_header!r} in DOMAIN.md"
    rows = tables[0][1:]
    assert rows
    return rows


def test_every_domain_campaign_is_in_the_catalog() -> None:
    codes = [row[0] for row in _domain_table("code")]
    assert len(codes) == 5
    assert [c for c in codes if c not in CAMPAIGNS] == []


def test_every_domain_indicator_is_in_the_catalog_with_its_unit_and_precision() -> None:
    rows = _domain_table("indicator code")
    assert len(rows) == 25
    assert [row[0] for row in rows if row[0] not in INDICATORS] == []
    for code, _vietnamese, unit in rows:
        indicator = INDICATORS[code]
        assert indicator.unit == unit.split(" (")[0], code
        assert (indicator.scale > 0) == ("(decimal)" in unit), code


# --- properties -----------------------------------------------------------------------------


@st.composite
def scaled_quantities(draw: st.DrawFn) -> tuple[str, Decimal]:
    indicator = draw(st.sampled_from(sorted(V1_INDICATORS)))
    scale = INDICATORS[indicator].scale
    number = draw(st.decimals(min_value=0, max_value=MAX_QUANTITY, places=scale,
                              allow_nan=False, allow_infinity=False))
    return indicator, number


@settings(max_examples=300, deadline=None)
@given(scaled_quantities())
def test_units_round_trip_exactly(item: tuple[str, Decimal]) -> None:
    indicator, number = item
    scale = INDICATORS[indicator].scale
    units = to_units(number, scale)
    assert isinstance(units, int)
    assert from_units(units, scale) == number


@settings(max_examples=150, deadline=None)
@given(scaled_quantities(), st.sampled_from(list(AdminMap)))
def test_event_codec_round_trips_every_valid_quantity(item: tuple[str, Decimal],
                                                      admin_map: AdminMap) -> None:
    indicator, number = item
    report = ActivityReport.model_validate(raw_report(measures={indicator: number}))
    payload = encode_event(event_of(report, admin_map))
    carried = json.loads(payload)["activity"]["measures"][indicator]
    assert carried == format_decimal(number)
    decoded = decode_event(payload).activity.measures[indicator]
    assert decoded == number
    assert to_units(decoded, INDICATORS[indicator].scale) == to_units(
        number, INDICATORS[indicator].scale)


def test_the_catalog_gaps_are_new_indicators_of_reports_not_of_the_v1_event() -> None:
    """Contracts 1.2: houses repaired (xóa nhà dột nát) apart from houses built, and the
    personal commitments of "Học tập và làm theo Bác". Reports of either version take them
    (a v1 report is stored as a v2 event); the v1 event, frozen, keeps the catalog of 1.0."""
    assert list(INDICATORS)[-2:] == ["houses_repaired", "commitments_registered"]
    frozen_v1 = (  # contracts 1.0's catalog, as the published v1 schemas enumerate it
        "leader_cell_visits", "cadre_turns", "citizen_turns", "workdays",
        "propaganda_sessions", "listener_turns", "party_cell_sessions", "road_km",
        "lighting_km", "self_managed_roads", "trees_planted", "flower_road_km", "flower_pots",
        "cleanup_sessions", "cleanup_road_km", "houses_built", "toilets_built",
        "cement_tonnes", "terraced_field_ha", "donations_vnd", "enterprises_founded",
        "cooperatives_founded", "cooperative_groups_founded", "models_registered",
        "models_recognised")
    assert frozen_v1 == V1_INDICATORS
    assert list(INDICATORS)[:25] == list(frozen_v1)
    measures = {"houses_repaired": 3, "houses_built": 2, "commitments_registered": 270}
    v2 = ActivityReportV2.model_validate({**raw_report(measures=measures), "version": 2,
                                          "unit": {"name": "Chi bộ", "kind": "party_cell"}})
    assert v2.measures == measures
    assert report_from_json(raw_report(measures=measures)).measures == measures
    with pytest.raises(ValidationError, match="unknown indicator 'houses_repaired' in a "
                                              "version 1 event"):
        ActivityLogged.model_validate_json(encode_event(event_of(
            ActivityReport.model_validate(raw_report(measures=measures)))))
