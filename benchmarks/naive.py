"""The naive projector the real one is compared with: decode, then one transaction per event.

It reads the same stream with the same kind of consumer (ordered push), decodes each message
with the contracts' ``decode_event``, rolls it up by the read model's rule (each quantity, in
integer units, to its locality and every locality above it, per campaign, indicator and
day), and commits every event in its own transaction: its id, an upsert of each total row it
touches, and the new position. Its tables have the read model's shape but are its own, and
so is its ten-line rollup, so the comparison does not depend on the projector's internals.
SQLite runs with the projector's settings (WAL, ``synchronous=NORMAL``, ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Engine,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite

from cungdan_contracts import (
    INDICATORS,
    ActivityLogged,
    Gazetteer,
    decode_event,
    load_gazetteer,
    to_units,
)
from cungdan_contracts.subjects import ALL_LOGGED, STREAM

from .natsload import connect

metadata = MetaData()
totals = Table(
    "naive_totals", metadata,
    Column("map", String(8), nullable=False),
    Column("locality", String(8), nullable=False),
    Column("campaign", String(64), nullable=False),
    Column("indicator", String(64), nullable=False),
    Column("day", Date, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("events", Integer, nullable=False),
    PrimaryKeyConstraint("map", "locality", "campaign", "indicator", "day"),
)
applied = Table(
    "naive_applied_events", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)
position = Table(
    "naive_position", metadata,
    Column("projection", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)


@dataclass
class NaiveResult:
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def sqlite_engine(path: Path) -> Engine:
    """SQLite as the projector sets it up: WAL, synchronous=NORMAL, explicit BEGINs."""
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def rows_of(event: ActivityLogged, gazetteer: Gazetteer) -> list[dict[str, Any]]:
    """The total rows one event adds to: its locality and every one above it."""
    activity = event.activity
    path = gazetteer.ancestors(event.map, activity.locality)
    return [{"map": event.map.value, "locality": locality, "campaign": activity.campaign,
             "indicator": code, "day": activity.date, "events": 1,
             "amount": to_units(quantity, INDICATORS[code].scale)}
            for code, quantity in activity.measures.items() for locality in path]


def _set_position(conn: Connection, seq: int) -> None:
    updated = conn.execute(position.update().where(position.c.projection == "naive")
                           .values(seq=seq))
    if updated.rowcount == 0:
        conn.execute(position.insert().values(projection="naive", seq=seq))


async def run_naive(nats_url: str, engine: Engine, upto: int,
                    deadline_seconds: float = 300.0) -> NaiveResult:
    """Project sequences 1..``upto`` one transaction per event; time from the first commit."""
    metadata.create_all(engine)
    is_sqlite = engine.dialect.name == "sqlite"
    insert = (sqlite.insert if is_sqlite else postgresql.insert)(totals)
    upsert = insert.on_conflict_do_update(
        index_elements=["map", "locality", "campaign", "indicator", "day"],
        set_={"amount": totals.c.amount + insert.excluded.amount,
              "events": totals.c.events + insert.excluded.events})
    gazetteer = load_gazetteer()
    queue: asyncio.Queue[Msg] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_seconds
    count = 0
    first = last = 0.0
    async with connect(nats_url) as nc:
        sub = await nc.jetstream().subscribe(
            ALL_LOGGED, stream=STREAM, ordered_consumer=True, cb=queue.put,
            deliver_policy=DeliverPolicy.ALL, idle_heartbeat=2.0)
        try:
            while loop.time() < deadline:
                msg = await asyncio.wait_for(queue.get(), max(0.1, deadline - loop.time()))
                seq = msg.metadata.sequence.stream
                decoded = decode_event(msg.data)
                with engine.connect() as conn, conn.begin():
                    if isinstance(decoded, ActivityLogged):  # the bench streams hold only these
                        conn.execute(applied.insert(), {"event_id": str(decoded.id),
                                                        "seq": seq})
                        conn.execute(upsert, rows_of(decoded, gazetteer))
                    _set_position(conn, seq)
                count += 1
                last = time.perf_counter()
                if count == 1:
                    first = last
                if seq >= upto:
                    break
        finally:
            await sub.unsubscribe()
            engine.dispose()
    # The first event carries the connection set-up: count the rest over their span.
    return NaiveResult(count - 1, last - first)
