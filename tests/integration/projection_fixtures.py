"""Fixtures of the projection tests: a NATS connection with the activity and dead-letter
streams, and a SQLite read model with an active generation of the current version.

Imported by the modules that need them, so that the other integration modules keep their
own ``nc``, ``model`` and ``store``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.aio.client import Client
from tests.conftest import NatsConnect

from cungdan_contracts.subjects import STREAM, STREAM_SUBJECTS
from cungdan_ingest.journal import ensure_stream, stream_config
from cungdan_projector.deadletters import ensure_deadletter_stream
from cungdan_projector.engine import make_engine
from cungdan_projector.generations import ReadModel
from cungdan_projector.lazy_headers import parse_headers_when_read
from cungdan_projector.rollup import PROJECTION_VERSION
from cungdan_projector.store import GenerationStore


@pytest.fixture
async def nc(nats_connect: NatsConnect) -> Client:
    """Reconnects for ever (tests restart the server under it); parses headers when read,
    as the projector's connection does."""
    client = await nats_connect()
    parse_headers_when_read(client)
    await ensure_stream(client, stream_config(STREAM, STREAM_SUBJECTS, 120.0, 1))
    await ensure_deadletter_stream(client)
    return client


@pytest.fixture
def model(tmp_path: Path) -> ReadModel:
    m = ReadModel(make_engine(f"sqlite:///{tmp_path / 'rm.sqlite3'}"))
    m.create_schema()
    return m


@pytest.fixture
def store(model: ReadModel) -> GenerationStore:
    return model.create_generation(PROJECTION_VERSION, active=True)
