"""How the lease and the write fence are wired, without a database: the epoch travels in
the URL (to the writer child too) and never reaches the driver; SQLite gets the sole lease.
The lease and the fence at work: tests/integration/test_projector_lease.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from cungdan_projector.engine import make_engine
from cungdan_projector.fence import (
    EPOCH_PARAMETER,
    SCHEMA_LOCK,
    FencedOffError,
    fenced_url,
    split_epoch,
)
from cungdan_projector.lease import LEASE_LOCK, AdvisoryLease, SoleLease, lease_for
from cungdan_projector.writer import is_transient

PG = "postgresql+psycopg://cungdan:p%40ss@db.example:5432/cungdan?sslmode=require"


def test_the_epoch_travels_in_the_url_and_the_rest_is_kept() -> None:
    url = fenced_url(PG, 42)
    assert f"{EPOCH_PARAMETER}=42" in url
    plain, epoch = split_epoch(make_url(url))
    assert epoch == 42
    assert plain.render_as_string(hide_password=False) == PG
    assert split_epoch(make_url(PG)) == (make_url(PG), None)


def test_a_fenced_engine_checks_its_epoch_and_the_driver_never_sees_it() -> None:
    fenced = make_engine(fenced_url(PG, 7))
    plain = make_engine(PG)
    try:
        assert EPOCH_PARAMETER not in fenced.url.query
        assert fenced.url.query["sslmode"] == "require"
        assert len(fenced.dispatch.begin) == 1  # the fence, run as each transaction begins
        assert len(plain.dispatch.begin) == 0
    finally:
        fenced.dispose()
        plain.dispose()


def test_a_fenced_off_write_is_retried_never_dead_lettered() -> None:
    assert is_transient(FencedOffError("epoch 1 is over"))


def test_sqlite_has_the_sole_lease_and_postgresql_the_advisory_one(tmp_path: Path) -> None:
    sqlite = make_engine(f"sqlite:///{tmp_path / 'rm.sqlite3'}")
    pg = make_engine(PG)
    try:
        sole = lease_for(sqlite, "solo")
        assert isinstance(sole, SoleLease) and sole.epoch is None
        holder = sole.holder(sqlite)
        assert holder is not None and (holder.name, holder.holding) == ("solo", True)
        advisory = lease_for(pg, "b", interval=0.5)
        assert isinstance(advisory, AdvisoryLease) and advisory.interval == 0.5
    finally:
        sqlite.dispose()
        pg.dispose()


def test_the_lease_connects_as_the_read_model_with_keepalives() -> None:
    pg = make_engine(PG)
    try:
        lease = AdvisoryLease.of(pg, "projector-b")
    finally:
        pg.dispose()
    args = lease._connect_args
    assert (args["host"], args["user"], args["password"], args["dbname"]) == (
        "db.example", "cungdan", "p@ss", "cungdan")
    assert args["keepalives"] == 1 and args["tcp_user_timeout"] > 0
    assert args["application_name"] == "cungdan-projector lease projector-b"


@pytest.mark.parametrize("key", [LEASE_LOCK, SCHEMA_LOCK])
def test_the_lock_keys_are_bigints_of_their_own(key: int) -> None:
    assert -(2**63) <= key < 2**63
    assert LEASE_LOCK != SCHEMA_LOCK
