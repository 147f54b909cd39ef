"""Ingest metrics on a registry of the app's own (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from cungdan_service.web import refusal_counter


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.reports = Counter(
            "cungdan_ingest_reports_total", "Reports by outcome and source province.",
            ["outcome", "province"], registry=registry)
        self.rejections = Counter(
            "cungdan_ingest_rejected_fields_total", "Rejected report fields by field.",
            ["field"], registry=registry)
        self.refusals = refusal_counter("ingest", registry)
        """``cungdan_ingest_refusals_total{token,reason}``: missing-token, unknown-token,
        missing-role, out-of-scope (per report), rate-limited, body-too-large."""
