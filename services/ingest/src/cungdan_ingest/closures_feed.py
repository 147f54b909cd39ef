"""NATS adapter: the period events of the stream, read at start and followed, into
:class:`.closures.Closures`.

An ordered push consumer on ``cungdan.period.>`` from the stream's first message: the
server hands the period events in stream order (and nats-py recreates the consumer after
a gap or a reconnection, from the last one received). At start, ingest waits until the
index holds the last period event the stream had then (:meth:`ClosuresFeed.caught_up`).
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import DeliverPolicy
from pydantic import ValidationError

from cungdan_contracts import MalformedJSONError, UnknownContractError
from cungdan_contracts.periods import ALL_PERIOD_EVENTS, decode_period_event

from .closures import Closures

log = logging.getLogger("cungdan.ingest")


class ClosuresFeed:
    def __init__(self, nc: Client, stream: str, closures: Closures) -> None:
        self._nc = nc
        self._stream = stream
        self.closures = closures
        self._sub: Subscription | None = None
        self._moved = asyncio.Event()

    async def start(self) -> None:
        self._sub = await self._nc.jetstream().subscribe(
            ALL_PERIOD_EVENTS, stream=self._stream, ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL, cb=self._on_event)

    async def _on_event(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        try:
            event = decode_period_event(msg.data)
        except (MalformedJSONError, UnknownContractError, ValidationError) as exc:
            log.warning("period event %d ignored: %s", seq, exc)
            self.closures.position = max(self.closures.position, seq)
        else:
            self.closures.apply(seq, event)
        self._moved.set()

    async def caught_up(self, seq: int) -> None:
        """Wait until the index has applied the event at ``seq`` (bound it with
        ``asyncio.timeout``)."""
        while self.closures.position < seq:
            self._moved.clear()
            await self._moved.wait()

    async def stop(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception as exc:  # noqa: BLE001 - closing anyway
                log.info("period feed not unsubscribed: %r", exc)
            self._sub = None
