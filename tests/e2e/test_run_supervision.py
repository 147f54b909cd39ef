"""`cungdan run` (= `make run`) keeps what it started up, as `restart: unless-stopped` does
in docker-compose.yml: the ingest, the projector and the nats-server, each SIGKILLed by
PID, come back healthy (the restart logged with the signal), and the totals stay exact:
every report counted once, those sent again before and after the restarts included."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.factories import report
from tests.kits.run import Running, children, cmdline, cungdan_run
from tests.waits import wait_until

from cungdan.client import wait_until_projected
from cungdan.processes import pid_alive

pytestmark = pytest.mark.e2e


@dataclass
class Run:
    running: Running
    token: str
    ingest: str
    projector: str
    nats_port: int
    nats_monitor: str

    def read_output(self) -> list[str]:
        return self.running.read_output()

    def child(self, marker: str) -> int | None:
        """The PID of the (live) child of `cungdan run` whose command line holds `marker`."""
        for pid in children(self.running.proc.pid):
            if marker in cmdline(pid) and pid_alive(pid):
                return pid
        return None


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    with cungdan_run(tmp_path / "var", ["run", "--no-demo"]) as running:
        yield Run(running, running.tokens()["demo-national"], running.url("INGEST"),
                  running.url("PROJECTOR"), running.ports["NATS"], running.url("NATS_HTTP"))


def _post(run: Run, reports: list[dict[str, Any]]) -> dict[str, Any]:
    response = httpx.post(f"{run.ingest}/v1/activities/batch", json=reports, timeout=30,
                          headers={"Authorization": f"Bearer {run.token}"}, trust_env=False)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _kill_and_see_it_back(run: Run, name: str, marker: str, health_url: str) -> None:
    pid = run.child(marker)
    assert pid is not None, f"no {name} child of cungdan run"
    os.kill(pid, signal.SIGKILL)
    new_pid = wait_until(lambda: (p := run.child(marker)) not in (None, pid) and p,
                         f"{name} started again", within=60)
    wait_until(lambda: _healthy(health_url), f"{name} healthy again", within=60)
    logged = "\n".join(run.read_output())
    assert f"{name} (pid {pid}) died: killed by SIGKILL" in logged, logged
    wait_until(lambda: f"{name} restarted (pid {new_pid}), healthy"
               in "\n".join(run.read_output()), f"{name}'s restart logged", within=30)


def test_killed_children_come_back_and_totals_stay_exact(run: Run) -> None:
    rounds = [[report(measures={"road_km": "1.5", "citizen_turns": 120}) for _ in range(10)]
              for _ in range(4)]
    first = _post(run, rounds[0])
    assert first["counts"]["accepted"] == 10

    _kill_and_see_it_back(run, "ingest", "cungdan_ingest", run.ingest)
    again = _post(run, rounds[0] + rounds[1])  # the first ten again: duplicates
    assert (again["counts"]["duplicate"], again["counts"]["accepted"]) == (10, 10)

    _kill_and_see_it_back(run, "projector", "cungdan_projector", run.projector)
    third = _post(run, rounds[1] + rounds[2])
    assert (third["counts"]["duplicate"], third["counts"]["accepted"]) == (10, 10)

    _kill_and_see_it_back(run, "nats-server", f"-p {run.nats_port} ", run.nats_monitor)
    last = wait_until(lambda: _post_when_ready(run, rounds[3]), "ingest publishing again",
                      within=60)
    assert last["counts"]["accepted"] + last["counts"]["duplicate"] == 10
    seq = max(r.get("seq", 0) for r in last["results"])
    wait_until_projected(run.projector, seq, timeout=60)
    totals = httpx.get(f"{run.projector}/v1/totals/VN", params={"map": "legacy"},
                       trust_env=False, timeout=10).json()["totals"]
    assert {k: Decimal(v) for k, v in totals.items()} == {
        "road_km": Decimal("60"), "citizen_turns": Decimal(4800)}


def _post_when_ready(run: Run, reports: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The answer once every report was accepted (just after the broker's restart, ingest
    may answer `unavailable` until it has reconnected: nothing taken, sent again)."""
    response = httpx.post(f"{run.ingest}/v1/activities/batch", json=reports, timeout=30,
                          headers={"Authorization": f"Bearer {run.token}"}, trust_env=False)
    if response.status_code != 200:
        return None
    body: dict[str, Any] = response.json()
    return body if body["counts"].get("unavailable", 0) == 0 else None
