"""The write fence: a projector writes only while its lease epoch is the current one.

Taking the lease (:mod:`.lease`) bumps an epoch in ``projector_lease``. The holder writes
through an engine made for that epoch (:func:`fenced_url`, read back by
:func:`.engine.make_engine`, so the writer child gets the same fence from the URL it is
given). Every transaction of such an engine begins by share-locking the lease row *if it
still carries this epoch*; otherwise it raises :class:`FencedOffError`.

So once a new holder's bump has committed, nothing of an older epoch commits again: the
bump waits for the transactions that passed the fence before it (their share lock), and
every later one fails it. This covers whatever outlives a holder for a moment (its writer
child finishing a batch after the service was killed, a holder cut off from its lease
connection that has not noticed yet), and every kind of write, not only the batches that
advance a position: a rebuild's swap, a dropped generation, a redriven dead letter. The
stream position committed with the totals already makes a batch count once; the fence
makes the holder the only writer.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Engine, MetaData, String, Table, event, select
from sqlalchemy.engine import URL, Connection, make_url

EPOCH_PARAMETER = "cungdan_lease_epoch"
"""The query parameter of a database URL that carries the writer's lease epoch (taken out
of the URL before the driver sees it)."""

LEASE_NAME = "projector"
"""The one row of ``projector_lease``: one lease per read model (per database)."""
SCHEMA_LOCK = 0x63756E6764616E02
"""The advisory lock held while an instance creates the tables (instances start together).
Here, not in :mod:`.lease`, so the writer process does not import psycopg (~10 MiB)."""

lease_meta = MetaData()

lease_table = Table(
    "projector_lease", lease_meta,
    Column("name", String(32), primary_key=True),
    Column("epoch", BigInteger, nullable=False),
    Column("holder", String(200), nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
)
"""Who took the lease last, and the epoch that fences the writes of the others."""


class FencedOffError(ConnectionError):
    """Another instance took the lease since this engine's epoch: its writes are refused.

    A :class:`ConnectionError`, so the projection treats it as the infrastructure being
    unavailable (retried, never dead-lettered) until its runtime steps down."""


def fenced_url(url: str | URL, epoch: int) -> str:
    """``url`` with ``epoch`` in it: an engine made from it is fenced (the password kept)."""
    parsed = make_url(url).update_query_dict({EPOCH_PARAMETER: str(epoch)})
    return parsed.render_as_string(hide_password=False)


def split_epoch(url: URL) -> tuple[URL, int | None]:
    """``url`` without the epoch parameter, and the epoch (None: not fenced)."""
    value = url.query.get(EPOCH_PARAMETER)
    if value is None:
        return url, None
    if not isinstance(value, str):
        raise ValueError(f"{EPOCH_PARAMETER} given more than once")
    return url.difference_update_query([EPOCH_PARAMETER]), int(value)


def install_fence(engine: Engine, epoch: int) -> None:
    """Make every transaction of ``engine`` check, first, that ``epoch`` is the lease's."""
    check = (select(lease_table.c.epoch)
             .where(lease_table.c.name == LEASE_NAME, lease_table.c.epoch == epoch)
             .with_for_update(read=True))

    def fence(conn: Connection) -> None:
        # runs inside the transaction being begun (SQLAlchemy skips autobegin meanwhile)
        if conn.execute(check).first() is None:
            raise FencedOffError(f"lease epoch {epoch} is over: another projector instance "
                                 "took the lease")

    event.listen(engine, "begin", fence)
