"""Two projector processes on one PostgreSQL read model: the one applying is SIGKILLed
(the first time while reports flow in) and the standby takes over within 10 s; twice, the
killed one coming back as the standby in between. Reads never stop on the standby, and the
totals equal an independent recount from the stream: nothing lost, nothing counted twice
(issue 21, part 3).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import psycopg
import pytest
from tests.fault.faultkit import (
    Feeder,
    MakeStack,
    compare_totals,
    http_client,
    ledger,
    postgres_read_model,
    projector_position,
    read_stream,
    recount,
    stream_last_seq,
    wait_projected,
    wait_until,
)
from tests.kits.loadgen import random_reports
from tests.kits.postgres import PostgresCluster

from cungdan.processes import ServiceProcess, free_port
from cungdan.stack import Stack

try:
    from tests.fault.faultkit import reader_url
except ImportError:  # before the broker's users (issue 21 part 2): no credentials needed

    def reader_url(stack: Stack) -> str:
        return stack.nats.url

pytestmark = [pytest.mark.fault, pytest.mark.integration, pytest.mark.timeout(240)]

SEED = 2121
EVENTS = 30_000
"""Fed in the background, 1,000 per batch, while the holders are killed."""
FIRST_KILL_AT = 3_000
"""The first holder is killed once it has applied this much (the feeder still runs)."""
AFTER_KILL = 500
"""Fed right after each kill: the new holder must apply events published after it."""
KILLS = 2
TAKEOVER_LIMIT = 10.0
"""Seconds from the SIGKILL until the standby applies (issue 21)."""
NAMES = ("projector-a", "projector-b")


@dataclass(frozen=True)
class Takeover:
    killed: str
    position_at_kill: int
    feeding: bool
    """Whether the background feeder was still posting at the kill."""
    applying_after: float
    """Seconds from the SIGKILL until the standby's /readyz said it applies."""
    resumed_after: float
    """Seconds from the SIGKILL until the standby committed its first batch."""
    caught_up_after: float
    """Seconds from the SIGKILL until the events fed after it were applied."""
    reads: int
    failed_reads: int
    """Reads of the totals sent to the standby meanwhile, and those not answered 200."""


def second_projector(stack: Stack, name: str) -> ServiceProcess:
    """Another projector process of the stack: same stream and read model, its own port."""
    port = free_port()
    env = {**stack.projector.env, "CUNGDAN_PROJECTOR_PORT": str(port),
           "CUNGDAN_INSTANCE_NAME": name}
    return ServiceProcess(list(stack.projector.args), port=port, host=stack.config.host,
                          log_file=stack.config.data_dir / "logs" / f"{name}.log", env=env)


def readiness(url: str) -> dict[str, object]:
    response = httpx.get(f"{url}/readyz", timeout=2.0, trust_env=False)
    body: dict[str, object] = response.json()
    return body


