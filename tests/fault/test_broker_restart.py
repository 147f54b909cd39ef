"""The broker crashes under load: nats-server is SIGKILLed and restarted (same port and store)
while clients keep posting (issue "Failure-proof projection", item 3).

Every report answered 202 or 200 is in the stream exactly once; while the broker is down
clients get a prompt 503 with Retry-After (never a 500, never a hang); their retries then
succeed; ingest and projector reconnect by themselves and the totals equal the recount."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from tests.fault.faultkit import (
    MakeStack,
    compare_totals,
    http_client,
    ledger,
    read_stream,
    reader_url,
    ready_reason,
    recount,
    sqlite_read_model,
    stream_last_seq,
    wait_projected,
    wait_until,
)
from tests.fault.posting import CLIENT_TIMEOUT, Client, make_clients

pytestmark = [pytest.mark.fault, pytest.mark.integration, pytest.mark.timeout(180)]

SEED = 7300
SINGLE_CLIENTS = 2
BATCH_CLIENTS = 2
REPORTS_PER_CLIENT = 4000
"""An upper bound: clients stop when told to, usually well before."""
BEFORE, DOWN, AFTER = 2.0, 4.0, 3.0
"""Seconds of traffic before the kill, with the broker down, after its restart."""


def test_broker_sigkill_under_load_loses_and_doubles_nothing(make_stack: MakeStack) -> None:
    started = time.monotonic()
    stack = make_stack(extra_env={"CUNGDAN_PUBLISH_TIMEOUT_SECONDS": "3"})
    ingest_pid, projector_pid = stack.ingest.pid, stack.projector.pid
    clients: list[Client] = make_clients(
        stack.ingest_url, seed=SEED, singles=SINGLE_CLIENTS, batches=BATCH_CLIENTS,
        reports_per_client=REPORTS_PER_CLIENT)
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(stop,), name=c.name, daemon=True)
               for c in clients]
    for thread in threads:
        thread.start()
    projector = http_client(stack.projector_url)
    ingest = http_client(stack.ingest_url)
    try:
        time.sleep(BEFORE)
        early = [f"{c.name}: {f}" for c in clients for f in c.failures]
        assert not early, "failing before the broker was touched:\n" + "\n".join(early[:4])
        before_kill = stream_last_seq(stack)
        stack.nats.kill()
        killed_at = time.monotonic()
        down_readiness: dict[str, tuple[int, str]] = {}
        time.sleep(DOWN / 2)
        down_readiness["ingest"] = ready_reason(ingest)
        down_readiness["projector"] = ready_reason(projector)
        time.sleep(DOWN / 2)
        stack.nats.restart()
        restarted_at = time.monotonic()
        restarted_in = restarted_at - killed_at
        time.sleep(AFTER)
        stop.set()
        for thread in threads:
            thread.join(CLIENT_TIMEOUT + 5)
        assert not any(t.is_alive() for t in threads), "a client is stuck"

        answers = sum((c.answers for c in clients), Counter())
        accepting_again = min((t for c in clients for t in c.successes if t > restarted_at),
                              default=float("nan")) - restarted_at
        retried_requests = sum(len(c.retry) for c in clients)
        deadline = time.monotonic() + 60
        for c in clients:
            c.retry_all(deadline)
        failures = [f"{c.name}: {f}" for c in clients for f in c.failures]
        assert not failures, f"{len(failures)} failure(s):\n" + "\n".join(failures[:8])
        assert not [r for c in clients for r in c.retry], "retries still refused after 60s"

        # Neither service was restarted: both are ready again by themselves.
        assert (stack.ingest.pid, stack.projector.pid) == (ingest_pid, projector_pid)
        wait_until("ingest ready", lambda: ready_reason(ingest)[0] == 200, timeout=30)
        wait_until("projector ready", lambda: ready_reason(projector)[0] == 200, timeout=30)

        confirmed: dict[str, int] = {}
        for c in clients:
            confirmed.update(c.confirmed)
        sent = set().union(*(c.sent for c in clients))
        last_seq = stream_last_seq(stack)
        wait_projected(projector, last_seq, timeout=60)
    finally:
        stop.set()
        projector.close()
        ingest.close()

    messages = read_stream(reader_url(stack))
    expected = recount(messages)
    in_stream = {m.activity_id: m.seq for m in messages}
    comparison = compare_totals(stack.projector_url, expected, seed=SEED)
    tally = ledger(expected, sqlite_read_model(stack.config.data_dir / "readmodel.sqlite3"))
    durations = [d for c in clients for d in c.durations_503]
    print(f"\n[broker restart] broker down {restarted_in:.1f}s after {before_kill} events; "
          f"answers {dict(sorted(answers.items()))}; 503s {len(durations)} (slowest "
          f"{max(durations, default=0):.2f}s), requests retried {retried_requests}; reports "
          f"confirmed {len(confirmed)}; stream: {len(expected.repeated_ids)} ids stored twice; "
          f"read model: {tally}; "
          f"{comparison}; readiness while down {down_readiness}; ingest "
          f"accepting again {accepting_again:.1f}s after the broker restarted; "
          f"{time.monotonic() - started:.1f}s in all")

    assert answers[503] > 0, "no client ever saw the broker down"
    assert set(answers) <= {200, 202, 503}, answers
    assert expected.repeated_ids == {}, list(expected.repeated_ids.items())[:10]
    missing = confirmed.keys() - in_stream.keys()
    assert not missing, f"{len(missing)} confirmed reports not in the stream, e.g. " \
                        f"{sorted(missing)[:5]}"
    wrong_seq = {i: (s, in_stream[i]) for i, s in confirmed.items() if in_stream[i] != s}
    assert not wrong_seq, list(wrong_seq.items())[:5]
    assert in_stream.keys() <= sent, "the stream holds ids no client sent"
    assert in_stream.keys() == confirmed.keys(), "stored but never confirmed to a client"
    assert comparison.ok, comparison.report()
    assert tally.exact, tally
