"""The operator commands find the services through the settings the services use, and the
supervisor's restart policy backs off as documented."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass

import pytest
from tests.waits import wait_until

from cungdan.addresses import ServiceAddresses
from cungdan.processes import ProcessStartError
from cungdan.supervisor import RestartPolicy, Supervisor
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


class FakeChild:
    """A child that dies when told, and fails its first ``failing_starts`` starts."""

    def __init__(self, failing_starts: int = 0, start_seconds: float = 0) -> None:
        self.running = True
        self.start_seconds = start_seconds
        self.pid: int | None = 100
        self.failing_starts = failing_starts
        self.starts = 0
        self.kills = 0

    def exit_description(self) -> str | None:
        return None if self.running else "killed by SIGKILL"

    def kill(self) -> None:
        self.kills += 1
        self.running, self.pid = False, None

    def start(self) -> None:
        self.starts += 1
        time.sleep(self.start_seconds)
        if self.starts <= self.failing_starts:
            raise ProcessStartError("child (pid 7) exited before it answered; log x:\ntail")
        self.running, self.pid = True, 100 + self.starts


def test_the_supervisor_restarts_a_dead_child_and_logs_it(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cungdan.supervisor")
    child, other = FakeChild(failing_starts=2), FakeChild()
    policy = RestartPolicy(initial_delay=0.001, max_delay=0.004, check_interval=0.001)
    with Supervisor({"ingest": child, "projector": other}, policy) as supervisor:
        child.running = False
        wait_until(lambda: supervisor.restarts.get("ingest") == 1, "ingest restarted", within=10)
    assert (child.starts, child.kills, child.running, child.pid) == (3, 3, True, 103)
    assert (other.starts, other.kills) == (0, 0)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("ingest (pid 100) died: killed by SIGKILL")
    assert "did not start again: child (pid 7) exited before it answered" in messages[1]
    assert messages[2].startswith("ingest is down; restarting in")
    assert "(failure 3 in a row)" in messages[4]
    assert messages[-1] == "ingest restarted (pid 103), healthy"


@dataclass(frozen=True)
class RecordingPolicy(RestartPolicy):
    delays: list[float] = dataclasses.field(default_factory=list)

    def delay(self, failures: int) -> float:
        self.delays.append(super().delay(failures))
        return self.delays[-1]


def test_restarts_that_fail_after_a_long_start_keep_backing_off() -> None:
    # each start waits longer than reset_after before it fails (as one waiting for health
    # up to its start timeout does): that wait is not time up
    child = FakeChild(failing_starts=3, start_seconds=0.05)
    policy = RecordingPolicy(initial_delay=0.001, max_delay=1, reset_after=0.02,
                             check_interval=0.001)
    with Supervisor({"ingest": child}, policy) as supervisor:
        child.running = False
        wait_until(lambda: supervisor.restarts.get("ingest") == 1, "ingest restarted", within=10)
    assert policy.delays == [0.001, 0.002, 0.004, 0.008]


def test_a_child_healthy_for_reset_after_starts_again_from_the_first_delay() -> None:
    child = FakeChild(start_seconds=0.05)
    policy = RecordingPolicy(initial_delay=0.001, max_delay=1, reset_after=0.02,
                             check_interval=0.001)
    with Supervisor({"ingest": child}, policy) as supervisor:
        for restarts in (1, 2):
            time.sleep(0.03)  # healthy longer than reset_after
            child.running = False
            wait_until(lambda: supervisor.restarts.get("ingest") == restarts,  # noqa: B023
                       "ingest restarted", within=10)
    assert policy.delays == [0.001, 0.001]


def test_stopping_the_supervisor_restarts_nothing() -> None:
    child = FakeChild()
    policy = RestartPolicy(initial_delay=60, check_interval=0.001)
    supervisor = Supervisor({"projector": child}, policy)
    with supervisor:
        child.running = False
        wait_until(lambda: child.kills == 1, "the dead child seen", within=10)
    # stopped during the 60 s backoff: it returned at once and did not start the child
    assert (child.starts, child.running, supervisor.restarts) == (0, False, {})
