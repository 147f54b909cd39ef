"""NATS adapter of the projector: read the stream in order, apply it in batches.

The stream is read with an ordered push consumer starting right after the
position stored in the read model. It needs no acks (the read model's
position is the acknowledgement) and is not capped at pull-fetch speed.
Messages queue up (bounded) while a batch is being committed, so batches grow
with load: one transaction per batch, not per event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError

from cungdan_contracts import Gazetteer, MalformedJSONError, decode_event
from cungdan_contracts.subjects import ALL_LOGGED, STREAM

from .rollup import contributions
from .store import Applicable, BatchResult, ReadModelStore, Skipped

log = logging.getLogger("cungdan.projector")


def to_applicable(seq: int, subject: str, data: bytes,
                  gazetteer: Gazetteer) -> Applicable | Skipped:
    """Decode one message; what cannot be applied is kept aside with its reason."""
    try:
        event = decode_event(data)
        return Applicable(seq, str(event.id), contributions(event, gazetteer))
    except MalformedJSONError as exc:
        return Skipped(seq, subject, f"not JSON: {exc}")
    except ValidationError as exc:
        return Skipped(seq, subject, f"invalid event: {exc.error_count()} error(s): "
                                     f"{exc.errors(include_url=False)[0]['msg']}")
    except KeyError as exc:
        return Skipped(seq, subject, f"unknown locality: {exc}")


class Projection:
    """Feeds the stream into the store; tracks what is applied and whether it is healthy."""

    def __init__(self, nc: Client, store: ReadModelStore, gazetteer: Gazetteer, *,
                 batch_max: int, queue_max: int, retry_max_seconds: float) -> None:
        self._nc = nc
        self._store = store
        self._gazetteer = gazetteer
        self._batch_max = batch_max
        self._retry_max = retry_max_seconds
        self._queue: asyncio.Queue[Msg] = asyncio.Queue(maxsize=queue_max)
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.position = 0
        self.problem: str | None = "starting"
        self.applied_total = 0

    @property
    def ready(self) -> bool:
        return self.problem is None and self._nc.is_connected

    async def start(self) -> None:
        self.position = await asyncio.to_thread(self._store.position)
        self._task = asyncio.create_task(self._run(), name="projection")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        await self._subscribe()
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < self._batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            items = await asyncio.to_thread(self._decode, batch)
            result = await self._apply_with_retry(items)
            self.applied_total += result.applied
            self.position = result.position

    async def _subscribe(self) -> None:
        delay = 0.2
        while True:
            try:
                config = ConsumerConfig(opt_start_seq=self.position + 1) if self.position else None
                policy = (DeliverPolicy.BY_START_SEQUENCE if self.position
                          else DeliverPolicy.ALL)
                await self._nc.jetstream().subscribe(
                    ALL_LOGGED, stream=STREAM, ordered_consumer=True, cb=self._queue.put,
                    deliver_policy=policy, config=config, idle_heartbeat=2.0)
                self.problem = None
                log.info("projecting %s from sequence %d", STREAM, self.position + 1)
                return
            except (NotFoundError, TimeoutError, OSError) as exc:
                self.problem = f"stream {STREAM} not available yet: {exc!r}"
                log.warning(self.problem)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)

    def _decode(self, batch: Sequence[Msg]) -> list[Applicable | Skipped]:
        return [to_applicable(m.metadata.sequence.stream, m.subject, m.data, self._gazetteer)
                for m in batch]

    async def _apply_with_retry(self, items: list[Applicable | Skipped]) -> BatchResult:
        """Commit the batch; on a database failure retry with backoff, reporting not ready."""
        delay = 0.1
        while True:
            try:
                result = await asyncio.to_thread(self._store.apply, items)
            except (OperationalError, DBAPIError) as exc:
                self.problem = f"database unavailable: {exc.__class__.__name__}"
                log.warning("apply failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            if self.problem is not None:
                log.info("database reachable again")
            self.problem = None
            if result.skipped:
                log.warning("skipped %d undecodable event(s) up to seq %d",
                            result.skipped, result.position)
            return result
