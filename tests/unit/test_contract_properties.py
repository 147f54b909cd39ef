"""Properties of the contracts, on generated reports (hypothesis).

- Any valid report round-trips through JSON exactly (same model, same bytes, same
  fingerprint), and through the event ingest publishes.
- Any mutation of a valid report is either valid or yields field problems, each naming
  a field and a reason: never an exception.
- Any bytes either parse as JSON or raise MalformedJSONError, nothing else.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cungdan_contracts import (
    CAMPAIGNS,
    INDICATORS,
    ActivityReport,
    ActivityReportV1,
    MalformedJSONError,
    UnitKind,
    decode_event,
    format_decimal,
    format_units,
    from_units,
    load_gazetteer,
    loads_exact,
    report_from_json,
)
from cungdan_contracts.localities import EARLIEST_MAP_DATE
from cungdan_contracts.quantities import MAX_QUANTITY
from cungdan_contracts.upcasting import upcast_report_v1_v2
from cungdan_ingest.service import to_outgoing
from cungdan_ingest.validation import FieldProblem, ValidReport, validate_report

TODAY = dt.date(2026, 1, 1)
PROPERTIES = settings(max_examples=150, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow])

_chars = st.characters(exclude_categories=("Cs",))


def _text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """Text that stays what it is after pydantic strips surrounding whitespace."""
    return st.text(_chars, min_size=min_size, max_size=max_size).filter(
        lambda s: s == s.strip() and len(s) >= min_size)


def _quantity(scale: int) -> st.SearchStrategy[Any]:
    number = st.decimals(min_value=0, max_value=MAX_QUANTITY, places=scale,
                         allow_nan=False, allow_infinity=False)
    as_int = st.integers(min_value=0, max_value=int(MAX_QUANTITY))
    return st.one_of(number, number.map(format_decimal), as_int)


@st.composite
def _measures(draw: st.DrawFn) -> dict[str, Any]:
    codes = draw(st.lists(st.sampled_from(sorted(INDICATORS)), min_size=1,
                          max_size=len(INDICATORS), unique=True))
    return {code: draw(_quantity(INDICATORS[code].scale)) for code in codes}


LOCALITIES = st.sampled_from(["VN", "15", "137", "04495", "01894", "14836", "19", "061"])
raw_reports = st.fixed_dictionaries({
    "version": st.just(2),
    "id": st.uuids().map(str),
    "campaign": st.sampled_from(sorted(CAMPAIGNS)),
    "locality": st.one_of(LOCALITIES, st.from_regex(r"\A[0-9]{5}\Z")),
    "date": st.dates(EARLIEST_MAP_DATE, TODAY).map(dt.date.isoformat),
    "unit": st.fixed_dictionaries({"name": _text(1, 300),
                                   "kind": st.sampled_from([str(k) for k in UnitKind])}),
    "measures": _measures(),
}, optional={"village": _text(1, 200), "note": _text(0, 2000)})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(_chars, max_size=50)
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)


@PROPERTIES
@given(raw_reports)
def test_a_valid_report_round_trips_through_json_exactly(raw: dict[str, Any]) -> None:
    report = ActivityReport.model_validate(raw)
    text = report.model_dump_json()
    again = ActivityReport.model_validate(loads_exact(text))
    assert again == report
    assert again.model_dump_json() == text
    assert again.fingerprint() == report.fingerprint()
    for code, quantity in report.measures.items():
        assert Decimal(str(raw["measures"][code])) == quantity  # exact, never a float


@PROPERTIES
@given(raw_reports)
def test_a_valid_report_survives_the_event_ingest_publishes(raw: dict[str, Any]) -> None:
    checked = validate_report(raw, load_gazetteer(), TODAY)
    if not isinstance(checked, ValidReport):  # e.g. a 5-digit code that is no commune
        assert [p.field for p in checked] == ["locality"]
        return
    outgoing = to_outgoing(checked, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "lao-cai")
    event = decode_event(outgoing.payload)
    assert getattr(event, "activity", None) == checked.report
    assert outgoing.headers["Cungdan-Fingerprint"] == checked.report.fingerprint()


@st.composite
def _v1_reports(draw: st.DrawFn) -> dict[str, Any]:
    """v1 reports (a free-text unit, no version, no village), their units padded with
    whitespace pydantic strips (a tab) and does not strip (U+001C) around a kind's hint."""
    raw = {k: v for k, v in draw(raw_reports).items() if k not in ("version", "village")}
    name = draw(st.one_of(_text(1, 300), st.sampled_from(
        ["Chi bộ thôn Nà Mạ", "Hội", "Đoàn thanh niên xã", "Công an xã", "Ban CHQS huyện"])))
    pad = st.sampled_from(["", " ", "\t", "\n", "\x1c", "\x85", "\xa0", "\u3000"])
    return {**raw, "unit": draw(pad) + name + draw(pad)}


