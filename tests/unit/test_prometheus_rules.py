"""The alert rules of the compose stack (deploy/prometheus/alerts.yml): promtool accepts the
configuration and the rules, the rules' unit tests (alerts.test.yml) pass, every metric an
alert reads is one the services export, and compose mounts the rules where prometheus.yml
looks for them.

The promtool checks need /usr/bin/promtool (Debian package ``prometheus``; .ci/run installs
it) and are skipped without it. Everything else is parsed here and always runs.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES = PROMETHEUS_DIR / "alerts.yml"
RULE_TESTS = PROMETHEUS_DIR / "alerts.test.yml"
COMPOSE_FILE = ROOT / "docker-compose.yml"

# --- what the services export -------------------------------------------------------------

EXPORTED: dict[str, str] = {
    # ingest (ingest:8000/metrics)
    "cungdan_ingest_http_requests_total": "counter",
    "cungdan_ingest_reports_total": "counter",
    "cungdan_ingest_rejections_total": "counter",
    "cungdan_ingest_refusals_total": "counter",
    "cungdan_ingest_publish_duration_seconds": "histogram",
    "cungdan_ingest_broker_connected": "gauge",
    # projector (projector:8001/metrics)
    "cungdan_projector_http_requests_total": "counter",
    "cungdan_projector_events_applied_total": "counter",
    "cungdan_projector_events_already_applied_total": "counter",
    "cungdan_projector_dead_letters_total": "counter",
    "cungdan_projector_batch_size_events": "histogram",
    "cungdan_projector_apply_duration_seconds": "histogram",
    "cungdan_projector_position": "gauge",
    "cungdan_projector_stream_last_sequence": "gauge",
    "cungdan_projector_lag_events": "gauge",
    "cungdan_projector_rebuilding": "gauge",
    "cungdan_projector_rebuild_progress_ratio": "gauge",
    "cungdan_projector_province_last_event_timestamp_seconds": "gauge",
    "cungdan_projector_applying": "gauge",
    "cungdan_projector_lease_acquired_total": "counter",
}
"""The Prometheus names the services export and their types (the services' contract with
the alert rules and the Grafana dashboard)."""

PROMETHEUS_SERIES = frozenset({"up"})
"""Series Prometheus itself writes for every scrape target."""


def _series_names() -> frozenset[str]:
    names = set(PROMETHEUS_SERIES)
    for name, kind in EXPORTED.items():
        if kind == "histogram":
            names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(name)
    return frozenset(names)


SERIES = _series_names()
"""Every series name a query may read: histograms only as _bucket, _sum and _count."""

# --- metric names in a PromQL expression ------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_LABEL_LISTS = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE)
_IDENTIFIER = re.compile(r"(?<![\w.:$])[A-Za-z_:][A-Za-z0-9_:]*(?![\w:])(?!\s*\()")
_KEYWORDS = frozenset({
    "and", "or", "unless", "atan2", "bool", "offset", "by", "without", "on", "ignoring",
    "group_left", "group_right", "inf", "nan",
})


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads.

    Strings, label matchers, ranges (with Grafana's ``$__rate_interval``...) and the label
    lists of ``by``/``on``/``group_left``... are dropped first; of what remains, an
    identifier not followed by ``(`` (a function or aggregation) and not a keyword is a
    metric name. Good enough for the expressions of this repo, and strict: a misspelled
    name comes out as itself, not as nothing.
    """
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _LABEL_LISTS.sub("", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


def unknown_metrics(expr: str) -> set[str]:
    return metric_names(expr) - SERIES


@pytest.mark.parametrize(("expr", "expected"), [
    ("up == 0", {"up"}),
    ('sum by (map, province) (rate(cungdan_projector_events_applied_total'
     '{map!="legacy", province=~"0[1-9]"}[$__rate_interval]))',
     {"cungdan_projector_events_applied_total"}),
    ("cungdan_projector_lag_events > 0 and on (job, instance) "
     "changes(cungdan_projector_position[2m]) == 0",
     {"cungdan_projector_lag_events", "cungdan_projector_position"}),
    ("histogram_quantile(0.99, sum by (le) "
     "(rate(cungdan_ingest_publish_duration_seconds_bucket[5m])))",
     {"cungdan_ingest_publish_duration_seconds_bucket"}),
    ('time() - cungdan_projector_province_last_event_timestamp_seconds{map!="legacy"} '
     "> 14 * 86400 + 1e3",
     {"cungdan_projector_province_last_event_timestamp_seconds"}),
    ("sum(rate(a_total[5m] offset 1h)) without (route) / ignoring(route) group_left b",
     {"a_total", "b"}),
    ('label_replace(x, "dst", "$1", "src", "(.*)") unless bool y', {"x", "y"}),
])
def test_metric_names_are_parsed(expr: str, expected: set[str]) -> None:
    assert metric_names(expr) == expected


def test_a_misspelled_metric_is_caught() -> None:
    assert unknown_metrics(
        "increase(cungdan_projector_dead_leters_total[15m]) > 0"
    ) == {"cungdan_projector_dead_leters_total"}
    assert unknown_metrics("rate(cungdan_ingest_publish_duration_seconds[5m])") == {
        "cungdan_ingest_publish_duration_seconds"}, "a histogram is read through _bucket..."
    assert unknown_metrics("cungdan_projector_rebuild_progress_ratio == 1") == set()


# --- the rules ------------------------------------------------------------------------------

REQUIRED_ALERTS = {
    "CungdanProjectorLagHigh": "lag above a threshold for 5m",
    "CungdanProjectorStalled": "lag > 0 while the position does not move",
    "CungdanProjectorDeadLetters": "any new dead letter in 15m",
    "CungdanIngestHighErrorRate": "more than 5% of ingest requests answered 5xx",
    "CungdanIngestBrokerDown": "ingest not connected to NATS",
    "CungdanProvinceSilent": "a province silent for 14 days",
    "CungdanProvinceNeverReported": "a province of the current map that never reported",
    "CungdanServiceDown": "a scrape target down",
    "CungdanProjectorRebuildSlow": "a rebuild running for more than 30m",
    "CungdanProjectorNoneApplying": "projector instances up, none applying the stream",
}
SEVERITIES = {"critical", "warning"}


def _yaml(path: Path) -> Any:
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> list[dict[str, Any]]:
    groups = _yaml(RULES).get("groups") or []
    return [rule for group in groups for rule in group.get("rules") or [] if "alert" in rule]


def test_required_alerts_are_defined() -> None:
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names)), f"alert names repeat: {sorted(names)}"
    missing = {name: why for name, why in REQUIRED_ALERTS.items() if name not in names}
    assert not missing, f"{RULES.relative_to(ROOT)} lacks alerts: {missing}"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_reads_only_exported_metrics(rule: dict[str, Any]) -> None:
    names = metric_names(rule["expr"])
    assert names, f"alert {rule['alert']}: no metric found in {rule['expr']!r}"
    unknown = names - SERIES
    assert not unknown, (
        f"alert {rule['alert']} reads {sorted(unknown)}, which no service exports (a typo?); "
        f"known: {sorted(SERIES)}")


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_has_severity_and_explanations(rule: dict[str, Any]) -> None:
    severity = (rule.get("labels") or {}).get("severity")
    assert severity in SEVERITIES, (
        f"alert {rule['alert']}: severity {severity!r}, expected one of {sorted(SEVERITIES)}")
    annotations = rule.get("annotations") or {}
    for key in ("summary", "description"):
        assert str(annotations.get(key, "")).strip(), f"alert {rule['alert']} has no {key}"


