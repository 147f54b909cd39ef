"""``python -m benchmarks.apply``: the store alone, without NATS, HTTP or a writer process.

Applies decoded bench events to a fresh read model (SQLite, or PostgreSQL) in batches, in
this process, and prints the time per event for each 100,000 (it grows with the tables).
This is the "micro" figure of docs/benchmarks.md, for A/B tests of the store and its settings:

    python -m benchmarks.apply --events 400000 --batch 10000
    python -m benchmarks.apply --postgres      # into a throwaway PostgreSQL cluster
    python -m benchmarks.apply --cpu           # CPU time instead of the clock's

``--cpu`` counts this process's CPU time instead of the clock's: a machine shared with
other work slows the clock far more than the CPU time.
"""

from __future__ import annotations

import argparse
import contextlib
import pickle
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.kits.postgres import PostgresCluster

from cungdan_contracts import load_gazetteer
from cungdan_projector.decoding import decode
from cungdan_projector.engine import make_engine
from cungdan_projector.generations import ReadModel
from cungdan_projector.items import Message
from cungdan_projector.rollup import PROJECTION_VERSION
from cungdan_projector.writer import Packed, pack, unpack

from .events import event_chunks

REPORT_EVERY = 100_000


def decoded(events: int, seed: int, cache: Path | None) -> list[Packed]:
    """The decoded events, packed as the writer receives them (cached in ``cache``)."""
    if cache is not None and cache.exists():
        packed: list[Packed] = pickle.loads(cache.read_bytes())  # noqa: S301 - our own file
        if len(packed) == events:
            return packed
    gazetteer = load_gazetteer()
    items: list[Message] = []
    for chunk in event_chunks(events, seed=seed):
        for event in chunk:
            items.append(decode(len(items) + 1, event.subject, event.payload, gazetteer))
    packed = pack(items)
    if cache is not None:
        cache.write_bytes(pickle.dumps(packed))
    return packed


@contextlib.contextmanager
def read_model_url(workdir: Path, postgres: bool) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{workdir / 'readmodel.sqlite3'}"
        return
    with PostgresCluster() as cluster:
        yield cluster.dsn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, help="keep the decoded events in this file")
    parser.add_argument("--postgres", action="store_true",
                        help="a throwaway PostgreSQL cluster instead of a SQLite file")
    parser.add_argument("--cpu", action="store_true",
                        help="this process's CPU time instead of the clock's")
    args = parser.parse_args()
    clock = time.process_time if args.cpu else time.perf_counter
    items = unpack(decoded(args.events, args.seed, args.cache))
    with tempfile.TemporaryDirectory(prefix="cungdan-apply-") as workdir, \
            read_model_url(Path(workdir), args.postgres) as url:
        model = ReadModel(make_engine(url))
        model.create_schema()
        store = model.create_generation(PROJECTION_VERSION, active=True)
        began = lap = clock()
        reported = 0
        for start in range(0, len(items), args.batch):
            store.apply(items[start:start + args.batch])
            done = min(start + args.batch, len(items))
            if done - reported >= REPORT_EVERY or done == len(items):
                now = clock()
                print(f"{done:>10,} applied: {(now - lap) / (done - reported) * 1e6:6.1f} "
                      f"µs/event over the last {done - reported:,}", flush=True)
                lap, reported = now, done
        total = clock() - began
        print(f"{len(items):,} events in {total:.1f} s: {total / len(items) * 1e6:.1f} µs/event; "
              f"{model.engine.dialect.name}; position {store.position():,}")
        model.engine.dispose()


if __name__ == "__main__":
    main()
