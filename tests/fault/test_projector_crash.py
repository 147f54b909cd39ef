"""Crash safety of the projector: SIGKILLed again and again while it applies, it loses nothing
and counts nothing twice (issue "Failure-proof projection", item 2)."""

from __future__ import annotations

import random
import time
import warnings
from dataclasses import dataclass

import pytest
from tests.fault.faultkit import (
    Feeder,
    MakeStack,
    compare_totals,
    http_client,
    ledger,
    projector_position,
    read_stream,
    reader_url,
    recount,
    sqlite_read_model,
    stream_last_seq,
    wait_projected,
)
from tests.kits.loadgen import random_reports

pytestmark = [pytest.mark.fault, pytest.mark.integration, pytest.mark.timeout(240)]

SEED = 20240615
EVENTS = 100_000
"""Fed through the ingest batch endpoint, 1,000 per batch: enough that the projector is
still behind at most of the 12 kills (at 50,000 it caught up after about 6)."""
BACKLOG = 15_000
"""Fed before the projector first starts, so that it has work in hand from the first kill."""
KILLS = 12
DELAY = (0.3, 1.5)
"""Seconds the projector runs (after it answers /healthz) before the next SIGKILL."""


@dataclass(frozen=True)
class Kill:
    after: float
    position: int
    last_seq: int
    moved: bool

    @property
    def mid_projection(self) -> bool:
        return self.position < self.last_seq


def test_sigkilled_projector_loses_nothing_and_counts_nothing_twice(
    make_stack: MakeStack,
) -> None:
    started = time.monotonic()
    rng = random.Random(SEED)
    # Batches of 2,000 (default 10,000): a projector killed within 0.3-1.5 s of answering
    # /healthz then commits between most kills, so kills land between commits as well as
    # inside them. With 10,000 its first commit comes after ~1.5 s.
    stack = make_stack(start=False, extra_env={"CUNGDAN_BATCH_MAX": "2000"})
    stack.nats.start()
    stack.ingest.start()
    reports = list(random_reports(EVENTS, seed=SEED))
    feeder = Feeder(stack.ingest_url, reports, batch=1000)
    feeder.start()
    kills: list[Kill] = []
    try:
        while feeder.is_alive() and feeder.batches_sent * 1000 < BACKLOG:
            time.sleep(0.05)
        feeder.check()
        stack.projector.start()
        with http_client(stack.projector_url) as projector:
            previous = 0
            for _ in range(KILLS):
                feeder.check()
                after = rng.uniform(*DELAY)
                time.sleep(after)
                position = projector_position(projector)
                last_seq = stream_last_seq(stack)
                stack.projector.kill()
                kills.append(Kill(after, position, last_seq, position > previous))
                previous = position
                stack.projector.start()

            feeder.finish(timeout=120)
            assert feeder.counts["accepted"] == EVENTS, feeder.counts
            last_seq = stream_last_seq(stack)
            assert last_seq == feeder.last_seq == EVENTS
            caught_up_in = time.monotonic()
            wait_projected(projector, last_seq, timeout=120)
            caught_up_in = time.monotonic() - caught_up_in
    finally:
        feeder.stop_requested.set()

    messages = read_stream(reader_url(stack))
    expected = recount(messages)
    comparison = compare_totals(stack.projector_url, expected, seed=SEED)
    tally = ledger(expected, sqlite_read_model(stack.config.data_dir / "readmodel.sqlite3"))

    mid = sum(k.mid_projection for k in kills)
    moved = sum(k.moved for k in kills)
    print(f"\n[projector crash] kills {len(kills)}, mid-projection {mid}, position moved "
          f"between kills {moved}; {tally}; {comparison}; caught up "
          f"{caught_up_in:.1f}s after the last kill; {time.monotonic() - started:.1f}s in all")
    for n, k in enumerate(kills, 1):
        print(f"  kill {n:2d} after {k.after:.2f}s: position {k.position:6d} / stream "
              f"{k.last_seq:6d}{'  (mid-projection)' if k.mid_projection else ''}"
              f"{'' if k.moved else '  (position did not move)'}")

    assert len(kills) == KILLS
    # How many kills hit mid-projection depends on the machine's speed (a fast one catches
    # up between kills): not an outcome, so it is shown, and warned about when few did.
    if mid <= len(kills) // 2 or moved <= len(kills) // 2:
        warnings.warn(f"only {mid} of {len(kills)} kills hit mid-projection, and the position "
                      f"moved between {moved}: the run proves less than it could",
                      stacklevel=1)
    assert expected.messages >= 50_000
    assert expected.repeated_ids == {}
    assert comparison.ok, comparison.report()
    assert tally.exact, tally
