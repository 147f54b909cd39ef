"""Projector configuration, from ``CUNGDAN_*`` environment variables."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cungdan_service.nats import nats_target


class ProjectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUNGDAN_", extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    log_level: str = "INFO"
    """May carry credentials: ``nats://projector:secret@host:4222``."""
    auth_enabled: bool = False
    """Reads need a token with the ``read`` role, unless ``reads_public``."""
    tokens_file: Path = Path("var/tokens.json")
    reads_public: bool = False
    projector_host: str = "127.0.0.1"
    projector_port: int = Field(default=8001, ge=1, le=65535)
    database_url: str = "sqlite:///var/readmodel.sqlite3"
    """SQLAlchemy URL of the read model: SQLite (embedded default) or PostgreSQL."""
    batch_max: int = Field(default=10000, ge=1)
    """Most events applied in one transaction (and read ahead while it commits). Bigger
    batches merge more rows and pages, for more memory (``docs/benchmarks.md``)."""
    queue_max: int = Field(default=20000, ge=1)
    """Cap on the events read ahead while a batch is applied (at most ``batch_max`` anyway);
    the rest of a backlog waits on the server."""
    writer: Literal["process", "thread"] = "process"
    """Where batches are committed: a child process (reading and decoding the next batch
    overlap with it on another core) or a thread of the service (one core)."""
    retry_max_seconds: float = Field(default=10.0, gt=0)
    nats_connect_timeout_seconds: float = Field(default=30.0, gt=0)
    read_wait_seconds: float = Field(default=5.0, ge=0, le=60)
    """How long a read with ``min_seq`` waits for the projector to reach that position."""
    instance_name: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
                               min_length=1, max_length=200)
    """This instance's name in the lease, ``/readyz`` and ``/v1/status`` (several instances
    may share one PostgreSQL read model; one of them applies the stream)."""
    nats_delete_consumers: bool | None = None
    """Whether the projector deletes the consumers it gives up (else the server removes
    them after their ``inactive_threshold``). Unset: only when connecting without a user:
    the users of deploy/nats/nats-auth.conf may not delete consumers, and a refused
    deletion is a permissions violation in the broker's log."""
    lease_interval_seconds: float = Field(default=1.0, gt=0, le=30)
    """How often a standby instance tries to take the lease, and the applying one checks
    it still holds it: a takeover starts within this after the holder's death."""

    @property
    def deletes_consumers(self) -> bool:
        """``nats_delete_consumers``, or whether the NATS URL names no user."""
        if self.nats_delete_consumers is not None:
            return self.nats_delete_consumers
        return nats_target(self.nats_url).user is None
