"""Both services' /metrics after a known load: the exact counts."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.factories import report, stack_config

from cungdan.client import wait_until_projected
from cungdan.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(stack_config(tmp_path_factory.mktemp("metrics"))) as running:
        yield running


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics", trust_env=False, timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_a_known_load_exactly(stack: Stack) -> None:
    ingest = httpx.Client(base_url=stack.ingest_url, trust_env=False, timeout=10)
    yen_bai = [report(measures={"trees_planted": 1}) for _ in range(10)]  # legacy 15
    thanh_hoa = [report(locality="14836", campaign="dan-van-kheo",
                        measures={"flower_pots": 2}) for _ in range(4)]  # legacy 38
    batch = ingest.post("/v1/activities/batch", json=[*yen_bai, *thanh_hoa])
    assert batch.json()["counts"]["accepted"] == 14
    for body in yen_bai[:2]:  # duplicates
        assert ingest.post("/v1/activities", json=body).status_code == 200
    conflict = {**yen_bai[0], "measures": {"trees_planted": 99}}
    assert ingest.post("/v1/activities", json=conflict).status_code == 409
    rejected = [report(campaign="no-such-campaign"), report(date="2999-01-01", locality="04492"),
                report(locality="99999")]
    for body in rejected:
        assert ingest.post("/v1/activities", json=body).status_code == 422
    assert ingest.post("/v1/activities", content=b"{oops").status_code == 422
    seq = max(r["seq"] for r in batch.json()["results"])
    wait_until_projected(stack.projector_url, seq)

    got = scrape(stack.ingest_url)
    reports = "cungdan_ingest_reports_total"
    assert value(got, reports, outcome="accepted", province="15") == 10
    assert value(got, reports, outcome="accepted", province="38") == 4
    assert value(got, reports, outcome="duplicate", province="15") == 2
    assert value(got, reports, outcome="conflict", province="15") == 1
    assert value(got, reports, outcome="rejected", province="unknown") == 4
    reasons = "cungdan_ingest_rejections_total"
    assert {r: value(got, reasons, reason=r) for r in (
        "unknown_campaign", "future_date", "unknown_locality", "malformed_json",
        "id_conflict")} == dict.fromkeys(("unknown_campaign", "future_date",
                                         "unknown_locality", "malformed_json",
                                         "id_conflict"), 1.0)
    requests = "cungdan_ingest_http_requests_total"
    assert value(got, requests, route="/v1/activities/batch", status="200") == 1
    assert value(got, requests, route="/v1/activities", status="422") == 4
    assert value(got, requests, route="/v1/activities", status="409") == 1
    assert value(got, "cungdan_ingest_broker_connected") == 1
    assert value(got, "cungdan_ingest_publish_duration_seconds_count") == 4  # 1 batch + 3

    applied = scrape(stack.projector_url)
    events = "cungdan_projector_events_applied_total"
    assert value(applied, events, map="legacy", province="15",
                 campaign="ngay-cuoi-tuan-cung-dan") == 10
    assert value(applied, events, map="legacy", province="38", campaign="dan-van-kheo") == 4
    assert value(applied, "cungdan_projector_position") == seq
    assert value(applied, "cungdan_projector_dead_letters_total") == 0
    assert value(applied, "cungdan_projector_batch_size_events_sum") == 14
    assert value(applied, "cungdan_projector_province_last_event_timestamp_seconds",
                 map="legacy", province="38") > 0
