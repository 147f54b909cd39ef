"""Ingest configuration, from ``CUNGDAN_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .journal import CONSUMER_INACTIVE_SECONDS

MIB = 1024 * 1024


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUNGDAN_", extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    log_level: str = "INFO"
    """May carry credentials: ``nats://ingest:secret@host:4222``."""
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    ingest_host: str = "127.0.0.1"
    ingest_port: int = Field(default=8000, ge=1, le=65535)
    publish_timeout_seconds: float = Field(default=3.0, gt=0)
    """How long a request waits for JetStream's acknowledgement before answering 503."""
    nats_connect_timeout_seconds: float = Field(default=30.0, gt=0)
    retry_after_seconds: int = Field(default=5, ge=1)
    max_batch: int = Field(default=1000, ge=1, le=10_000)
    max_in_flight: int = Field(default=4000, ge=1)
    stream_duplicate_window_seconds: float = Field(default=120.0, gt=0)
    stream_replicas: int = Field(default=1, ge=1, le=5)
    stream_consumer_inactive_seconds: float = Field(default=CONSUMER_INACTIVE_SECONDS, gt=0)
    """A consumer of the stream unused this long is deleted by the server (downstream
    durable consumers included: the ``reader`` user cannot delete them)."""

    auth_enabled: bool = False
    """Require a bearer token (see ``cungdan token create``) on every report."""
    tokens_file: Path = Path("var/tokens.json")
    rate_limit_per_second: float = Field(default=20.0, gt=0)
    """Requests per second each token may sustain (only with auth: tokens are the key)."""
    rate_limit_burst: int = Field(default=40, ge=1)
    """Requests a token may send at once after a quiet spell."""
    max_body_bytes: int = Field(default=2 * MIB, ge=1024)
    """Largest body of ``POST /v1/activities``."""
    max_batch_body_bytes: int = Field(default=8 * MIB, ge=1024)
    """Largest body of ``POST /v1/activities/batch``."""
