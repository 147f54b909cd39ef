"""The read model's database engine: SQLite (the embedded default) or PostgreSQL.

SQLite is tuned for a projector that upserts all over tables of millions of rows
(figures in ``docs/benchmarks.md``):

- bigger pages than the default, for a database created from now on: scattered upserts
  walk shallower B-trees (an existing database keeps its page size);
- WAL with ``synchronous=NORMAL``, checkpointed every :data:`WAL_CHECKPOINT_BYTES`: a
  page that several batches change is copied back once per checkpoint. A catching-up
  batch (a rebuild, a backlog) checkpoints far less often, since nobody waits on its
  commit; a live one keeps the smaller interval, because the commit that checkpoints
  stalls reads' freshness for longer with a bigger WAL;
- a writer gets a bigger page cache than the default;
- ``BEGIN IMMEDIATE`` for writers, so the write lock is taken at the start.

A PostgreSQL URL may carry a lease epoch (:func:`.fence.fenced_url`): the engine's
transactions are then fenced with it (:mod:`.fence`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from .fence import install_fence, split_epoch

PAGE_SIZE = 16384
"""SQLite page size of a new read model (bytes)."""
WAL_CHECKPOINT_BYTES = 40 * 1024 * 1024
"""WAL size (bytes) at which a live commit copies it back into the database."""
CATCH_UP_WAL_CHECKPOINT_BYTES = 320 * 1024 * 1024
"""The same, for the commits of a projection that is catching up (see :data:`CATCH_UP_BATCH`).
The WAL file is cut back to the live size at the first live checkpoint
(``journal_size_limit``)."""
CATCH_UP_BATCH = 1_000
"""A batch of at least this many events means the projection is behind the stream (a
rebuild, a backlog): nobody waits on a single event's commit, and throughput counts."""
WRITER_CACHE_KIB = 32 * 1024
"""SQLite page cache of a connection once it has written (each connection has its own)."""


def make_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, real BEGINs) or PostgreSQL (psycopg 3, fenced if the URL
    carries a lease epoch)."""
    parsed, epoch = split_epoch(make_url(url))
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # LIFO: the connection used last is used next, so one warm connection (and one
        # page cache) serves the writes instead of every pooled connection in turn.
        engine = create_engine(parsed, connect_args={"timeout": 30}, pool_use_lifo=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, pool_pre_ping=True)
    if epoch is not None:
        install_fence(engine, epoch)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" hook emit BEGIN
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA page_size={PAGE_SIZE}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    page = cursor.execute("PRAGMA page_size").fetchone()[0]
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_BYTES // page}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    options = conn.get_execution_options()
    mode = options.get("sqlite_begin", "DEFERRED")
    if mode == "IMMEDIATE":  # a writer
        conn.exec_driver_sql(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
        # the checkpoint interval of this transaction's commit (a connection setting:
        # every write transaction sets its own)
        checkpoint = options.get("sqlite_checkpoint_bytes", WAL_CHECKPOINT_BYTES)
        page = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={checkpoint // page}")
        conn.exec_driver_sql(f"PRAGMA journal_size_limit={checkpoint}")
    conn.exec_driver_sql(f"BEGIN {mode}")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def writing(engine: Engine, *, catching_up: bool = False) -> Iterator[Connection]:
    """A write transaction (SQLite: the write lock is taken at BEGIN; ``catching_up``:
    the WAL is copied back less often, see :data:`CATCH_UP_WAL_CHECKPOINT_BYTES`)."""
    checkpoint = CATCH_UP_WAL_CHECKPOINT_BYTES if catching_up else WAL_CHECKPOINT_BYTES
    with engine.connect().execution_options(
            sqlite_begin="IMMEDIATE", sqlite_checkpoint_bytes=checkpoint) as conn, \
            conn.begin():
        yield conn


def ping(engine: Engine) -> None:
    """Raises if the database does not answer."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
