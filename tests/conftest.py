"""Shared fixtures: real nats-server and PostgreSQL processes (see cungdan.processes and
tests/kits/postgres.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tests.kits.postgres import PostgresCluster

from cungdan.processes import NatsServer


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A fresh JetStream-enabled nats-server storing in tmp_path, stopped at teardown."""
    with NatsServer(tmp_path / "nats-store", log_dir=tmp_path) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the whole session, removed at the end."""
    if not PostgresCluster.available():
        pytest.skip(
            "PostgreSQL binaries (initdb, pg_ctl, postgres) not on PATH "
            "nor in /usr/lib/postgresql/*/bin"
        )
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty read-model database: one SQLite file, or one PostgreSQL database.

    Tests using it run once per store, the same body against both.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'readmodel.sqlite3'}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster.conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield cluster.dsn.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(cluster.conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
