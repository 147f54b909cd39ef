"""The broker as a three-node JetStream cluster (issue 21, part 2): losing a node costs an
election, not an event.

- The stream's leader is SIGKILLed while clients post: every report answered 202 or
  duplicate is in the stream once and counted once; meanwhile ingest answers 503 with
  Retry-After, never a 500 (how long is printed: the election window); the projector goes
  on; the killed node, started again, catches up by itself.
- Two nodes of three are SIGKILLed: no quorum, ingest answers 503 and stores nothing;
  nothing acknowledged before is lost; once they are back everything catches up. Ingest's
  /readyz says not ready meanwhile (the lone replica answers stream info itself after a
  few seconds, without a leader); the projector's is printed.

Each test ends with the totals compared to an independent recount of the stream, and the
read model's ledger (every id once).
"""

from __future__ import annotations

import time

import httpx
import pytest
from tests.fault.faultkit import (
    MakeStack,
    compare_totals,
    http_client,
    ledger,
    projector_position,
    read_stream,
    reader_url,
    ready_reason,
    recount,
    sqlite_read_model,
    stream_last_seq,
    wait_projected,
    wait_until,
)
from tests.fault.posting import Traffic, make_clients, span
from tests.kits.cluster import stream_view, wait_caught_up, wait_leader

from cungdan.stack import Stack

pytestmark = [pytest.mark.fault, pytest.mark.integration, pytest.mark.timeout(240)]

STREAM = "CUNGDAN_ACTIVITY"
DEADLETTERS = "CUNGDAN_DEADLETTER"
SEED = 21_000
SINGLES, BATCHES = 2, 2
REPORTS_PER_CLIENT = 4000
"""An upper bound: clients stop when told to, well before."""
PAUSE = 0.01
"""Seconds between two requests of a client (3 nats-servers, ingest and projector share
2 cores with them)."""
BEFORE, AFTER, NO_QUORUM = 2.0, 2.0, 5.0
"""Seconds of traffic before the kill, after ingest accepts again, and without quorum."""
GRACE = 0.5
"""A request sent this long after the kill cannot have been stored before it."""


def _cluster(make_stack: MakeStack) -> Stack:
    stack = make_stack(cluster=True, extra_env={"CUNGDAN_PUBLISH_TIMEOUT_SECONDS": "3"})
    leader = wait_leader(stack.broker, STREAM, timeout=30)
    view = stream_view(leader, STREAM)
    assert view is not None and len(view.replicas) == 3, view
    dead_letters = wait_leader(stack.broker, DEADLETTERS, timeout=30)
    view = stream_view(dead_letters, DEADLETTERS)
    assert view is not None and len(view.replicas) == 3, view  # as many as the stream's
    return stack


def _traffic(stack: Stack) -> Traffic:
    return Traffic(make_clients(stack.ingest_url, seed=SEED, singles=SINGLES, batches=BATCHES,
                                reports_per_client=REPORTS_PER_CLIENT, pause=PAUSE))


def _check_stream(stack: Stack, traffic: Traffic) -> str:
    """Every confirmed report in the stream once, at the sequence it was confirmed with;
    nothing else there; the totals and the read model exact. Returns a summary."""
    confirmed, sent = traffic.confirmed(), traffic.sent()
    messages = read_stream(reader_url(stack))
    expected = recount(messages)
    in_stream = {m.activity_id: m.seq for m in messages}
    comparison = compare_totals(stack.projector_url, expected, seed=SEED)
    tally = ledger(expected, sqlite_read_model(stack.config.data_dir / "readmodel.sqlite3"))
    assert expected.repeated_ids == {}, list(expected.repeated_ids.items())[:10]
    missing = confirmed.keys() - in_stream.keys()
    assert not missing, (f"{len(missing)} confirmed reports not in the stream, e.g. "
                         f"{sorted(missing)[:5]}")
    wrong_seq = {i: (s, in_stream[i]) for i, s in confirmed.items() if in_stream[i] != s}
    assert not wrong_seq, list(wrong_seq.items())[:5]
    assert in_stream.keys() <= sent, "the stream holds ids no client sent"
    assert in_stream.keys() == confirmed.keys(), "stored but never confirmed to a client"
    assert comparison.ok, comparison.report()
    assert tally.exact, tally
    return f"reports confirmed {len(confirmed)}; read model: {tally}; {comparison}"


