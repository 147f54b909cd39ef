"""Shared fixtures: the gazetteer; real nats-server and PostgreSQL processes (see
cungdan.processes and tests/kits/postgres.py) and connections to them."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import nats
import psycopg
import pytest
from nats.aio.client import Client
from tests.kits.postgres import PostgresCluster

from cungdan.processes import NatsServer
from cungdan_contracts import Gazetteer, load_gazetteer

NatsConnect = Callable[..., Awaitable[Client]]


@pytest.fixture(scope="session")
def gazetteer() -> Gazetteer:
    """The real localities of both maps (read once: it is immutable)."""
    return load_gazetteer()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A fresh JetStream-enabled nats-server storing in tmp_path, stopped at teardown."""
    with NatsServer(tmp_path / "nats-store", log_dir=tmp_path) as server:
        yield server


@pytest.fixture
async def nats_connect(nats_server: NatsServer) -> AsyncIterator[NatsConnect]:
    """Connects to ``nats_server`` (options as ``nats.connect``'s; by default it reconnects
    for ever, as tests restart the server under it); every connection is closed at the end.

    Each module makes its own ``nc`` with it (its streams, its parsing): not here, as a
    conftest fixture would override the ``nc`` of a ``pytest_plugins`` module such as
    tests/integration/projection_fixtures.py."""
    clients: list[Client] = []

    async def connect(**options: Any) -> Client:
        client = await nats.connect(nats_server.url, **{
            "max_reconnect_attempts": -1, "reconnect_time_wait": 0.2, "connect_timeout": 2,
            **options})
        clients.append(client)
        return client

    yield connect
    for client in reversed(clients):
        with contextlib.suppress(Exception):  # the server may be down by now
            await client.close()


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
