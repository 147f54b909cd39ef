"""End to end: the system started as `make run` starts it, driven over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tests.factories import report, stack_config
from tests.recount import decimals
from tests.waits import wait_until

from cungdan import cli
from cungdan.client import post_batches, wait_until_projected
from cungdan.demo import demo_reports
from cungdan.stack import Stack
from cungdan_contracts import NATION, AdminMap, load_gazetteer
from cungdan_contracts.conversion import load_conversion

pytestmark = pytest.mark.e2e

MCC = "137"  # Mù Cang Chải district, legacy map
LAO_CAI = "15"  # Lào Cai, 2025 map (legacy Lào Cai 10 and Yên Bái 15, Mù Cang Chải with it)
NCD = "ngay-cuoi-tuan-cung-dan"
REFORM = dt.date(2025, 7, 1)


DEMO_FIGURES = {  # name: (locality, query) of the totals the demo's figures are read from
    "mcc": (MCC, {"map": "legacy", "campaign": NCD}),
    "dvk-061": ("061", {"map": "legacy", "campaign": "dan-van-kheo"}),
    "ward-14836": ("14836", {"map": "legacy"}),
    "lao-cai-2025": (LAO_CAI, {"map": "2025", "campaign": NCD}),
}


@dataclass(frozen=True)
class Demo:
    stack: Stack
    figures: dict[str, dict[str, Any]]
    """The totals of DEMO_FIGURES as served once the demo was projected, before any test
    posted (the tests add to the demo's localities, in any order)."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    config = stack_config(tmp_path_factory.mktemp("stack"),
                          extra_env={"CUNGDAN_READ_WAIT_SECONDS": "1"})
    with Stack(config) as running, httpx.Client(
            base_url=running.projector_url, timeout=10, trust_env=False) as projector:
        counts = post_batches(running.ingest_url, demo_reports())
        wait_until_projected(running.projector_url, counts["last_seq"])
        yield Demo(running, {name: totals(projector, code, **query)
                             for name, (code, query) in DEMO_FIGURES.items()})


@pytest.fixture(scope="module")
def stack(demo: Demo) -> Stack:
    return demo.stack


@pytest.fixture
def ingest(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.ingest_url, timeout=10, trust_env=False) as client:
        yield client


@pytest.fixture
def projector(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.projector_url, timeout=10, trust_env=False) as client:
        yield client


