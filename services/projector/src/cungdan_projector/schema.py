"""The read model's tables (SQLAlchemy Core).

The totals live in *generations*: each generation has its own tables
(``totals_g<N>``, ``activities_g<N>``, ``changes_g<N>``, ...) and its own
stream position in ``generations``. Exactly one generation is active and
serves reads; a rebuild fills a new one from the stream while the active one
keeps serving, then a one-row update makes it active. Amounts are exact
integers of indicator units (10**-scale).
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
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

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
    activities: Table
    changes: Table
    pending: Table
    dead_letters: Table
    freshness: Table


@cache
def generation_tables(generation: int) -> GenerationTables:
    md = MetaData()
    totals = Table(
        f"totals_g{generation}", md,
        Column("map", String(8), nullable=False),
        Column("locality", String(8), nullable=False),
        Column("campaign", String(64), nullable=False),
        Column("indicator", String(64), nullable=False),
        Column("day", Date, nullable=False),
        Column("amount", BigInteger, nullable=False),
        PrimaryKeyConstraint("map", "locality", "campaign", "indicator", "day"),
    )
    activities = Table(  # every activity counted, with what a later change needs to know
        f"activities_g{generation}", md,
        Column("event_id", String(36), primary_key=True),
        Column("seq", BigInteger, nullable=False),
        Column("map", String(8), nullable=False),
        Column("path", String(64), nullable=False),
        Column("campaign", String(64), nullable=False),
        Column("day", Date, nullable=False),
        Column("measures", Text, nullable=False),
        Column("retracted", Boolean, nullable=False),
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
    return GenerationTables(md, totals, activities, changes, pending, dead_letters, freshness)
