"""The NATS connection of a service, owned by a FastStream broker."""

from __future__ import annotations

import asyncio
import logging

from faststream.nats import NatsBroker

log = logging.getLogger("cungdan")


async def connect_broker(url: str, deadline_seconds: float) -> NatsBroker:
    """Connect, retrying until the deadline (NATS may come up after us); reconnects forever."""
    broker = NatsBroker(url, max_reconnect_attempts=-1, reconnect_time_wait=1,
                        connect_timeout=2, logger=log)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_seconds
    while True:
        try:
            await broker.connect()
            return broker
        except (OSError, TimeoutError) as exc:
            if loop.time() > deadline:
                raise
            log.warning("NATS at %s not reachable yet (%s); retrying", url, exc)
            await asyncio.sleep(0.5)
