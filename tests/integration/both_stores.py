"""The read model on each store of ``database_url`` (SQLite and PostgreSQL), for the modules
that test the store itself: they bind these as their ``model`` and ``store`` fixtures.

Not a ``pytest_plugins`` module: plugins are global, and ``projection_fixtures`` already
gives those names to a SQLite-only model for the projection tests.
"""

from __future__ import annotations

from collections.abc import Iterator

from cungdan_projector.engine import make_engine
from cungdan_projector.generations import ReadModel
from cungdan_projector.rollup import PROJECTION_VERSION
from cungdan_projector.store import GenerationStore


def read_model(database_url: str) -> Iterator[ReadModel]:
    """An empty read model with its schema, disposed of afterwards."""
    model = ReadModel(make_engine(database_url))
    model.create_schema()
    yield model
    model.engine.dispose()


def active_store(model: ReadModel) -> GenerationStore:
    """A new generation of the current projection version, serving reads."""
    return model.create_generation(PROJECTION_VERSION, active=True)
