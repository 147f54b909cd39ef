"""Shared fixtures: real nats-server and PostgreSQL processes (see cungdan.processes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cungdan.processes import NatsServer, PostgresCluster


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
