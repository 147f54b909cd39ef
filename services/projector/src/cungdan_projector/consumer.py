"""NATS adapter of the projector: read the stream in order, apply it in batches.

The stream is read with an ordered push consumer starting right after the
position stored in the read model. It needs no acks (the read model's
position is the acknowledgement) and is not capped at pull-fetch speed.
Messages queue up (bounded) while a batch is being committed, so batches grow
with load: one transaction per batch, not per event.

Failures:
- a message that cannot be decoded or validated is dead-lettered at once (it
  would fail the same way every time);
- a batch the database refuses for a reason of its own (a constraint, an
  overflow) is applied event by event; an event failing ``max_attempts`` times
  is dead-lettered and the others go on;
- an unreachable database is retried with backoff for as long as it takes,
  holding the batch and reporting not ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Protocol

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from cungdan_contracts import (
    ActivityCorrected,
    ActivityLoggedV2,
    Gazetteer,
    MalformedJSONError,
    UnknownContractError,
    decode_event,
)
from cungdan_contracts.subjects import ALL_EVENTS, STREAM

from .metrics import ProjectorMetrics
from .rollup import facts_of, units_of
from .store import BatchResult, Changed, GenerationStore, Item, Logged, Origin, Skipped

log = logging.getLogger("cungdan.projector")

TRANSIENT = (OperationalError, InterfaceError, DisconnectionError, ConnectionError, TimeoutError)
"""Failures of the infrastructure, not of the event: retried without bound."""


class DeadLetterSink(Protocol):
    async def publish(self, msg: Msg, seq: int, reason: str) -> None: ...


def to_item(seq: int, subject: str, data: bytes, gazetteer: Gazetteer) -> Item | Skipped:
    """Decode one message; what cannot be applied is kept aside with its reason."""
    try:
        event = decode_event(data)
    except MalformedJSONError as exc:
        return Skipped(seq, subject, f"not JSON: {exc}")
    except UnknownContractError as exc:
        return Skipped(seq, subject, f"unknown contract: {exc}")
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return Skipped(seq, subject, f"invalid event ({exc.error_count()} error(s)); "
                                     f"{where}: {first['msg']}")
    if isinstance(event, ActivityLoggedV2):
        origin = Origin(event.map.value, event.source_province, event.activity.campaign,
                        event.recorded_at)
        try:
            return Logged(seq, str(event.id), facts_of(event, gazetteer), origin)
        except KeyError as exc:
            return Skipped(seq, subject, f"unknown locality: {exc}")
    origin = Origin(event.map.value, event.source_province, event.campaign, event.recorded_at)
    if isinstance(event, ActivityCorrected):
        return Changed(seq, str(event.correction.id), str(event.activity_id),
                       units_of(event.correction.measures), origin)
    return Changed(seq, f"retraction:{event.activity_id}", str(event.activity_id), None, origin)


class Projection:
    """Feeds the stream into one generation of the read model."""

    def __init__(self, nc: Client, store: GenerationStore, gazetteer: Gazetteer,
                 deadletters: DeadLetterSink, *, batch_max: int, queue_max: int,
                 retry_max_seconds: float, max_attempts: int = 3,
                 metrics: ProjectorMetrics | None = None, live: bool = True) -> None:
        self._nc = nc
        self.store = store
        self._gazetteer = gazetteer
        self._deadletters = deadletters
        self._batch_max = batch_max
        self._retry_max = retry_max_seconds
        self._max_attempts = max_attempts
        self._queue: asyncio.Queue[Msg] = asyncio.Queue(maxsize=queue_max)
        self._task: asyncio.Task[None] | None = None
        self._sub: Subscription | None = None
        self._applying = asyncio.Lock()
        self._advanced = asyncio.Condition()
        self.position = 0
        self.problem: str | None = "starting"
        self.applied_total = 0
        self.dead_lettered_total = 0
        self.metrics = metrics or ProjectorMetrics()
        self.live = live
        """Whether this projection serves reads (a rebuild's does not until the swap)."""

    @property
    def ready(self) -> bool:
        return self.problem is None and self._nc.is_connected

    async def start(self) -> None:
        self.position = await asyncio.to_thread(self.store.position)
        self._task = asyncio.create_task(self._run(), name=f"projection-g{self.store.number}")

    async def stop(self) -> None:
        """Stop after the batch in hand is committed (never in the middle of one)."""
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        if self._task is not None:
            async with self._applying:
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def wait_for(self, seq: int, timeout_s: float) -> bool:
        """Wait, at most ``timeout_s``, until stream position ``seq`` is applied."""
        async with self._advanced:
            try:
                await asyncio.wait_for(
                    self._advanced.wait_for(lambda: self.position >= seq), timeout_s)
            except TimeoutError:
                return False
        return True

    async def _run(self) -> None:
        await self._subscribe()
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < self._batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            async with self._applying:
                started = time.perf_counter()
                items = await asyncio.to_thread(self._decode, batch)
                result = await self._apply(items, {m.metadata.sequence.stream: m for m in batch})
                self.metrics.observe(result, len(batch), time.perf_counter() - started,
                                     live=self.live)
                self.applied_total += result.applied
                if log.isEnabledFor(logging.DEBUG):
                    for item in items:
                        log.debug("applied", extra={"seq": item.seq, "event_id": getattr(
                            item, "event_id", getattr(item, "change_id", None))})
                log.info("applied stream %d-%d", batch[0].metadata.sequence.stream,
                         result.position, extra={"seq_first": batch[0].metadata.sequence.stream,
                                                 "seq_last": result.position,
                                                 "events": result.applied,
                                                 "generation": self.store.number})
                async with self._advanced:
                    self.position = result.position
                    self._advanced.notify_all()

    async def _subscribe(self) -> None:
        delay = 0.2
        while True:
            try:
                start = self.position + 1
                self._sub = await self._nc.jetstream().subscribe(
                    ALL_EVENTS, stream=STREAM, ordered_consumer=True, cb=self._queue.put,
                    deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                    config=ConsumerConfig(opt_start_seq=start), idle_heartbeat=2.0)
                self.problem = None
                log.info("generation %d projecting %s from sequence %d",
                         self.store.number, STREAM, start)
                return
            except (NotFoundError, *TRANSIENT) as exc:
                self.problem = f"stream {STREAM} not available yet: {exc!r}"
                log.warning(self.problem)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)

    def _decode(self, batch: Sequence[Msg]) -> list[Item | Skipped]:
        return [to_item(m.metadata.sequence.stream, m.subject, m.data, self._gazetteer)
                for m in batch]

    async def _apply(self, items: list[Item | Skipped],
                     msgs: dict[int, Msg]) -> BatchResult:
        try:
            return await self._commit(items, msgs)
        except TRANSIENT:
            raise
        except Exception as exc:  # noqa: BLE001 - the database refused the batch itself
            log.warning("batch %d-%d refused (%s); applying event by event",
                        items[0].seq, items[-1].seq, exc)
        results = [await self._apply_alone(item, msgs) for item in items]
        return BatchResult(sum(r.applied for r in results),
                           sum(r.already_applied for r in results),
                           sum(r.skipped for r in results), results[-1].position)

    async def _apply_alone(self, item: Item | Skipped,
                           msgs: dict[int, Msg]) -> BatchResult:
        for attempt in range(1, self._max_attempts + 1):
            try:
                return await self._commit([item], msgs)
            except Exception as exc:  # noqa: BLE001 - counted, then dead-lettered
                reason = f"refused by the read model {attempt} time(s): {exc}"
                await asyncio.sleep(min(0.05 * 2**attempt, self._retry_max))
        dead = Skipped(item.seq, msgs[item.seq].subject, reason[:1000], self._max_attempts)
        return await self._commit([dead], msgs)

    async def _commit(self, items: list[Item | Skipped],
                      msgs: dict[int, Msg]) -> BatchResult:
        """Dead-letter, then commit; an unreachable NATS or database is waited out."""
        delay = 0.1
        while True:
            try:
                for item in items:
                    if isinstance(item, Skipped) and item.seq > self.position:
                        await self._deadletters.publish(msgs[item.seq], item.seq, item.reason)
                        log.warning("dead letter", extra={"seq": item.seq, "reason": item.reason,
                                                          "subject": item.subject})
                result = await asyncio.to_thread(self.store.apply, items)
            except TRANSIENT as exc:
                self.problem = f"database or NATS unavailable: {exc.__class__.__name__}"
                log.warning("commit failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            if self.problem is not None:
                log.info("generation %d: read model reachable again", self.store.number)
            self.problem = None
            if result.skipped:
                self.dead_lettered_total += result.skipped
                log.warning("dead-lettered %d message(s) up to seq %d", result.skipped,
                            result.position)
            return result
