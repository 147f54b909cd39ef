"""``python -m benchmarks.ingest_cpu``: ingest's own CPU per report, without HTTP or NATS.

Runs the batch endpoint's steps in this process on loadgen reports (v1, as the bench sends
them, or ``--v2``) and prints the µs per report of each: parse the body, validate, build
the event (envelope, fingerprint, JSON), answer. With ``--publish``, also the client side
of publishing those events with the journal's headers into a throwaway nats-server (no
stream, no subscriber): through nats-py's ``publish``, and framed by the journal. This is
the steady figure behind ``ingest-batch``, whose ratio moves with the machine:

    python -m benchmarks.ingest_cpu --reports 20000 --publish
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import tempfile
import time
from pathlib import Path

import nats

from cungdan.processes import NatsServer
from cungdan_contracts import load_gazetteer, loads_exact
from cungdan_contracts.upcasting import upcast_report_v1_v2
from cungdan_ingest.frames import FramedPublisher
from cungdan_ingest.http import _item
from cungdan_ingest.journal import Outgoing, sent_headers
from cungdan_ingest.service import Outcome, to_outgoing
from cungdan_ingest.validation import ValidReport, today_in_vietnam, validate_report

from .events import reports

STEPS = ("parse", "validate", "event", "answer")


def batches(count: int, size: int, v2: bool) -> list[bytes]:
    raws = reports(count, seed=101)
    if v2:
        raws = [upcast_report_v1_v2(raw) for raw in raws]
    return [json.dumps(raws[i:i + size]).encode() for i in range(0, len(raws), size)]


def run(bodies: list[bytes]) -> tuple[dict[str, float], list[Outgoing]]:
    """Seconds spent in each step over all ``bodies``, and the events built."""
    gazetteer = load_gazetteer()
    now = dt.datetime.now(dt.UTC)
    today = today_in_vietnam(now)
    laps = [0.0] * len(STEPS)
    built_all: list[Outgoing] = []
    for body in bodies:
        began = time.perf_counter()
        raw = loads_exact(body)
        parsed = time.perf_counter()
        valid = [validate_report(r, gazetteer, today) for r in raw]
        validated = time.perf_counter()
        outgoing = [to_outgoing(v, now) for v in valid if isinstance(v, ValidReport)]
        built = time.perf_counter()
        if len(outgoing) != len(raw):
            raise SystemExit(f"{len(raw) - len(outgoing)} reports were refused: {valid}")
        json.dumps({"results": [_item(i, Outcome("accepted", m.headers["Nats-Msg-Id"], i))
                                for i, m in enumerate(outgoing)]})
        answered = time.perf_counter()
        for step, lap in enumerate((parsed - began, validated - parsed, built - validated,
                                    answered - built)):
            laps[step] += lap
        built_all += outgoing
    return dict(zip(STEPS, laps, strict=True)), built_all


async def publishing(url: str, messages: list[Outgoing]) -> dict[str, float]:
    """µs per message on the client's side: nats-py's ``publish``, and framed."""
    nc = await nats.connect(url, pending_size=0)  # no flush forced halfway: both ways queue
    framed = FramedPublisher(nc)
    assert framed.framed, "this nats-py lacks the internals the journal frames through"
    headers = [sent_headers(m, "BENCH") for m in messages]
    spent = {"nats-py publish": 0.0, "framed": 0.0}
    for _ in range(3):
        for way in spent:
            began = time.perf_counter()
            for n, (m, h) in enumerate(zip(messages, headers, strict=True)):
                if way == "framed":
                    await framed.publish(m.subject, f"_INBOX.bench.{n}", h, m.payload)
                else:
                    await nc.publish(m.subject, m.payload, f"_INBOX.bench.{n}", h)
            spent[way] += time.perf_counter() - began
            await nc.flush()
    await nc.close()
    return {way: seconds / 3 / len(messages) * 1e6 for way, seconds in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--v2", action="store_true", help="send v2 reports instead of v1")
    parser.add_argument("--rounds", type=int, default=3, help="the fastest round is shown")
    parser.add_argument("--publish", action="store_true",
                        help="also time publishing the events (starts a nats-server)")
    args = parser.parse_args()
    bodies = batches(args.reports, args.batch, args.v2)
    gc.collect()
    gc.freeze()  # the reports built above are not the service's garbage
    rounds = [run(bodies) for _ in range(args.rounds)]
    best, messages = min(rounds, key=lambda spent_built: sum(spent_built[0].values()))
    per = {step: seconds / args.reports * 1e6 for step, seconds in best.items()}
    print(" · ".join(f"{step} {us:.1f}" for step, us in per.items())
          + f" · total {sum(per.values()):.1f} µs/report "
          f"({'v2' if args.v2 else 'v1'}, batches of {args.batch}, best of {args.rounds})")
    if args.publish:
        with tempfile.TemporaryDirectory(prefix="cungdan-ingest-cpu-") as workdir, \
                NatsServer(Path(workdir) / "nats") as server:
            costs = asyncio.run(publishing(server.url, messages))
        print("publish with the journal's headers: " + " · ".join(
            f"{way} {us:.1f}" for way, us in costs.items()) + " µs/message")


if __name__ == "__main__":
    main()
