"""Which projector instance applies the stream: a lease, one holder per read model.

Several projector instances may share one PostgreSQL read model. All of them serve reads;
exactly one, the *holder*, applies the stream, and the others stand by to take over (the
"hot/cold" mode of Marten's async daemon). The lease is a session-level advisory lock:

- it is held on a connection of its own, outside any pool (a pooled connection would hand
  the lock to whoever borrowed it next), with TCP keepalives both ways;
- when the holder dies, its connection closes and PostgreSQL frees the lock at once; a
  standby polls for it every ``interval`` seconds and takes it;
- the holder checks its connection as often; once it fails, the lease is presumed lost
  (the lock goes with the session) and the holder steps down;
- each acquisition bumps the epoch in ``projector_lease`` and names the holder there. The
  holder writes only through connections fenced with its epoch (:mod:`.fence`), so
  whatever of an older holder outlives it for a moment commits nothing after the bump.

With SQLite, one projector owns its read-model file: :class:`SoleLease` is always held.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine, select, text

from .fence import LEASE_NAME, lease_table

if TYPE_CHECKING:  # imported where used: a SQLite projector never loads psycopg (~9 MiB)
    import psycopg

log = logging.getLogger("cungdan.projector")

LEASE_LOCK = 0x63756E6764616E01
"""The advisory lock of the lease ("cungdan" and 1 as a bigint); advisory locks are per
database, so each read model has its own."""
KEEPALIVES: dict[str, Any] = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 1,
                              "keepalives_count": 3, "tcp_user_timeout": 8000,
                              "connect_timeout": 5}
"""libpq options of the lease connection: a server gone silent is noticed within seconds."""
SERVER_KEEPALIVES = ("SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 1; "
                     "SET tcp_keepalives_count = 3")
"""And the server's side: a holder's machine gone silent frees the lock within seconds."""
TAKE = """
INSERT INTO projector_lease (name, epoch, holder, acquired_at)
VALUES (%(name)s, 1, %(holder)s, now())
ON CONFLICT (name) DO UPDATE
SET epoch = projector_lease.epoch + 1, holder = excluded.holder, acquired_at = now()
RETURNING epoch
"""
"""The new epoch: waits for the transactions that passed the fence of the last one."""
HELD = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = :high AND objid = :low AND objsubid = 1")
"""Whether some session holds the lease's lock (a bigint key shows as two halves)."""


@dataclass(frozen=True, slots=True)
class Holder:
    """Who took the lease last, and whether it still holds it."""

    name: str
    epoch: int
    since: dt.datetime
    holding: bool


class Lease(Protocol):
    instance: str
    """This instance's name, as the lease row and ``/readyz`` show it."""
    epoch: int | None
    """The epoch this instance holds the lease with (None: unfenced, or not held)."""

    async def try_acquire(self) -> bool:
        """Take the lease if nobody holds it (True), else leave it (False)."""

    async def lost(self) -> str:
        """Wait while the lease is held; return why it was lost. The epoch stays set: the
        caller stops applying first, then calls :meth:`release`, so an instance that shows
        itself applying always has its epoch."""

    async def release(self) -> None:
        """Give the lease up (a standby then takes it at its next poll)."""

    def holder(self, engine: Engine) -> Holder | None:
        """Who holds the lease, read from the database (blocking)."""


class SoleLease:
    """The lease of a read model only one projector uses (SQLite): always held, unfenced."""

    def __init__(self, instance: str) -> None:
        self.instance = instance
        self.epoch: int | None = None
        self._since = dt.datetime.now(dt.UTC)

    async def try_acquire(self) -> bool:
        return True

    async def lost(self) -> str:
        await asyncio.Event().wait()  # never
        return "never"

    async def release(self) -> None:
        return None

    def holder(self, engine: Engine) -> Holder | None:
        return Holder(self.instance, 0, self._since, True)