@st.composite
def _mutated(draw: st.DrawFn,
             reports: st.SearchStrategy[dict[str, Any]] = raw_reports) -> dict[str, Any]:
    raw = json.loads(json.dumps(draw(reports), default=str))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["drop", "replace", "add", "measure", "unit"]))
        key = draw(st.sampled_from(sorted(raw) or ["id"]))
        if kind == "drop":
            raw.pop(key, None)
        elif kind == "replace":
            raw[key] = draw(json_values)
        elif kind == "add":
            raw[draw(st.text(max_size=12))] = draw(json_values)
        elif kind == "measure" and isinstance(raw.get("measures"), dict):
            code = draw(st.one_of(st.sampled_from(sorted(INDICATORS)), st.text(max_size=12)))
            raw["measures"][code] = draw(json_values)
        elif kind == "unit" and isinstance(raw.get("unit"), dict):
            raw["unit"][draw(st.sampled_from(["name", "kind", "extra"]))] = draw(json_values)
    return raw


@PROPERTIES
@given(_mutated())
def test_any_mutation_is_valid_or_names_its_problems(raw: dict[str, Any]) -> None:
    checked = validate_report(raw, load_gazetteer(), TODAY)
    if isinstance(checked, ValidReport):
        return
    assert checked, "an invalid report must say why"
    for problem in checked:
        assert isinstance(problem, FieldProblem)
        assert problem.field and isinstance(problem.field, str)
        assert problem.reason and isinstance(problem.reason, str)
        json.dumps(problem.as_json())  # it can be sent back


def _v1_then_upcast(raw: dict[str, Any]) -> ActivityReport:
    """The reference reading of a v1 report: validated as v1, then upcast and validated."""
    v1 = ActivityReportV1.model_validate(raw)
    return ActivityReport.model_validate(upcast_report_v1_v2(dict(iter(v1))))


def _outcome(read: Callable[[dict[str, Any]], ActivityReport], raw: dict[str, Any]) -> Any:
    try:
        report = read(raw)
    except ValidationError as exc:
        return exc.errors(include_url=False)
    return report, report.model_dump_json(), report.fingerprint()


V1 = {"id": "0b6f2a52-5d1e-4a8e-9a59-2b8f6f3c1d01", "campaign": "dan-van-kheo",
      "locality": "01894", "date": "2023-03-04", "unit": "Chi bộ", "measures": {"cadre_turns": 1}}


@PROPERTIES
@given(st.one_of(_v1_reports(), _mutated(_v1_reports())))
@example({**V1, "unit": "Hội\t"})  # stripped: "Hội", a mass organisation (hint "hội ")
@example({**V1, "unit": "Hội\x1c"})  # kept: Python's strip() would drop U+001C
@example({**V1, "village": "Khuổi Tẩu"})  # not a v1 field
@example({**V1, "version": 1})  # v1 has no version field
@example({**V1, "unit": ""})
@example({**V1, "unit": {"name": "Hội", "kind": "other"}})
def test_a_v1_report_reads_as_v1_then_upcast_would(raw: dict[str, Any]) -> None:
    """``report_from_json`` validates a v1 report once, as v2: the same report, or the
    same problems in v1's terms, as validating it as v1 and upcasting that."""
    assert _outcome(report_from_json, raw) == _outcome(_v1_then_upcast, raw)


@PROPERTIES
@given(st.one_of(st.binary(max_size=200),
                 json_values.map(lambda v: json.dumps(v, default=str).encode())))
def test_any_bytes_parse_or_are_malformed_json(data: bytes) -> None:
    with contextlib.suppress(MalformedJSONError):  # anything else fails the test
        loads_exact(data)


_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


@PROPERTIES
@given(st.text(st.characters(exclude_categories=()), max_size=12))
@example("\ud800")
@example("a\udfffb")
@example("\U0001f333")
def test_a_string_parses_to_itself_or_is_refused_for_a_lone_surrogate(text: str) -> None:
    """In each form a client can send it: escaped, raw, and raw in UTF-8."""
    assume(_PAIR.search(text) is None)  # two halves of a pair, escaped, read back as one
    raw = json.dumps(text, ensure_ascii=False)
    lone = any("\ud800" <= c <= "\udfff" for c in text)
    for data in (json.dumps(text), raw, raw.encode("utf-8", "surrogatepass")):
        if lone:
            with pytest.raises(MalformedJSONError, match="surrogate"):
                loads_exact(data)
        else:
            assert loads_exact(data) == text


@settings(max_examples=500)
@given(st.integers(min_value=-(2**63), max_value=2**63), st.sampled_from([0, 1, 3, 4, 7]))
def test_units_format_like_their_decimal(units: int, scale: int) -> None:
    """Every amount a BIGINT total can hold."""
    assert format_units(units, scale) == format_decimal(from_units(units, scale))