def _every_node_holds_the_stream(stack: Stack, timeout: float) -> float:
    """Wait until each node holds what the leader holds; how long that took."""
    began = time.monotonic()
    views = [wait_caught_up(stack.broker, node, STREAM, timeout=timeout)
             for node in stack.broker.nodes]
    assert len({(v.messages, v.last_seq) for v in views}) == 1, views
    return time.monotonic() - began


def _load_without_failures(traffic: Traffic) -> None:
    """Let the load run before any fault; nothing may fail yet."""
    time.sleep(BEFORE)
    assert not traffic.failures(), "failing before the kill:\n" + "\n".join(
        traffic.failures()[:4])


def _stop_and_confirm_all(traffic: Traffic) -> int:
    """Stop the load and send every unconfirmed request again until stored or answered
    duplicate; how many there were."""
    traffic.stop()
    retried: int = traffic.unconfirmed()
    traffic.retry_all(timeout=60)
    failures = traffic.failures()
    assert not failures, f"{len(failures)} failure(s):\n" + "\n".join(failures[:8])
    assert traffic.unconfirmed() == 0, "retries still refused after 60s"
    return retried


def _services_carried_on(stack: Stack, pids: tuple[int | None, int | None],
                         ingest: httpx.Client, projector: httpx.Client) -> int:
    """The same ingest and projector processes, both ready, the projector at the end of
    the stream; its position."""
    assert (stack.ingest.pid, stack.projector.pid) == pids, "a service was restarted"
    wait_until("ingest ready", lambda: ready_reason(ingest)[0] == 200, timeout=30)
    wait_until("projector ready", lambda: ready_reason(projector)[0] == 200, timeout=30)
    projected: int = wait_projected(projector, stream_last_seq(stack), timeout=60)
    return projected


def test_stream_leader_sigkilled_under_load(make_stack: MakeStack) -> None:
    started = time.monotonic()
    stack = _cluster(make_stack)
    pids = (stack.ingest.pid, stack.projector.pid)
    traffic = _traffic(stack)
    projector, ingest = http_client(stack.projector_url), http_client(stack.ingest_url)
    traffic.start()
    try:
        _load_without_failures(traffic)
        position_at_kill = projector_position(projector)
        leader = wait_leader(stack.broker, STREAM, timeout=5)
        before_kill = stream_last_seq(stack)
        leader.kill()
        killed_at = time.monotonic()
        successor = wait_leader(stack.broker, STREAM, timeout=30)
        elected_in = time.monotonic() - killed_at
        accepting_at = wait_until("ingest to store reports again",
                                  lambda: traffic.first_success_after(killed_at), timeout=30)
        time.sleep(AFTER)
        leader.start()  # same ports and store: it rejoins as a follower
        rejoined_at = time.monotonic()
        time.sleep(AFTER)
        retried = _stop_and_confirm_all(traffic)
        caught_up_in = _every_node_holds_the_stream(stack, timeout=60)
        caught_up_after = time.monotonic() - rejoined_at

        projected = _services_carried_on(stack, pids, ingest, projector)
    finally:
        traffic.stop_requested.set()
        projector.close()
        ingest.close()

    answers = traffic.answers()
    refusals = traffic.refusals_between(killed_at, rejoined_at)
    window = span(refusals)
    after_rejoin = traffic.refusals_between(rejoined_at, float("inf"))
    summary = _check_stream(stack, traffic)
    print(f"\n[cluster: leader SIGKILL] {leader.name} led {STREAM} and was killed at seq "
          f"{before_kill} (projector at {position_at_kill}); {successor.name} leads after "
          f"{elected_in:.1f}s; ingest stored reports again "
          f"{accepting_at - killed_at:.1f}s after the kill; "
          + (f"503s from {window[0] - killed_at:+.1f}s to {window[1] - killed_at:+.1f}s "
             f"({len(refusals)} answers, slowest "
             f"{max(a.ended - a.began for a in refusals):.2f}s)" if window else "no 503")
          + f"; 503s after it rejoined: {len(after_rejoin)}; answers "
          f"{dict(sorted(answers.items()))}; requests retried {retried}; {leader.name} "
          f"caught up {caught_up_after:.1f}s after its restart (waited {caught_up_in:.1f}s "
          f"once the load stopped); projector at {projected}; {summary}; "
          f"{time.monotonic() - started:.1f}s in all")

    assert set(answers) <= {200, 202, 503}, answers
    assert not traffic.refusals_between(0, killed_at), "503s before the kill"
    assert successor.name != leader.name


