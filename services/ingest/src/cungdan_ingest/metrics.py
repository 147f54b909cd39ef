"""Ingest metrics on a registry of the app's own (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from cungdan_service.web import refusal_counter


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.reports = Counter(
            "cungdan_ingest_reports_total", "Reports by outcome and source province.",
            ["outcome", "province"], registry=registry)
        self.rejections = Counter(
            "cungdan_ingest_rejections_total",
            "Problems found in rejected reports, by reason (unknown_indicator, future_date, "
            "unknown_locality, id_conflict, malformed_json, ...).", ["reason"],
            registry=registry)
        self.publish_seconds = Histogram(
            "cungdan_ingest_publish_duration_seconds",
            "From publishing a request's events to the last JetStream acknowledgement.",
            buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5),
            registry=registry)
        self.broker_connected = Gauge(
            "cungdan_ingest_broker_connected", "1 while connected to NATS.", registry=registry)
        self.refusals = refusal_counter("ingest", registry)
        """``cungdan_ingest_refusals_total{token,reason}``: missing-token, unknown-token,
        missing-role, out-of-scope (per report), rate-limited, body-too-large."""
