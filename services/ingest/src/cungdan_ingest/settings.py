"""Ingest configuration, from ``CUNGDAN_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUNGDAN_", extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
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
