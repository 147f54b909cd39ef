"""The operator commands find the services through the settings the services use, and the
supervisor's restart policy backs off as documented."""

from __future__ import annotations

import pytest

from cungdan.addresses import ServiceAddresses
from cungdan.supervisor import RestartPolicy
from cungdan_ingest.settings import IngestSettings
from cungdan_projector.settings import ProjectorSettings


def test_the_addresses_are_the_services_own_settings() -> None:
    ours = ServiceAddresses.model_fields
    for theirs in (IngestSettings.model_fields, ProjectorSettings.model_fields):
        for name, field in theirs.items():
            if name.endswith(("_host", "_port")) and name.startswith(("ingest", "projector")):
                assert ours[name].default == field.default, name
    assert {n for n in ours if n.endswith(("_host", "_port"))} == {
        "ingest_host", "ingest_port", "projector_host", "projector_port"}
    assert ServiceAddresses.model_config["env_prefix"] == IngestSettings.model_config[
        "env_prefix"] == ProjectorSettings.model_config["env_prefix"]


def test_the_ports_make_run_uses_find_the_services(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INGEST_URL", "PROJECTOR_URL", "INGEST_HOST", "PROJECTOR_HOST"):
        monkeypatch.delenv(f"CUNGDAN_{name}", raising=False)
    monkeypatch.setenv("CUNGDAN_PROJECTOR_PORT", "9001")
    monkeypatch.setenv("CUNGDAN_INGEST_PORT", "9000")
    assert ServiceAddresses().projector == "http://127.0.0.1:9001"
    assert ServiceAddresses().ingest == "http://127.0.0.1:9000"
    monkeypatch.setenv("CUNGDAN_PROJECTOR_HOST", "0.0.0.0")  # bound everywhere: loopback
    assert ServiceAddresses().projector == "http://127.0.0.1:9001"
    monkeypatch.setenv("CUNGDAN_PROJECTOR_URL", "https://cungdan.example/projector")
    assert ServiceAddresses().projector == "https://cungdan.example/projector"


def test_restarts_back_off_doubling_up_to_the_cap() -> None:
    policy = RestartPolicy(initial_delay=0.5, max_delay=30)
    assert [policy.delay(n) for n in range(1, 10)] == [
        0.5, 1, 2, 4, 8, 16, 30, 30, 30]
