"""The read model's tables (SQLAlchemy Core).

The totals live in *generations*: each generation has its own tables
(``totals_g<N>``, ``activities_g<N>``, ``changes_g<N>``, ...) and its own
stream position in ``generations``. Exactly one generation is active and
serves reads; a rebuild fills a new one from the stream while the active one
keeps serving, then a one-row update makes it active. Amounts are exact
integers of indicator units (10**-scale).

Totals rows are *wide*: one row per (map, locality, campaign) with one amount
column per catalog indicator, all-time in ``totals_g<N>`` and per month in
``monthly_g<N>``. An activity touches one row per locality level and table
instead of one per indicator, and a read sums a few rows per locality. Date
ranges that cut through a month are completed from the activities themselves
(``activities_g<N>`` keeps each activity's current amounts, by province and day).
A catalog indicator the tables lack is added as a column on start
(:func:`missing_columns`), so a growing catalog needs no rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from cungdan_contracts import INDICATORS

LAYOUT_VERSION = 3
"""The table layout this code reads and writes; generations made by an older projection
version have another layout (2: one narrow row per indicator and day)."""

CLOSINGS_VERSION = 5
"""The projection version from which a generation has the tables of closings; an older
one has none, and serves until its rebuild is done (:func:`keeps_closings`)."""


def keeps_closings(version: int) -> bool:
    """Whether a generation of this projection version has the tables of closings."""
    return version >= CLOSINGS_VERSION

meta = MetaData()

generations = Table(
    "generations", meta,
    Column("generation", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # building | active | retired
    Column("position", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("activated_at", DateTime(timezone=True)),
)
"""One row per generation; ``position`` is committed with that generation's totals."""


@dataclass(frozen=True)
class GenerationTables:
    metadata: MetaData
    totals: Table
    monthly: Table
    activities: Table
    changes: Table
    pending: Table
    dead_letters: Table
    freshness: Table
    closings: Table
    closing_totals: Table
    control_totals: Table
    late_amendments: Table


