"""Contract evolution: the compatibility gate, and v1 upcast to v2 by pure functions."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field, create_model

from cungdan_contracts import (
    ActivityLoggedV1,
    ActivityLoggedV2,
    ActivityReportV1,
    ActivityReportV2,
    UnitKind,
    UnknownContractError,
    decode_event,
    report_from_json,
    upcast,
)
from cungdan_contracts.compat import POLICY, Mode, check, gate
from cungdan_contracts.schemas import CONTRACTS, schema_of
from cungdan_contracts.upcasting import infer_unit_kind, upcast_logged_v1_v2, upcast_report_v1_v2

PUBLISHED = Path(__file__).resolve().parents[2] / "contracts" / "schemas" / "published"

V1_EVENT = (  # as the v1 ingest wrote it, byte for byte
    b'{"type":"ActivityLogged","version":1,"recorded_at":"2024-03-02T01:02:03.456789Z",'
    b'"source_province":"15","map":"legacy","activity":{"id":"0b6f2a52-5d1e-4a8e-9a59-'
    b'2b8f6f3c1d01","campaign":"ngay-cuoi-tuan-cung-dan","locality":"04495","date":'
    b'"2023-06-30","unit":"Ban CHQS huy\xe1\xbb\x87n","measures":{"road_km":"6","workdays":'
    b'"500"},"note":null}}'
)


def published(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((PUBLISHED / f"{name}.schema.json").read_text("utf-8"))
    return schema


def test_every_published_schema_passes_the_gate() -> None:
    results = gate(PUBLISHED)
    assert set(results) == set(CONTRACTS)  # every version ever published is still modelled
    assert {name: problems for name, problems in results.items() if problems} == {}


def test_every_contract_has_a_policy() -> None:
    assert set(POLICY) == set(CONTRACTS)


def test_a_new_required_field_breaks_backward_compatibility() -> None:
    broken = create_model("ActivityReportV2", __base__=ActivityReportV2,
                          funding_source=(str, Field(min_length=1)))
    problems = check(published("ActivityReport.v2"), schema_of(broken), Mode.BACKWARD)
    assert problems == ["BACKWARD: $.funding_source: newly required"]


def test_an_optional_field_in_a_frozen_v1_event_breaks_full_compatibility() -> None:
    grown = create_model("ActivityLogged", __base__=ActivityLoggedV1,
                         reported_by=(str | None, None))
    assert check(published("ActivityLogged.v1"), schema_of(grown), Mode.BACKWARD) == []
    assert check(published("ActivityLogged.v1"), schema_of(grown),
                 POLICY["ActivityLogged.v1"]) == [
        "FORWARD: $.reported_by: field no longer accepted"]


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda s: s["properties"]["campaign"]["enum"].remove("xuan-tinh-nguyen"),
     "$.campaign: values no longer accepted: ['xuan-tinh-nguyen']"),
    (lambda s: s["properties"]["note"]["anyOf"][0].update(maxLength=100),
     "$.note: maxLength tightened to 100"),
    (lambda s: s["properties"]["date"].update(type="integer", format=None),
     "$.date: type ['string'] no longer accepted"),
    (lambda s: s["properties"].pop("note"), "$.note: field no longer accepted"),
    (lambda s: s["properties"]["locality"].update(pattern="^[0-9]{5}$"),
     "$.locality: pattern changed to '^[0-9]{5}$'"),
])
def test_breaking_schema_edits_fail_the_gate(mutate: Any, expected: str) -> None:
    old = published("ActivityReport.v1")
    new = copy.deepcopy(old)
    mutate(new)
    assert f"BACKWARD: {expected}" in check(old, new, Mode.BACKWARD)


def test_growing_a_catalog_is_backward_but_not_forward_compatible() -> None:
    old = published("ActivityReport.v2")
    new = copy.deepcopy(old)
    new["properties"]["campaign"]["enum"].append("mua-he-xanh")
    assert check(old, new, Mode.BACKWARD) == []
    assert check(old, new, Mode.FORWARD) == [
        "FORWARD: $.campaign: values no longer accepted: ['mua-he-xanh']"]


# --- upcasting ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "kind"), [
    ("Ban CHQS huyện", UnitKind.MILITARY),
    ("Ban Chỉ huy Quân sự huyện Mù Cang Chải", UnitKind.MILITARY),
    ("Công an huyện", UnitKind.POLICE),
    ("Đồn Biên phòng Na Mèo", UnitKind.BORDER_GUARD),
    ("Chi bộ thôn Khuổi Tẩu", UnitKind.PARTY_CELL),
    ("Đảng ủy xã Phúc Lộc", UnitKind.PARTY_COMMITTEE),
    ("Đảng uỷ xã Sơn Thủy", UnitKind.PARTY_COMMITTEE),
    ("Khối Đảng - đoàn thể", UnitKind.PARTY_COMMITTEE),
    ("Hội Liên hiệp Phụ nữ", UnitKind.MASS_ORGANISATION),
    ("Mặt trận Tổ quốc xã", UnitKind.MASS_ORGANISATION),
    ("Đoàn Thanh niên xã Sơn Thủy", UnitKind.YOUTH_UNION),
    ("UBND phường Trường Sơn", UnitKind.GOVERNMENT),
    ("Cá nhân: ông Lý A Chứ", UnitKind.INDIVIDUAL),
    ("Nhóm bạn trẻ", UnitKind.OTHER),
])
def test_unit_kind_is_inferred_from_v1_free_text(name: str, kind: UnitKind) -> None:
    assert infer_unit_kind(name) is kind


def test_upcasters_are_pure_and_chain_to_the_current_version() -> None:
    v1 = json.loads(V1_EVENT)
    frozen = copy.deepcopy(v1)
    lifted = upcast(v1)
    assert v1 == frozen  # the input is not touched
    assert lifted == upcast_logged_v1_v2(v1)
    assert lifted["version"] == 2 and lifted["reported_by"] is None
    assert lifted["activity"]["unit"] == {"name": "Ban CHQS huyện", "kind": "military"}
    assert lifted["activity"]["village"] is None
    assert upcast(lifted) == lifted  # current: nothing to do


def test_a_v1_event_from_the_log_reads_as_v2_with_the_same_figures() -> None:
    old = ActivityLoggedV1.model_validate_json(V1_EVENT)
    new = decode_event(V1_EVENT)
    assert isinstance(new, ActivityLoggedV2)
    assert (new.id, new.map, new.source_province, new.recorded_at) == (
        old.id, old.map, old.source_province, old.recorded_at)
    assert new.activity.measures == old.activity.measures
    assert (new.activity.locality, new.activity.date, new.activity.campaign) == (
        old.activity.locality, old.activity.date, old.activity.campaign)


def test_unknown_versions_and_types_are_refused_by_name() -> None:
    with pytest.raises(UnknownContractError, match="version 9"):
        upcast({**json.loads(V1_EVENT), "version": 9})
    with pytest.raises(UnknownContractError, match="unknown event type"):
        upcast({"type": "ActivityExploded", "version": 1})


def test_reports_of_both_versions_become_the_current_shape() -> None:
    v1 = {"id": "0b6f2a52-5d1e-4a8e-9a59-2b8f6f3c1d01", "campaign": "dan-van-kheo",
          "locality": "01894", "date": "2023-03-04", "unit": "Chi bộ thôn Khuổi Tẩu",
          "measures": {"models_registered": 1}}
    from_v1 = report_from_json(v1)
    from_v2 = report_from_json({**upcast_report_v1_v2(v1), "village": "Khuổi Tẩu"})
    assert from_v1.unit.kind is UnitKind.PARTY_CELL
    assert from_v2.village == "Khuổi Tẩu"
    assert from_v1.model_copy(update={"village": "Khuổi Tẩu"}) == from_v2
    assert ActivityReportV1.model_validate(v1).unit == from_v1.unit.name
    with pytest.raises(ValueError, match="unsupported report version 3"):
        report_from_json({**v1, "version": 3})
