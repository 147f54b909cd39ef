"""The NATS connection of a service, owned by a FastStream broker.

Credentials come as ``user``/``password`` or inside the URL
(``nats://ingest:secret@host:4222``). A user's reply inboxes are ``_INBOX.<user>.>``,
so that the broker can keep each user to its own inboxes (deploy/nats/nats-auth.conf).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from faststream.nats import NatsBroker, NatsUserPassword
from nats.errors import ConnectionClosedError, ConnectionReconnectingError

log = logging.getLogger("cungdan")


@dataclass(frozen=True, slots=True)
class NatsTarget:
    servers: list[str]
    """Server URLs without credentials."""
    user: str | None
    password: str | None

    @property
    def inbox_prefix(self) -> str:
        return f"_INBOX.{self.user}" if self.user else "_INBOX"

    def __str__(self) -> str:
        """For logs: never the password."""
        who = f"{self.user}@" if self.user else ""
        return ",".join(f"{who}{server}" for server in self.servers)


def nats_target(url: str, user: str | None = None, password: str | None = None) -> NatsTarget:
    """Split ``url`` (one or more comma-separated servers) into servers and credentials;
    explicit ``user``/``password`` win over those in the URL."""
    servers = []
    for server in (s.strip() for s in url.split(",") if s.strip()):
        parts = urlsplit(server)
        if parts.username is not None:
            user = user or unquote(parts.username)
            password = password or unquote(parts.password or "")
        host = parts.netloc.rpartition("@")[2]
        servers.append(urlunsplit(parts._replace(netloc=host)))
    return NatsTarget(servers, user or None, password if user else None)


def redact(url: str) -> str:
    """``url`` with any password replaced, for logs."""
    return str(nats_target(url))


async def connect_broker(url: str, deadline_seconds: float, *, user: str | None = None,
                         password: str | None = None) -> NatsBroker:
    """Connect, retrying until the deadline (NATS may come up after us); reconnects forever."""
    target = nats_target(url, user, password)
    security = None
    if target.user:
        security = NatsUserPassword(target.user, target.password or "")
    broker = NatsBroker(target.servers, max_reconnect_attempts=-1, reconnect_time_wait=1,
                        connect_timeout=2, logger=log, security=security,
                        inbox_prefix=target.inbox_prefix)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_seconds
    while True:
        try:
            await broker.connect()
            return broker
        except (OSError, TimeoutError) as exc:
            if loop.time() > deadline:
                raise
            log.warning("NATS at %s not reachable yet (%s); retrying", target, exc)
            await asyncio.sleep(0.5)


async def stop_broker(broker: NatsBroker) -> None:
    """Stop ``broker`` at shutdown: drain its connection, or close it if NATS is down.

    A connection that is reconnecting (NATS went away first) cannot drain: FastStream's
    ``stop`` raised, and the service ended with "Application shutdown failed" and a
    traceback. There is nothing to drain then: no publish is pending that was not already
    answered as failed, since nothing is accepted before JetStream acknowledged it.
    """
    try:
        await broker.stop()
    except (ConnectionReconnectingError, ConnectionClosedError) as exc:
        log.warning("NATS unreachable at shutdown (%s); connection closed without draining",
                    exc.__class__.__name__)
        if not broker.connection.is_closed:  # still the broker's: draining it failed
            await broker.connection.close()
