"""Where the operator commands find the services: the settings the services themselves use.

``make run`` and the services bind to ``CUNGDAN_INGEST_HOST``/``CUNGDAN_INGEST_PORT`` and
``CUNGDAN_PROJECTOR_HOST``/``CUNGDAN_PROJECTOR_PORT``; the commands read the same variables
(same names, same defaults: a unit test holds them to the services' settings), so a
``CUNGDAN_PROJECTOR_PORT=9001 make run`` is found by ``CUNGDAN_PROJECTOR_PORT=9001 cungdan
status``. ``CUNGDAN_INGEST_URL``/``CUNGDAN_PROJECTOR_URL`` (or ``--ingest``/``--projector``)
name a service elsewhere, behind a proxy or on https.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104
"""A service bound to every interface is reached on this machine's loopback."""


class ServiceAddresses(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUNGDAN_", extra="ignore")

    ingest_host: str = "127.0.0.1"
    ingest_port: int = Field(default=8000, ge=1, le=65535)
    projector_host: str = "127.0.0.1"
    projector_port: int = Field(default=8001, ge=1, le=65535)
    ingest_url: str | None = None
    """The ingest's base URL; default ``http://INGEST_HOST:INGEST_PORT``."""
    projector_url: str | None = None
    """The projector's base URL; default ``http://PROJECTOR_HOST:PROJECTOR_PORT``."""

    @property
    def ingest(self) -> str:
        return self.ingest_url or base_url(self.ingest_host, self.ingest_port)

    @property
    def projector(self) -> str:
        return self.projector_url or base_url(self.projector_host, self.projector_port)


def base_url(host: str, port: int) -> str:
    """The URL of a service bound to ``host``:``port``, from this machine."""
    host = _ANY_ADDRESS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