def totals(projector: httpx.Client, code: str, min_position: int = 0,
           **params: str) -> dict[str, Any]:
    if min_position:
        wait_until_projected(str(projector.base_url), min_position)
    response = projector.get(f"/v1/totals/{code}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_demo_shows_the_articles_figures(demo: Demo) -> None:
    mcc = demo.figures["mcc"]
    assert mcc["locality"]["level"] == "district"
    assert {k: mcc["totals"][k] for k in ("road_km", "houses_built", "trees_planted",
                                           "donations_vnd", "toilets_built", "cement_tonnes")} == {
        "road_km": "150", "houses_built": "98", "trees_planted": "15000",
        "donations_vnd": "2400000000", "toilets_built": "1700", "cement_tonnes": "2110"}
    assert sum(int(c["totals"].get("houses_built", 0)) for c in mcc["children"]) <= 98
    assert demo.figures["dvk-061"]["totals"]["models_registered"] == "128"
    ward = demo.figures["ward-14836"]["totals"]
    assert (ward["flower_pots"], ward["models_recognised"]) == ("310", "7")


def test_the_2025_map_carries_the_articles_pre_reform_figures(demo: Demo) -> None:
    """Today's Lào Cai on the 2025 map: the demo's legacy reports of Yên Bái and Lào Cai,
    converted (``from_legacy``: the article's 150 km of road in Mù Cang Chải among them),
    plus the reports made on the 2025 map since the reform."""
    lao_cai = demo.figures["lao-cai-2025"]
    assert (lao_cai["basis"], lao_cai["locality"]["level"]) == ("all", "province")
    legacy_provinces = set(load_conversion().legacy_provinces(LAO_CAI))
    assert {"10", "15"} <= legacy_provinces
    campaign = [r for r in demo_reports() if r["campaign"] == NCD]
    before = _sums(r for r in campaign if _date(r) < REFORM
                   and _province(AdminMap.LEGACY, str(r["locality"])) in legacy_provinces)
    after = _sums(r for r in campaign if _date(r) >= REFORM
                  and _province(AdminMap.Y2025, str(r["locality"])) == LAO_CAI)
    assert before["road_km"] >= 150 and after["road_km"] > 0
    assert decimals(lao_cai["from_legacy"]) == before
    assert decimals(lao_cai["totals"]) == {
        k: before.get(k, Decimal(0)) + after.get(k, Decimal(0)) for k in before | after}
    children = {c["code"]: c for c in lao_cai["children"]}
    mcc = children["04456"]  # 2025 Mù Cang Chải: legacy 04456, Mồ Dề 04468, ... and its own
    assert mcc["from_legacy"] and decimals(mcc["totals"]) != decimals(mcc["from_legacy"])
    unattributed = children[None]  # the district's own reports: no 2025 commune takes them
    assert unattributed["unattributed"] is True
    assert MCC in {s["code"] for s in unattributed["sources"]}


def _date(report: dict[str, object]) -> dt.date:
    return dt.date.fromisoformat(str(report["date"]))


def _province(admin_map: AdminMap, code: str) -> str | None:
    gazetteer = load_gazetteer()
    loc = gazetteer.get(admin_map, code)
    while loc is not None and loc.parent not in (None, NATION):
        loc = gazetteer.get(admin_map, loc.parent)
    return None if loc is None else loc.code


def _sums(reports: Iterable[dict[str, object]]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for body in reports:
        measures = body["measures"]
        assert isinstance(measures, dict)
        for indicator, quantity in measures.items():
            sums[indicator] += Decimal(quantity)
    return dict(sums)


def test_report_duplicate_conflict_batch_and_district_level(
    ingest: httpx.Client, projector: httpx.Client
) -> None:
    # Fresh localities the demo does not touch: Sìn Hồ district (Lai Châu), 2023.
    commune, district = _first_commune_of(projector, "109")
    before = totals(projector, district, map="legacy")
    assert before["totals"] == {}
    # Lai Châu: other tests add to its other districts (in any order), so compare the change
    province_code = before["locality"]["parent"]
    province_before = totals(projector, province_code, map="legacy")["totals"]
    single = report(locality=commune, measures={"road_km": "0.1", "trees_planted": 10})
    accepted = ingest.post("/v1/activities", json=single)
    assert accepted.status_code == 202, accepted.text
    seq = accepted.json()["seq"]
    assert accepted.json() == {"id": single["id"], "status": "accepted", "seq": seq}
    again = ingest.post("/v1/activities", json=single)
    assert (again.status_code, again.json()) == (200, {"id": single["id"],
                                                      "status": "duplicate", "seq": seq})
    clash = ingest.post("/v1/activities", json={**single, "measures": {"road_km": "9"}})
    assert clash.status_code == 409
    assert clash.headers["content-type"] == "application/problem+json"
    batch = [
        report(locality=commune, measures={"road_km": "0.2"}),
        report(locality=commune, measures={"road_km": "-1"}),
        single,
        report(locality=district, measures={"road_km": "3", "houses_built": 2}),
        report(locality="99999", date="2023-02-01"),
    ]
    response = ingest.post("/v1/activities/batch", json=batch)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["status"] for r in body["results"]] == [
        "accepted", "rejected", "duplicate", "accepted", "rejected"]
    assert body["counts"] == {"accepted": 2, "duplicate": 1, "rejected": 2, "unavailable": 0}
    assert body["results"][1]["errors"][0]["field"] == "measures.road_km"
    assert "legacy map" in body["results"][4]["errors"][0]["reason"]
    last = max(r.get("seq", 0) for r in body["results"])
    after = totals(projector, district, min_position=last, map="legacy")
    assert after["totals"] == {"houses_built": "2", "road_km": "3.3", "trees_planted": "10"}
    child = next(c for c in after["children"] if c["code"] == commune)
    assert child["totals"] == {"road_km": "0.3", "trees_planted": "10"}
    province = totals(projector, province_code, map="legacy")["totals"]
    assert Decimal(province["road_km"]) - Decimal(province_before.get("road_km", 0)) == Decimal(
        "3.3")


def test_bad_input_gets_problem_details_never_a_500(ingest: httpx.Client) -> None:
    cases = [b'{"id": ', b"[]", b'"text"', b"\xff\xfe", b'{"measures": {"road_km": NaN}}']
    for body in cases:
        response = ingest.post("/v1/activities", content=body,
                               headers={"content-type": "application/json"})
        assert response.status_code == 422, (body, response.text)
        problem = response.json()
        assert problem["status"] == 422 and problem["errors"], problem
    future = ingest.post("/v1/activities", json=report(date="2999-01-01"))
    assert future.status_code == 422
    assert future.json()["errors"][0]["field"] == "date"


def test_a_lone_surrogate_escape_is_malformed_json_not_a_500(ingest: httpx.Client) -> None:
    """JSON may escape half of a UTF-16 pair (\\ud800); such a string is not Unicode
    text, and echoed back or stored it cannot be encoded."""
    valid = json.dumps(report(note="ok")).replace('"ok"', '"\\ud800"').encode()
    cases = [("/v1/activities", b'{"id": "\\ud800"}'),
             ("/v1/activities", valid),
             ("/v1/activities/batch", b'[{"id": "x\\udc00"}]')]
    for path, body in cases:
        response = ingest.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, (path, body, response.text)
        assert response.json()["type"] == "urn:cungdan:problem:malformed-json", response.text
        assert "surrogate" in response.text
    pair = json.dumps(report(note="ok")).replace('"ok"', '"\\ud83c\\udf33"').encode()
    tree = ingest.post("/v1/activities", content=pair, headers={"content-type": "application/json"})
    assert tree.status_code == 202, tree.text


def test_duplicates_are_recognised_after_every_process_restarted(
    stack: Stack, ingest: httpx.Client, projector: httpx.Client
) -> None:
    body = report(id=str(uuid.uuid4()), locality="01894", date="2023-03-04",
                  campaign="dan-van-kheo", measures={"models_registered": 1})
    first = ingest.post("/v1/activities", json=body)
    assert first.status_code == 202
    wait_until_projected(stack.projector_url, first.json()["seq"])
    before = totals(projector, "01894", map="legacy")["totals"]["models_registered"]
    stack.stop()
    stack.start()
    again = ingest.post("/v1/activities", json=body)
    assert (again.status_code, again.json()["seq"]) == (200, first.json()["seq"])
    assert totals(projector, "01894", map="legacy")["totals"]["models_registered"] == before


def test_read_your_writes_with_min_seq(ingest: httpx.Client, projector: httpx.Client) -> None:
    posted = ingest.post("/v1/activities", json=report(
        locality="01912", campaign="dan-van-kheo", measures={"models_registered": 2}))
    seq = posted.json()["seq"]
    fresh = projector.get("/v1/totals/01912", params={"map": "legacy", "min_seq": seq})
    assert fresh.status_code == 200
    assert fresh.json()["position"] >= seq
    too_far = projector.get("/v1/totals/01912", params={"map": "legacy", "min_seq": seq + 10**6})
    assert too_far.status_code == 503
    assert too_far.headers["Retry-After"] == "1"
    assert too_far.json()["type"] == "urn:cungdan:problem:not-yet"
    assert too_far.json()["position"] >= seq


def test_rebuild_over_http_swaps_in_identical_totals(projector: httpx.Client) -> None:
    before = totals(projector, "VN", map="legacy")
    started = projector.post("/v1/rebuild")
    assert started.status_code == 202, started.text
    assert projector.post("/v1/rebuild").status_code in (202, 409)

    def done() -> dict[str, Any] | None:
        status: dict[str, Any] = projector.get("/v1/rebuild").json()
        if status["state"] == "done":
            return status
        assert totals(projector, "VN", map="legacy")["totals"] == before["totals"]
        return None

    status = wait_until(done, "the rebuild to be done", within=60)
    assert status["percent"] == 100.0
    after = totals(projector, "VN", map="legacy")
    assert (after["totals"], after["position"]) == (before["totals"], before["position"])
    assert projector.get("/readyz").status_code == 200


def test_status_reports_stream_lag_and_freshness(stack: Stack, projector: httpx.Client) -> None:
    status = projector.get("/v1/status").json()
    wait_until_projected(stack.projector_url, status["stream"]["last_seq"])
    status = projector.get("/v1/status").json()
    assert status["lag"] == 0
    assert status["position"] == status["stream"]["last_seq"] >= len(demo_reports())
    assert status["dead_letters_pending"] == 0
    provinces = {(f["map"], f["province"]) for f in status["freshness"]}
    assert {("legacy", "15"), ("legacy", "06"), ("legacy", "38"), ("legacy", "19")} <= provinces
    assert all(f["days_silent"] < 1 for f in status["freshness"])  # all reported just now


def test_corrections_retractions_and_history(ingest: httpx.Client,
                                             projector: httpx.Client) -> None:
    commune, district = _first_commune_of(projector, "110")  # Tam Đường, Lai Châu
    original = report(locality=commune, measures={"road_km": "2.5", "trees_planted": 40})
    other = report(locality=commune, measures={"trees_planted": 7})
    v2 = {**report(locality=commune, measures={"houses_built": 1}), "version": 2,
          "village": "Bản Nà Luông", "unit": {"name": "Đồn Biên phòng", "kind": "border_guard"}}
    for body in (original, other, v2):
        assert ingest.post("/v1/activities", json=body).status_code == 202
    fix = {"id": str(uuid.uuid4()), "measures": {"road_km": "3", "trees_planted": 40},
           "reason": "đo lại bằng GPS"}
    corrected = ingest.post(f"/v1/activities/{original['id']}/corrections", json=fix)
    assert corrected.status_code == 202, corrected.text
    again = ingest.post(f"/v1/activities/{original['id']}/corrections", json=fix)
    assert (again.status_code, again.json()["seq"]) == (200, corrected.json()["seq"])
    clash = ingest.post(f"/v1/activities/{original['id']}/corrections",
                        json={**fix, "reason": "khác"})
    assert clash.status_code == 409
    gone = ingest.post(f"/v1/activities/{other['id']}/retraction", json={"reason": "báo trùng"})
    assert gone.status_code == 202, gone.text
    late = ingest.post(f"/v1/activities/{other['id']}/corrections",
                       json={**fix, "id": str(uuid.uuid4())})
    assert late.status_code == 409  # a retraction is final
    missing = ingest.post(f"/v1/activities/{uuid.uuid4()}/corrections", json=fix)
    assert missing.status_code == 404
    bad = ingest.post(f"/v1/activities/{original['id']}/corrections",
                      json={**fix, "measures": {"road_km": "-1"}})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "measures.road_km"
    garbled = ingest.post(f"/v1/activities/{original['id']}/retraction", content=b"{oops",
                          headers={"content-type": "application/json"})
    assert (garbled.status_code, garbled.json()["type"]) == (
        422, "urn:cungdan:problem:malformed-json")
    after = totals(projector, district, min_position=gone.json()["seq"], map="legacy")
    assert after["totals"] == {"houses_built": "1", "road_km": "3", "trees_planted": "40"}
    history = ingest.get(f"/v1/activities/{original['id']}").json()
    assert [h["type"] for h in history["history"]] == ["ActivityLogged", "ActivityCorrected"]
    assert history["measures"] == {"road_km": "3", "trees_planted": "40"}
    assert history["history"][1]["correction"]["reason"] == "đo lại bằng GPS"
    assert history["history"][0]["activity"]["unit"] == {"name": "Ban CHQS huyện",
                                                         "kind": "military"}
    retracted = ingest.get(f"/v1/activities/{other['id']}").json()
    assert (retracted["status"], retracted["measures"]) == ("retracted", {})
    stored_v2 = ingest.get(f"/v1/activities/{v2['id']}").json()["history"][0]
    assert stored_v2["activity"]["village"] == "Bản Nà Luông"
    assert ingest.get(f"/v1/activities/{uuid.uuid4()}").status_code == 404


def test_a_v1_report_resent_as_v2_with_the_same_content_is_a_duplicate(
    ingest: httpx.Client,
) -> None:
    body = report(unit="Công an huyện", measures={"citizen_turns": 12})
    first = ingest.post("/v1/activities", json=body)
    as_v2 = {**body, "version": 2, "village": None,
             "unit": {"name": "Công an huyện", "kind": "police"}}
    again = ingest.post("/v1/activities", json=as_v2)
    assert (again.status_code, again.json()["seq"]) == (200, first.json()["seq"])


def test_operator_commands(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--projector", stack.projector_url]) == 0
    shown = capsys.readouterr().out
    assert "stream CUNGDAN_ACTIVITY" in shown and "lag" in shown
    assert "Tỉnh Yên Bái" in shown  # a freshness row of the demo's provinces
    assert cli.main(["deadletters", "list", "--projector", stack.projector_url]) == 0
    assert capsys.readouterr().out.strip() == "no dead letters"
    assert cli.main(["rebuild", "--projector", stack.projector_url]) == 0
    assert "100.0%" in capsys.readouterr().out


def test_one_report_can_be_followed_through_the_json_logs(
    stack: Stack, ingest: httpx.Client
) -> None:
    body = report(measures={"trees_planted": 3})
    seq = ingest.post("/v1/activities", json=body).json()["seq"]
    wait_until_projected(stack.projector_url, seq)
    logs = stack.config.data_dir / "logs"

    def records(name: str) -> list[dict[str, Any]]:
        lines = (logs / name).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    [accepted] = [r for r in records("ingest.log") if r.get("event_id") == body["id"]]
    assert (accepted["seq"], accepted["status"], accepted["service"]) == (
        seq, "accepted", "ingest")
    applied = [r for r in records("projector.log")
               if r.get("seq_first", 0) <= seq <= r.get("seq_last", -1)]
    assert applied and applied[0]["service"] == "projector"


def _first_commune_of(projector: httpx.Client, district: str) -> tuple[str, str]:
    locality = projector.get(f"/v1/localities/{district}", params={"map": "legacy"}).json()
    return locality["children"][0]["code"], district