@cache
def generation_tables(generation: int) -> GenerationTables:
    md = MetaData()
    totals = Table(  # all-time sums
        f"totals_g{generation}", md,
        Column("map", String(8), nullable=False),
        Column("locality", String(8), nullable=False),
        Column("campaign", String(64), nullable=False),
        *amount_columns(),
        PrimaryKeyConstraint("map", "locality", "campaign"),
        sqlite_with_rowid=False,
    )
    monthly = Table(  # sums per month (YYYYMM), for periods
        f"monthly_g{generation}", md,
        Column("map", String(8), nullable=False),
        Column("locality", String(8), nullable=False),
        Column("month", Integer, nullable=False),
        Column("campaign", String(64), nullable=False),
        *amount_columns(),
        PrimaryKeyConstraint("map", "locality", "month", "campaign"),
        sqlite_with_rowid=False,
    )
    activities = Table(  # every activity counted, with its current amounts
        f"activities_g{generation}", md,
        Column("event_id", String(36), primary_key=True),
        Column("seq", BigInteger, nullable=False),
        Column("map", String(8), nullable=False),
        Column("path", String(64), nullable=False),
        Column("province", String(2), nullable=False),  # "" for the nation itself
        Column("campaign", String(64), nullable=False),
        Column("day", Date, nullable=False),
        Column("retracted", Boolean, nullable=False),
        *amount_columns(),
        # deferred: random inserts into it slow a rebuild (see is_deferred), until the
        # generation's first closing reads by it (see read_by_closings)
        Index(f"activities_g{generation}_by_day", "map", "province", "day",
              info={"deferred": True, "closings": True}),
        # covers the completeness read (reports per locality path, :mod:`.completeness`)
        Index(f"activities_g{generation}_by_path", "map", "province", "path", "day",
              "retracted", "campaign", info={"deferred": True}),
    )
    changes = Table(  # every correction and retraction applied (their ids: exactly once)
        f"changes_g{generation}", md,
        Column("change_id", String(80), primary_key=True),
        Column("seq", BigInteger, nullable=False),
        Column("activity_id", String(36), nullable=False),
    )
    pending = Table(  # changes that arrived before their activity, applied when it arrives
        f"pending_changes_g{generation}", md,
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("change_id", String(80), nullable=False),
        Column("activity_id", String(36), nullable=False, index=True),
        Column("measures", Text),
    )
    dead_letters = Table(
        f"dead_letters_g{generation}", md,
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("subject", Text, nullable=False),
        Column("reason", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("dead_lettered_at", DateTime(timezone=True), nullable=False),
        Column("redriven_at", DateTime(timezone=True)),
    )
    freshness = Table(
        f"freshness_g{generation}", md,
        Column("map", String(8), nullable=False),
        Column("province", String(8), nullable=False),
        Column("last_recorded_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("map", "province"),
    )
    closings = Table(  # every closing of a province's period, and its reopening if any
        f"period_closings_g{generation}", md,
        Column("map", String(8), nullable=False),
        Column("province", String(8), nullable=False),
        Column("period", String(8), nullable=False),
        Column("closing", Integer, nullable=False),
        Column("seq", BigInteger, nullable=False),
        Column("closed_at", DateTime(timezone=True), nullable=False),
        Column("closed_by", String(100)),
        Column("reason", Text, nullable=False),
        Column("reopened_seq", BigInteger),
        Column("reopened_at", DateTime(timezone=True)),
        Column("reopened_by", String(100)),
        Column("reopen_reason", Text),
        PrimaryKeyConstraint("map", "province", "period", "closing"),
    )
    closing_totals = Table(  # the figures of the province and below as each closing froze them
        f"closing_totals_g{generation}", md,
        Column("map", String(8), nullable=False),
        Column("province", String(8), nullable=False),
        Column("period", String(8), nullable=False),
        Column("closing", Integer, nullable=False),
        Column("locality", String(8), nullable=False),
        Column("campaign", String(64), nullable=False),
        *amount_columns(),
        PrimaryKeyConstraint("map", "province", "period", "closing", "locality", "campaign"),
    )
    control_totals = Table(  # a province's own totals of a campaign, the latest per closing
        f"control_totals_g{generation}", md,
        Column("map", String(8), nullable=False),
        Column("province", String(8), nullable=False),
        Column("period", String(8), nullable=False),
        Column("closing", Integer, nullable=False),
        Column("campaign", String(64), nullable=False),
        Column("seq", BigInteger, nullable=False),
        Column("submitted_at", DateTime(timezone=True), nullable=False),
        Column("submitted_by", String(100)),
        *amount_columns(),
        PrimaryKeyConstraint("map", "province", "period", "closing", "campaign"),
    )
    late_amendments = Table(  # events counted after a closing of a period they are dated in
        f"late_amendments_g{generation}", md,
        Column("seq", BigInteger, nullable=False),
        Column("map", String(8), nullable=False),
        Column("province", String(8), nullable=False),
        Column("period", String(8), nullable=False),
        Column("closing", Integer, nullable=False),
        Column("activity_id", String(36), nullable=False),
        Column("kind", String(16), nullable=False),
        PrimaryKeyConstraint("seq", "period"),
        Index(f"late_amendments_g{generation}_by_period", "map", "province", "period"),
    )
    return GenerationTables(md, totals, monthly, activities, changes, pending, dead_letters,
                            freshness, closings, closing_totals, control_totals,
                            late_amendments)


def is_deferred(index: Index) -> bool:
    """Whether ``index`` is built once its generation has caught up with the stream, not
    with its table (:meth:`~.store.GenerationStore.build_deferred_indexes`).

    A generation filling from the stream inserts into an index keyed by (map, province,
    day) at random places all over it, batch after batch, which slows a rebuild down.
    Built in one pass once caught up, it costs a sort. Until
    then, sums over days that cut through a month scan the activities.
    """
    return bool(index.info.get("deferred"))


def read_by_closings(index: Index) -> bool:
    """Whether a deferred ``index`` is built before the generation's first closing is
    applied (:meth:`~.store.GenerationStore.apply`), caught up or not.

    A closing reads its province's activities for its period by it
    (:func:`.closings._freeze`); without it each closing of a rebuild scanned all the
    activities so far: 2,584 closings over a 1M-event stream cost minutes, more than the
    index maintained from there on (docs/benchmarks.md, fourteenth round).
    """
    return bool(index.info.get("closings"))


def amount_columns() -> list[Column[int]]:
    """One exact integer column per catalog indicator, named by its code."""
    return [Column(code, BigInteger, nullable=False, server_default="0") for code in INDICATORS]


def missing_columns(tables: GenerationTables,
                    present: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(table, indicator) pairs the catalog has and the database tables lack."""
    return [(table.name, code) for table in (tables.totals, tables.monthly, tables.activities,
                                             tables.closing_totals, tables.control_totals)
            if table.name in present
            for code in INDICATORS if code not in present[table.name]]