def test_two_of_three_down_no_quorum_nothing_lost(make_stack: MakeStack) -> None:
    started = time.monotonic()
    stack = _cluster(make_stack)
    pids = (stack.ingest.pid, stack.projector.pid)
    traffic = _traffic(stack)
    projector, ingest = http_client(stack.projector_url), http_client(stack.ingest_url)
    traffic.start()
    try:
        _load_without_failures(traffic)
        leader = wait_leader(stack.broker, STREAM, timeout=5)
        follower = next(n for n in stack.broker.nodes if n is not leader)
        survivor = next(n for n in stack.broker.nodes if n not in (leader, follower))
        for node in (leader, follower):
            node.kill()
        killed_at = time.monotonic()
        acknowledged = traffic.confirmed()  # before the kill, or stored just before it
        time.sleep(NO_QUORUM)
        readiness = {"ingest": ready_reason(ingest), "projector": ready_reason(projector)}
        ingest_unready = readiness["ingest"]
        for node in (leader, follower):
            node.start()
        back_at = time.monotonic()
        accepting_at = wait_until("ingest to store reports again",
                                  lambda: traffic.first_success_after(back_at), timeout=60)
        time.sleep(AFTER)
        _stop_and_confirm_all(traffic)
        caught_up_in = _every_node_holds_the_stream(stack, timeout=60)

        projected = _services_carried_on(stack, pids, ingest, projector)
    finally:
        traffic.stop_requested.set()
        projector.close()
        ingest.close()

    without_quorum = [a for a in traffic.log()
                      if a.began > killed_at + GRACE and a.ended < back_at]
    stored = [a for a in without_quorum if a.accepted]
    summary = _check_stream(stack, traffic)
    messages = {m.activity_id for m in read_stream(reader_url(stack))}
    lost = acknowledged.keys() - messages
    print(f"\n[cluster: two of three down] {leader.name} (leader) and {follower.name} killed, "
          f"{survivor.name} alone for {back_at - killed_at:.1f}s: "
          f"{len(without_quorum)} answers meanwhile "
          f"({sorted({a.status for a in without_quorum})}), readiness {readiness}; ingest "
          f"stored reports again {accepting_at - back_at:.1f}s after both were back; every "
          f"node caught up {caught_up_in:.1f}s after the load stopped; projector at "
          f"{projected}; acknowledged before the kill {len(acknowledged)}, lost {len(lost)}; "
          f"{summary}; {time.monotonic() - started:.1f}s in all")

    assert ingest_unready[0] == 503, f"ingest ready without a quorum: {ingest_unready}"
    assert without_quorum, "no request was answered while the quorum was lost"
    assert {a.status for a in without_quorum} == {503}, sorted(
        {a.status for a in without_quorum})
    assert not stored, f"{len(stored)} requests stored reports without a quorum"
    assert not lost, f"{len(lost)} acknowledged reports lost, e.g. {sorted(lost)[:5]}"
    assert set(traffic.answers()) <= {200, 202, 503}, traffic.answers()
