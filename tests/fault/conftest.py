"""Fixtures of the fault-injection tests: whole stacks on free ports, stopped by the tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tests.factories import stack_config
from tests.fault.faultkit import MakeStack
from tests.kits.postgres import PostgresCluster

from cungdan.stack import Stack


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[MakeStack]:
    """Builds stacks (nats-server + ingest + projector) in tmp_path; stops them all at the end.

    ``make_stack(cluster=True)``: a three-node JetStream cluster instead of one nats-server.

    ``make_stack(start=False)`` leaves the processes to the test (``stack.nats.start()``, ...).
    The read model is a SQLite file in the stack's data dir unless ``database_url`` is given.
    """
    stacks: list[Stack] = []

    def make(*, database_url: str | None = None, extra_env: dict[str, str] | None = None,
             start: bool = True, cluster: bool = False) -> Stack:
        stack = Stack(stack_config(tmp_path / f"stack{len(stacks)}", database_url=database_url,
                                   extra_env=dict(extra_env or {}), cluster=cluster))
        stacks.append(stack)
        if start:
            stack.start()
        return stack

    yield make
    for stack in reversed(stacks):
        stack.stop()


@pytest.fixture
def pg_database(postgres_cluster: PostgresCluster) -> Iterator[tuple[str, str]]:
    """A fresh database on the session's cluster: (SQLAlchemy URL, libpq conninfo).

    Dropped at the end; the cluster is started again first if a test left it stopped.
    """
    name = f"fault_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_cluster.conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = f"127.0.0.1:{postgres_cluster.port}/{name}"
    yield f"postgresql+psycopg://postgres@{base}", f"postgresql://postgres@{base}"
    if postgres_cluster.pid is None:
        postgres_cluster.start()
    with psycopg.connect(postgres_cluster.conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
