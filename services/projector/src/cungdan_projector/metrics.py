"""Projector metrics on a registry of the app's own (never the global one)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .items import BatchResult


class ProjectorMetrics:
    """``expected``: the (map, province) pairs that should report (the provinces of the
    current map): their last-event gauge exists from the start, 0 until a first event, so
    that a province that never reported has a series an alert can read."""

    def __init__(self, registry: CollectorRegistry | None = None,
                 expected: Iterable[tuple[str, str]] = ()) -> None:
        self.registry = registry = registry or CollectorRegistry()
        self.applied = Counter(
            "cungdan_projector_events_applied_total",
            "Events counted into the totals, by source province and campaign.",
            ["map", "province", "campaign"], registry=registry)
        self.already_applied = Counter(
            "cungdan_projector_events_already_applied_total",
            "Events skipped because their id was counted before (redelivery, re-publish).",
            registry=registry)
        self.dead_letters = Counter(
            "cungdan_projector_dead_letters_total",
            "Messages dead-lettered because they could not be applied.", registry=registry)
        self.periods = Counter(
            "cungdan_projector_period_events_total",
            "Period events applied (kind closed, reopened, control) and late amendments "
            "noted (kind late: events counted after a closing of a period they are dated in).",
            ["kind"], registry=registry)
        self.batch_size = Histogram(
            "cungdan_projector_batch_size_events", "Messages per committed batch.",
            buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000, 10000), registry=registry)
        self.apply_seconds = Histogram(
            "cungdan_projector_apply_duration_seconds",
            "Time to decode and commit one batch.", registry=registry)
        self.position = Gauge(
            "cungdan_projector_position",
            "Stream sequence the served totals reflect (a standby reads it from the database).",
            registry=registry)
        self.stream_last_seq = Gauge(
            "cungdan_projector_stream_last_sequence",
            "Last sequence of the activity stream.", registry=registry)
        self.lag = Gauge(
            "cungdan_projector_lag_events",
            "Stream last sequence minus the applied position.", registry=registry)
        self.rebuilding = Gauge(
            "cungdan_projector_rebuilding", "1 while a rebuild runs.", registry=registry)
        self.rebuild_progress = Gauge(
            "cungdan_projector_rebuild_progress_ratio",
            "Share of the stream the running rebuild has applied (1 when none runs).",
            registry=registry)
        self.last_event = Gauge(
            "cungdan_projector_province_last_event_timestamp_seconds",
            "When the last event counted from each province was recorded (Unix time); 0 for "
            "a province of the current map that never reported.",
            ["map", "province"], registry=registry)
        self.applying = Gauge(
            "cungdan_projector_applying",
            "1 while this instance holds the lease and applies the stream; 0 while it stands "
            "by (it serves reads). One instance per read model applies.", registry=registry)
        self.lease_acquired = Counter(
            "cungdan_projector_lease_acquired_total",
            "Times this instance took the lease and began to apply the stream.",
            registry=registry)
        self.rebuild_progress.set(1)
        self._latest: dict[tuple[str, str], float] = {}
        for admin_map, province in expected:
            self.last_event.labels(admin_map, province).set(0)

    def observe(self, result: BatchResult, messages: int, seconds: float, *, live: bool) -> None:
        self.batch_size.observe(messages)
        self.apply_seconds.observe(seconds)
        self.already_applied.inc(result.already_applied)
        self.dead_letters.inc(result.dead_lettered)
        if not live:
            return
        self.position.set(result.position)
        for kind, count in result.periods:
            self.periods.labels(kind).inc(count)
        for admin_map, province, campaign, events in result.counted:
            self.applied.labels(admin_map, province, campaign).inc(events)
        for admin_map, province, at in result.latest:
            self.saw(admin_map, province, at.timestamp())

    def saw(self, admin_map: str, province: str, timestamp: float) -> None:
        """Keep the newest event time per province (also loaded from the read model)."""
        key = (admin_map, province)
        if timestamp > self._latest.get(key, 0.0):
            self._latest[key] = timestamp
            self.last_event.labels(admin_map, province).set(timestamp)
