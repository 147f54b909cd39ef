"""The provisioned Grafana dashboard (deploy/grafana/dashboards/cungdan.json): it parses, every
panel queries the provisioned Prometheus datasource by its uid, every expression reads only
metrics the services export, and the dashboard provider reads the folder compose mounts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.unit.test_prometheus_rules import SERIES, metric_names

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
DASHBOARD = DASHBOARDS / "cungdan.json"
PROVISIONING = GRAFANA / "provisioning"
DATASOURCES = PROVISIONING / "datasources"
PROVIDERS = PROVISIONING / "dashboards"
COMPOSE_FILE = ROOT / "docker-compose.yml"
GRAFANA_PROVISIONING_PATH = "/etc/grafana/provisioning"
"""Where the grafana/grafana image reads provisioning (GF_PATHS_PROVISIONING)."""

REQUIRED_METRICS = {
    "cungdan_projector_events_applied_total": "intake per province",
    "cungdan_ingest_reports_total": "reports by outcome",
    "cungdan_ingest_rejections_total": "rejections by reason",
    "cungdan_ingest_refusals_total": "refusals",
    "cungdan_projector_lag_events": "projector lag",
    "cungdan_projector_position": "position vs stream head",
    "cungdan_projector_stream_last_sequence": "position vs stream head",
    "cungdan_projector_apply_duration_seconds_bucket": "apply duration p99",
    "cungdan_projector_dead_letters_total": "dead letters",
    "cungdan_projector_rebuild_progress_ratio": "rebuild progress",
    "cungdan_projector_province_last_event_timestamp_seconds": "freshness per province",
    "cungdan_projector_applying": "which projector instance applies",
}
"""What the dashboard must show, by the metric that shows it."""


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dashboard() -> dict[str, Any]:
    assert DASHBOARD.is_file(), f"{DASHBOARD.relative_to(ROOT)} is missing"
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{DASHBOARD.relative_to(ROOT)} is not a JSON object"
    return data


def panels(items: list[dict[str, Any]] | None = None) -> Iterator[dict[str, Any]]:
    """Every panel, also those inside (collapsed) rows."""
    for panel in dashboard()["panels"] if items is None else items:
        yield panel
        yield from panels(panel.get("panels") or [])


def queried_panels() -> list[dict[str, Any]]:
    return [p for p in panels() if p.get("type") != "row"]


def targets() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{p['title']} / {t.get('refId')}", t) for p in queried_panels()
            for t in p.get("targets") or []]


def provisioned_datasources() -> dict[str, dict[str, Any]]:
    """uid -> definition of each provisioned Prometheus datasource."""
    result = {}
    for path in sorted(DATASOURCES.glob("*.y*ml")):
        for source in _yaml(path).get("datasources") or []:
            assert source.get("uid"), (
                f"{path.relative_to(ROOT)}: datasource {source.get('name')} has no uid; "
                f"dashboards reference datasources by a stable uid")
            if source.get("type") == "prometheus":
                result[source["uid"]] = source
    assert result, f"no Prometheus datasource provisioned in {DATASOURCES.relative_to(ROOT)}"
    return result


def test_dashboard_parses() -> None:
    data = dashboard()
    assert data.get("uid") and data.get("title"), "the dashboard needs a uid and a title"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", data["uid"]), f"bad dashboard uid {data['uid']}"
    assert queried_panels(), "the dashboard has no panels"
    ids = [p.get("id") for p in panels()]
    assert None not in ids and len(ids) == len(set(ids)), f"panel ids missing or repeated: {ids}"
    for panel in panels():
        grid = panel.get("gridPos") or {}
        assert {"h", "w", "x", "y"} <= grid.keys(), f"panel {panel.get('title')}: no gridPos"
        assert grid["x"] + grid["w"] <= 24, f"panel {panel['title']} is wider than the grid"


@pytest.mark.parametrize("panel", queried_panels(), ids=lambda p: p["title"])
def test_panel_uses_the_provisioned_datasource(panel: dict[str, Any]) -> None:
    uids = provisioned_datasources()
    source = panel.get("datasource") or {}
    assert isinstance(source, dict) and source.get("uid") in uids, (
        f"panel {panel['title']}: datasource {source!r}, expected a reference to the "
        f"provisioned uid(s) {sorted(uids)}")
    assert source.get("type") == "prometheus", f"panel {panel['title']}: datasource type"
    assert panel.get("targets"), f"panel {panel['title']} has no query"
    for target in panel["targets"]:
        ref = target.get("datasource") or {}
        assert isinstance(ref, dict) and ref.get("uid") in uids, (
            f"panel {panel['title']} query {target.get('refId')}: datasource {ref!r}, "
            f"expected the provisioned uid(s) {sorted(uids)}")


@pytest.mark.parametrize(("where", "target"), targets(), ids=[w for w, _ in targets()])
def test_expression_reads_only_exported_metrics(where: str, target: dict[str, Any]) -> None:
    expr = target.get("expr", "")
    names = metric_names(expr)
    assert names, f"{where}: no metric found in {expr!r}"
    unknown = names - SERIES
    assert not unknown, (
        f"{where} reads {sorted(unknown)}, which no service exports (a typo?); "
        f"known: {sorted(SERIES)}")


def test_template_variables_use_the_datasource_and_exported_metrics() -> None:
    uids = provisioned_datasources()
    for variable in (dashboard().get("templating") or {}).get("list") or []:
        if variable.get("type") != "query":
            continue
        assert (variable.get("datasource") or {}).get("uid") in uids, (
            f"variable {variable['name']}: datasource is not the provisioned one")
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        if re.fullmatch(r"\s*label_values\(\s*\w+\s*\)\s*", text):
            continue  # label_values(label): every series, no metric named
        call = re.fullmatch(r"\s*(?:label_values\((.*),\s*\w+\s*\)|query_result\((.*)\))\s*",
                            text, re.DOTALL)
        expr = (call.group(1) or call.group(2)) if call else text
        unknown = metric_names(expr) - SERIES
        assert not unknown, f"variable {variable['name']} reads unknown metrics {unknown}"


def test_dashboard_shows_what_operations_needs() -> None:
    used = set().union(*(metric_names(t.get("expr", "")) for _, t in targets()))
    missing = {m: why for m, why in REQUIRED_METRICS.items() if m not in used}
    assert not missing, f"the dashboard does not show: {missing}"


# --- provisioning and compose ---------------------------------------------------------------


def _grafana_binds() -> list[tuple[Path, str]]:
    """(host path, container path) of each bind mount of the compose Grafana service."""
    services = _yaml(COMPOSE_FILE)["services"]
    names = [n for n, s in services.items()
             if str(s.get("image", "")).startswith("grafana/grafana")]
    assert len(names) == 1, f"expected one service running grafana/grafana, got {names}"
    environment = services[names[0]].get("environment") or {}
    assert "GF_PATHS_PROVISIONING" not in environment, (
        "this test assumes Grafana's default provisioning path")
    result = []
    for volume in services[names[0]].get("volumes") or []:
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            if source.startswith((".", "/")):
                result.append(((ROOT / source).resolve(), rest.split(":")[0].rstrip("/")))
        elif volume.get("type") == "bind":
            result.append(((ROOT / volume["source"]).resolve(), volume["target"].rstrip("/")))
    return result


def _host_path(container_path: str, binds: list[tuple[Path, str]]) -> Path | None:
    container_path = container_path.rstrip("/")
    for source, target in binds:
        if container_path == target:
            return source
        if container_path.startswith(target + "/"):
            return source / container_path.removeprefix(target + "/")
    return None


def dashboard_providers() -> list[tuple[Path, dict[str, Any]]]:
    files = sorted(PROVIDERS.glob("*.y*ml"))
    assert files, f"no dashboard provider in {PROVIDERS.relative_to(ROOT)}"
    return [(path, provider) for path in files
            for provider in _yaml(path).get("providers") or []]


def test_provisioning_folder_is_mounted() -> None:
    host = _host_path(GRAFANA_PROVISIONING_PATH, _grafana_binds())
    assert host is not None and host.resolve() == PROVISIONING.resolve(), (
        f"compose should mount {PROVISIONING.relative_to(ROOT)} at {GRAFANA_PROVISIONING_PATH}")


def test_provider_path_matches_the_compose_mount() -> None:
    binds = _grafana_binds()
    served: set[Path] = set()
    for path, provider in dashboard_providers():
        assert provider.get("type", "file") == "file", f"{path.name}: not a file provider"
        folder = (provider.get("options") or {}).get("path", "")
        host = _host_path(folder, binds)
        assert host is not None, (
            f"{path.relative_to(ROOT)}: provider {provider.get('name')} reads {folder}, which "
            f"compose does not mount from the repo (grafana mounts: {binds})")
        assert host.resolve().is_relative_to(DASHBOARDS.resolve()), (
            f"{path.relative_to(ROOT)}: {folder} is {host} in the repo, not under "
            f"{DASHBOARDS.relative_to(ROOT)}")
        served.update(p.resolve() for p in host.rglob("*.json"))
    assert DASHBOARD.resolve() in served, (
        f"no provider serves {DASHBOARD.relative_to(ROOT)}")
    unserved = {p.resolve() for p in DASHBOARDS.rglob("*.json")} - served
    assert not unserved, f"dashboards no provider serves: {sorted(unserved)}"


def test_dashboard_uids_are_unique() -> None:
    uids = [json.loads(p.read_text(encoding="utf-8")).get("uid")
            for p in sorted(DASHBOARDS.rglob("*.json"))]
    assert None not in uids and len(uids) == len(set(uids)), f"dashboard uids: {uids}"