class AdvisoryLease:
    """The lease of a PostgreSQL read model (see the module's docstring)."""

    def __init__(self, connect_args: dict[str, Any], instance: str, *,
                 interval: float = 1.0) -> None:
        self._connect_args = {**connect_args, **KEEPALIVES,
                              "application_name": f"cungdan-projector lease {instance}"[:63]}
        self.instance = instance
        self.interval = interval
        self.epoch: int | None = None
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._failing: str | None = None

    @classmethod
    def of(cls, engine: Engine, instance: str, *, interval: float = 1.0) -> AdvisoryLease:
        """The lease of ``engine``'s database (connected as ``engine`` connects)."""
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        if args:
            raise ValueError(f"unexpected positional connect arguments for {engine.url!r}")
        return cls(dict(kwargs), instance, interval=interval)

    async def try_acquire(self) -> bool:
        import psycopg

        try:
            conn = await self._connection()
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)",
                                            (LEASE_LOCK,))).fetchone()
            if row is None or not row[0]:
                self._recovered()
                return False
            self.epoch = await self._take(conn)
        except (psycopg.Error, OSError, TimeoutError) as exc:
            self._failed(f"cannot reach the database for the lease: {exc.__class__.__name__}")
            await self._drop()
            return False
        self._recovered()
        log.info("took the lease with epoch %d: this instance (%s) applies the stream",
                 self.epoch, self.instance)
        return True

    async def _take(self, conn: psycopg.AsyncConnection[Any]) -> int:
        """Bump the epoch. It waits for the transactions that passed the previous epoch's
        fence (a batch in flight); says so every few seconds meanwhile."""
        import psycopg

        await conn.execute("SET lock_timeout = '5s'")
        while True:
            try:
                row = await (await conn.execute(
                    TAKE, {"name": LEASE_NAME, "holder": self.instance})).fetchone()
            except psycopg.errors.LockNotAvailable:
                log.warning("taking the lease: waiting for the previous holder's last "
                            "transaction to end")
                continue
            assert row is not None
            return int(row[0])

    async def lost(self) -> str:
        import psycopg

        assert self._conn is not None and self.epoch is not None, "the lease is not held"
        while True:
            await asyncio.sleep(self.interval)
            try:
                cursor = await asyncio.wait_for(self._conn.execute(
                    "SELECT epoch FROM projector_lease WHERE name = %s", (LEASE_NAME,)),
                    4 * self.interval + 5)
                row = await cursor.fetchone()
            except (psycopg.Error, OSError, TimeoutError) as exc:
                return f"the lease connection failed ({exc.__class__.__name__})"
            if row is None or int(row[0]) != self.epoch:
                return f"the lease was taken over (epoch {row[0] if row else None})"

    async def release(self) -> None:
        if self.epoch is not None:
            log.info("releasing the lease (epoch %d)", self.epoch)
        await self._drop()

    def holder(self, engine: Engine) -> Holder | None:
        with engine.connect() as conn:
            row = conn.execute(select(lease_table).where(lease_table.c.name == LEASE_NAME)
                               ).first()
            if row is None:
                return None
            held = conn.execute(HELD, {"high": LEASE_LOCK >> 32,
                                       "low": LEASE_LOCK & 0xFFFFFFFF}).scalar()
        return Holder(row.holder, int(row.epoch), row.acquired_at, bool(held))

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        import psycopg

        if self._conn is None or self._conn.closed:
            conn = await psycopg.AsyncConnection.connect(autocommit=True, **self._connect_args)
            await conn.execute(SERVER_KEEPALIVES)
            self._conn = conn
        return self._conn

    async def _drop(self) -> None:
        """Close the lease connection: the lock, if held, goes with it."""
        import psycopg

        conn, self._conn, self.epoch = self._conn, None, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 5)
            except (psycopg.Error, OSError, TimeoutError) as exc:
                log.debug("closing the lease connection: %s", exc)

    def _failed(self, why: str) -> None:
        if why != self._failing:
            log.warning("%s; trying again every %g s", why, self.interval)
        self._failing = why

    def _recovered(self) -> None:
        if self._failing is not None:
            log.info("the database answers the lease again")
        self._failing = None


def lease_for(engine: Engine, instance: str, *, interval: float = 1.0) -> Lease:
    """The lease of the read model behind ``engine``."""
    if engine.dialect.name == "sqlite":
        return SoleLease(instance)
    return AdvisoryLease.of(engine, instance, interval=interval)