def database_position(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT position FROM generations WHERE status = 'active'").fetchone()
    return int(row[0]) if row else 0


def test_a_standby_takes_over_from_a_sigkilled_projector_within_10s(
    postgres_cluster: PostgresCluster, pg_database: tuple[str, str], make_stack: MakeStack,
) -> None:
    started = time.monotonic()
    database_url, conninfo = pg_database
    # batches of 2,000 (10,000 by default): a kill lands in a commit more often
    stack = make_stack(database_url=database_url, start=False, extra_env={
        "CUNGDAN_BATCH_MAX": "2000", "CUNGDAN_INSTANCE_NAME": NAMES[0]})
    stack.nats.start()
    stack.ingest.start()
    processes = {NAMES[0]: stack.projector, NAMES[1]: second_projector(stack, NAMES[1])}
    urls = {name: f"http://{stack.config.host}:{p.port}" for name, p in processes.items()}
    reports = list(random_reports(EVENTS + KILLS * AFTER_KILL, seed=SEED))
    feeder = Feeder(stack.ingest_url, reports[:EVENTS], batch=1000)
    takeovers: list[Takeover] = []
    try:
        for process in processes.values():
            process.start()
        first = readiness(urls[NAMES[0]])
        assert (first["role"], first["applying_instance"]) == ("applying", NAMES[0]), first
        second = readiness(urls[NAMES[1]])
        assert (second["status"], second["role"]) == ("ready", "standby"), second
        feeder.start()
        fed = EVENTS
        holder, standby = NAMES
        for _ in range(KILLS):
            with http_client(urls[holder]) as client:
                least = FIRST_KILL_AT if not takeovers else 1
                wait_until(f"{holder} to apply {least} events",
                           lambda c=client, n=least: projector_position(c) >= n,
                           timeout=60, interval=0.05)
                position_at_kill = projector_position(client)
            feeding = feeder.is_alive()
            processes[holder].kill()
            killed = time.monotonic()
            final = database_position(conninfo)  # the killed holder commits nothing more
            after = Feeder(stack.ingest_url, reports[fed:fed + AFTER_KILL], batch=AFTER_KILL)
            after.feed()
            fed += AFTER_KILL
            reads = failed = 0
            applying_after = resumed_after = None
            with http_client(urls[standby]) as client:
                while time.monotonic() - killed < 60:
                    response = client.get("/v1/totals/VN", params={"period": "1999"})
                    reads += 1
                    failed += response.status_code != 200
                    now = time.monotonic() - killed
                    if applying_after is None and readiness(urls[standby])["role"] == "applying":
                        applying_after = now
                    if (applying_after is not None and response.status_code == 200
                            and response.json()["position"] > final):
                        resumed_after = now
                        break
                    time.sleep(0.05)
                assert applying_after is not None and resumed_after is not None, (
                    f"{standby} did not take over within 60 s")
                wait_projected(client, after.last_seq, timeout=60)
            takeovers.append(Takeover(holder, position_at_kill, feeding, applying_after,
                                      resumed_after, time.monotonic() - killed, reads, failed))
            processes[holder].start()  # back, as the standby
            back = readiness(urls[holder])
            assert (back["role"], back["applying_instance"]) == ("standby", standby), back
            holder, standby = standby, holder

        feeder.finish(timeout=120)
        assert feeder.counts["accepted"] == EVENTS, feeder.counts
        last_seq = stream_last_seq(stack)
        assert last_seq == EVENTS + KILLS * AFTER_KILL
        for url in urls.values():
            with http_client(url) as client:
                wait_projected(client, last_seq, timeout=120)
        messages = read_stream(reader_url(stack))
        expected = recount(messages)
        comparison = compare_totals(urls[holder], expected, seed=SEED)
        on_standby = compare_totals(urls[standby], expected, communes=10, seed=SEED + 1)
        tally = ledger(expected, postgres_read_model(conninfo))
    finally:
        feeder.stop_requested.set()
        processes[NAMES[1]].stop()  # the stack stops the other one
    print(f"\n[projector takeover] {tally}; applying: {comparison}; standby: {on_standby}; "
          f"{time.monotonic() - started:.1f}s in all")
    for n, t in enumerate(takeovers, 1):
        print(f"  kill {n}: {t.killed} at position {t.position_at_kill}"
              f"{' while reports flowed in' if t.feeding else ''}; the standby applies "
              f"after {t.applying_after:.2f}s, commits after {t.resumed_after:.2f}s, has the "
              f"events fed after the kill after {t.caught_up_after:.2f}s; "
              f"{t.failed_reads} of {t.reads} reads on it failed meanwhile")

    assert len(takeovers) == KILLS
    for t in takeovers:
        assert t.resumed_after < TAKEOVER_LIMIT, t
        assert t.failed_reads == 0, t
    assert expected.repeated_ids == {}
    assert comparison.ok, comparison.report()
    assert on_standby.ok, on_standby.report()
    assert tally.exact, tally
