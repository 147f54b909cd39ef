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
        self.period_refusals = Counter(
            "cungdan_ingest_period_closed_refusals_total",
            "Reports and changes (corrections, retractions) refused as dated in a period "
            "closed for their province (late reports).", ["kind"], registry=registry)
        self.period_events = Counter(
            "cungdan_ingest_period_requests_total",
            "Closes, reopenings and control totals, by kind (close, reopen, control) and "
            "outcome (accepted, duplicate, rejected, forbidden, closed, open, ...).",
            ["kind", "outcome"], registry=registry)
        self._reports: dict[tuple[str, ...], Counter] = {}
        self._rejections: dict[tuple[str, ...], Counter] = {}
        self.refusals = refusal_counter("ingest", registry)
        """``cungdan_ingest_refusals_total{token,reason}``: missing-token, unknown-token,
        missing-role, out-of-scope (per report), rate-limited, body-too-large."""

    def report(self, outcome: str, province: str) -> None:
        """Count one report by outcome and province (``reports_total``)."""
        _child(self._reports, self.reports, outcome, province).inc()

    def rejection(self, reason: str) -> None:
        """Count one problem of a rejected report (``rejections_total``)."""
        _child(self._rejections, self.rejections, reason).inc()


def _child(children: dict[tuple[str, ...], Counter], metric: Counter, *labels: str) -> Counter:
    """``metric.labels(*labels)``, looked up once per label values (``labels()`` validates and
    takes a lock on every call)."""
    child = children.get(labels)
    if child is None:
        child = children[labels] = metric.labels(*labels)
    return child