def test_every_alert_is_unit_tested_both_ways() -> None:
    """Each alert has a promtool case where it fires and one where it stays quiet."""
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in _yaml(RULE_TESTS).get("tests") or []:
        for check in case.get("alert_rule_test") or []:
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    defined = {rule["alert"] for rule in alert_rules()}
    assert (fires | quiet) <= defined, (
        f"{RULE_TESTS.name} tests alerts that do not exist: {sorted((fires | quiet) - defined)}")
    assert not defined - fires, f"never shown to fire: {sorted(defined - fires)}"
    assert not defined - quiet, f"never shown to stay quiet: {sorted(defined - quiet)}"


# --- prometheus.yml and compose -------------------------------------------------------------


def _prometheus_mounts() -> list[tuple[Path, str]]:
    """(host path, container path) of each bind mount of the compose Prometheus service."""
    services = _yaml(COMPOSE_FILE)["services"]
    names = [n for n, s in services.items()
             if str(s.get("image", "")).startswith("prom/prometheus")]
    assert len(names) == 1, f"expected one service running prom/prometheus, got {names}"
    result = []
    for volume in services[names[0]].get("volumes") or []:
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
            if source.startswith((".", "/")):
                result.append(((ROOT / source).resolve(), target))
        elif volume.get("type") == "bind":
            result.append(((ROOT / volume["source"]).resolve(), volume["target"]))
    return result


def _host_path(container_path: str, binds: list[tuple[Path, str]]) -> Path | None:
    """The file of the repo the container sees at container_path, if a bind mount covers it."""
    for source, target in binds:
        target = target.rstrip("/")
        if container_path == target:
            return source
        if container_path.startswith(target + "/"):
            return source / container_path.removeprefix(target + "/")
    return None


def test_prometheus_loads_the_rules_in_the_repo_and_in_compose() -> None:
    rule_files = _yaml(CONFIG).get("rule_files") or []
    assert rule_files, f"{CONFIG.relative_to(ROOT)} loads no rule_files"
    assert RULES.resolve() in [(CONFIG.parent / f).resolve() for f in rule_files], (
        f"{CONFIG.relative_to(ROOT)}: rule_files {rule_files} do not include "
        f"{RULES.relative_to(ROOT)}")
    binds = _prometheus_mounts()
    config_targets = [t for s, t in binds if s == CONFIG.resolve()]
    assert config_targets, f"compose does not mount {CONFIG.relative_to(ROOT)}"
    config_dir = posixpath.dirname(config_targets[0])
    for rule_file in rule_files:
        assert not posixpath.isabs(rule_file), (
            f"rule file {rule_file} should be relative to prometheus.yml, so the same "
            f"layout works in the repo and in the container")
        in_container = posixpath.normpath(posixpath.join(config_dir, rule_file))
        host = _host_path(in_container, binds)
        expected = (CONFIG.parent / rule_file).resolve()
        assert host is not None and host.resolve() == expected, (
            f"Prometheus reads {in_container} in compose, which is not "
            f"{expected.relative_to(ROOT)} mounted (mounts: {binds})")


# --- promtool -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (Debian: apt-get install --no-install-recommends "
                    "prometheus; .ci/run does it)")
    return path


def _run(promtool: str, *args: str) -> str:
    result = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120,
                            check=False, cwd=ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


def test_promtool_checks_the_config(promtool: str) -> None:
    _run(promtool, "check", "config", str(CONFIG))


def test_promtool_checks_the_rules(promtool: str) -> None:
    _run(promtool, "check", "rules", str(RULES))


def test_promtool_rule_unit_tests_pass(promtool: str) -> None:
    output = _run(promtool, "test", "rules", str(RULE_TESTS))
    assert "SUCCESS" in output, output
