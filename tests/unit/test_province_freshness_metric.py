"""``cungdan_projector_province_last_event_timestamp_seconds`` has a series for every province
of the current map from the start, 0 until its first event: a province that never reported
is visible to the alert rules (CungdanProvinceNeverReported in deploy/prometheus/alerts.yml)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from cungdan_contracts import Gazetteer
from cungdan_projector.app import current_provinces
from cungdan_projector.metrics import ProjectorMetrics

NAME = "cungdan_projector_province_last_event_timestamp_seconds"


def _series(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    return {(s.labels["map"], s.labels["province"]): s.value
            for family in registry.collect() for s in family.samples if s.name == NAME}


def test_every_province_of_the_current_map_has_a_series_from_the_start(
        gazetteer: Gazetteer) -> None:
    registry = CollectorRegistry()
    metrics = ProjectorMetrics(registry, expected=current_provinces(gazetteer))
    series = _series(registry)
    assert len(series) == 34 and set(series.values()) == {0.0}
    assert {m for m, _ in series} == {"2025"} and ("2025", "15") in series

    metrics.saw("2025", "15", 1_767_225_600.0)
    metrics.saw("2025", "15", 1_767_000_000.0)  # older: kept the newest
    metrics.saw("legacy", "38", 1_700_000_000.0)  # a legacy province: a series of its own
    series = _series(registry)
    assert series[("2025", "15")] == 1_767_225_600.0
    assert series[("legacy", "38")] == 1_700_000_000.0
    assert sum(1 for value in series.values() if value == 0) == 33


def test_without_expected_provinces_only_reported_ones_have_a_series() -> None:
    registry = CollectorRegistry()
    ProjectorMetrics(registry).saw("2025", "01", 1.0)
    assert _series(registry) == {("2025", "01"): 1.0}
