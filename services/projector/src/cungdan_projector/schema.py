"""The read model's tables (SQLAlchemy Core). Amounts are exact integers of indicator units."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

totals = Table(
    "totals", metadata,
    Column("map", String(8), nullable=False),
    Column("locality", String(8), nullable=False),
    Column("campaign", String(64), nullable=False),
    Column("indicator", String(64), nullable=False),
    Column("day", Date, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("events", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("map", "locality", "campaign", "indicator", "day"),
)
"""One row per (locality at every level, campaign, indicator, day); ``amount`` in units."""

position = Table(
    "projection_position", metadata,
    Column("projection", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)
"""The last stream sequence folded into the totals, committed with them."""

applied_events = Table(
    "applied_events", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)
"""Every event id counted, so a re-published id is never counted twice."""

skipped_events = Table(
    "skipped_events", metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("subject", Text, nullable=False),
    Column("reason", Text, nullable=False),
)
"""Messages that could not be applied (undecodable, invalid), kept with the reason."""
