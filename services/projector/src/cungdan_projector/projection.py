"""The projection's runner: take batches from a source, decode, commit, and deal with failure.

A batch is decoded while the one before it is committed (by the :mod:`.writer`, in a
process of its own: the two overlap on two cores). The rules that decide what a batch
changes are :mod:`.fold`'s; this module holds the policy around them.

Failures of a batch:
- a message that cannot be decoded or validated is dead-lettered at once (it
  would fail the same way every time);
- a batch the database refuses for a reason of its own (a constraint, an
  overflow) is applied event by event; an event failing ``max_attempts`` times
  is dead-lettered and the others go on;
- an unreachable database is retried with backoff for as long as it takes,
  holding the batch and reporting not ready.

The source is a :class:`Source`: the NATS stream reader in the service
(:class:`.reader.StreamReader`), an in-memory one in unit tests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cungdan_contracts import Gazetteer

from .deadletters import Original
from .decoding import decode
from .delivery import Delivered
from .items import BatchResult, DeadLetter, Message
from .metrics import ProjectorMetrics
from .settings import ProjectorSettings
from .store import GenerationStore
from .writer import ThreadWriter, Writer, is_transient

log = logging.getLogger("cungdan.projector")


class Source(Protocol):
    """Where a projection's messages come from, in stream order."""

    problem: str | None
    """Why the stream cannot be read right now, or None."""

    @property
    def connected(self) -> bool: ...

    def start(self, position: int) -> None:
        """Begin reading right after ``position``."""

    async def take(self) -> list[Delivered]:
        """The next messages (one at least): a full batch while behind."""

    async def release(self, count: int) -> None:
        """``count`` messages taken are done with: make room for the next ones."""

    async def message_at(self, seq: int) -> Original:
        """The message at ``seq``, read again (raises while the source is unavailable)."""

    async def close(self) -> None: ...


class DeadLetterSink(Protocol):
    async def publish(self, msg: Original, seq: int, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ProjectionSettings:
    batch_max: int = 10_000
    """Most events per transaction."""
    queue_max: int = 20_000
    """Cap on the events read ahead while a batch commits (``batch_max`` at most)."""
    retry_max_seconds: float = 10.0
    """Longest wait between retries of an unavailable database or NATS."""
    max_attempts: int = 3
    """Times an event the database refuses is tried alone before it is dead-lettered."""
    delete_consumers: bool = True
    """Whether the stream reader deletes the consumers it gives up (see
    ``ProjectorSettings.nats_delete_consumers``)."""

    @property
    def prefetch(self) -> int:
        return min(self.batch_max, self.queue_max)

    @classmethod
    def of(cls, settings: ProjectorSettings) -> ProjectionSettings:
        return cls(batch_max=settings.batch_max, queue_max=settings.queue_max,
                   retry_max_seconds=settings.retry_max_seconds,
                   delete_consumers=settings.deletes_consumers)


class Projection:
    """Feeds a source of stream messages into one generation of the read model."""

    def __init__(self, store: GenerationStore, source: Source, gazetteer: Gazetteer,
                 deadletters: DeadLetterSink, settings: ProjectionSettings | None = None, *,
                 writer: Writer | None = None, metrics: ProjectorMetrics | None = None,
                 live: bool = True) -> None:
        self.store = store
        self.source = source
        self.settings = settings or ProjectionSettings()
        self.writer: Writer = writer or ThreadWriter()
        """Where batches are committed (see :mod:`.writer`)."""
        self._gazetteer = gazetteer
        self._deadletters = deadletters
        self._task: asyncio.Task[None] | None = None
        self._applying = asyncio.Lock()
        self._advanced = asyncio.Condition()
        self._write_problem: str | None = None
        self.position = 0
        self.applied_total = 0
        self.dead_lettered_total = 0
        self.metrics = metrics or ProjectorMetrics()
        self.live = live
        """Whether this projection serves reads (a rebuild's does not until the swap)."""
        self.indexed = False
        """Whether the generation's deferred indexes are built (once it has caught up)."""

    @property
    def problem(self) -> str | None:
        """Why this projection is not ready: the read model or the stream unavailable."""
        return self._write_problem or self.source.problem

    @property
    def ready(self) -> bool:
        return self.problem is None and self.source.connected

    async def start(self) -> None:
        self.position = await asyncio.to_thread(self.store.position)
        await self.writer.start()
        self._task = asyncio.create_task(self._run(), name=f"projection-g{self.store.number}")

    async def stop(self) -> None:
        """Stop after the batch in hand is committed (never in the middle of one), then
        drop the prefetched messages and the consumer: ``position`` is final."""
        if self._task is not None:
            async with self._applying:
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.source.close()
        await self.writer.close()

    async def abandon(self) -> None:
        """Stop at once, even in the middle of a commit: the lease is lost, another instance
        applies now and this one's commits are fenced off (a commit in hand could otherwise
        be retried for ever). Whether the batch in hand landed is the database's to say."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.source.close()
        await self.writer.close()

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
        """Decode each batch while the one before it is committed (by the writer, in a
        process of its own: the two overlap on two cores)."""
        self.source.start(self.position)
        committing: asyncio.Task[None] | None = None
        try:
            while True:
                batch = await self.source.take()
                started = time.perf_counter()
                items, originals, prepared = await asyncio.to_thread(self._decode, batch)
                decoding = time.perf_counter() - started
                first, count = batch[0].seq, len(batch)
                caught_up = batch[-1].pending == 0
                del batch  # decoded: the messages go (the refused are read back if ever)
                if committing is not None:
                    await committing
                committing = asyncio.create_task(
                    self._commit_batch(first, count, items, originals, prepared, decoding,
                                       caught_up))
        finally:
            if committing is not None and not committing.done():
                # stop() holds ``_applying``: this batch has not begun to commit
                committing.cancel()
                await asyncio.gather(committing, return_exceptions=True)

    async def _commit_batch(self, first: int, count: int, items: list[Message],
                            originals: dict[int, Original], prepared: bytes | None,
                            decoding: float, caught_up: bool) -> None:
        async with self._applying:
            started = time.perf_counter()
            result = await self._apply(items, originals, prepared)
            self.metrics.observe(result, count,
                                 decoding + time.perf_counter() - started, live=self.live)
            self.applied_total += result.applied
            if log.isEnabledFor(logging.DEBUG):
                for item in items:
                    log.debug("applied", extra={"seq": item.seq, "event_id": getattr(
                        item, "event_id", getattr(item, "change_id", None))})
            log.info("applied stream %d-%d", first,
                     result.position, extra={"seq_first": first,
                                             "seq_last": result.position,
                                             "events": result.applied,
                                             "generation": self.store.number})
            async with self._advanced:
                self.position = result.position
                self._advanced.notify_all()
            if caught_up and not self.indexed:
                await self._build_indexes()
        await self.source.release(count)

    async def _build_indexes(self) -> None:
        """The indexes the generation deferred while it filled (see ``schema.is_deferred``):
        built once, when a batch ends at the end of the stream. On failure, the next such
        batch tries again; reads meanwhile scan."""
        started = time.perf_counter()
        try:
            await self.writer.build_indexes(self.store)
        except Exception as exc:  # noqa: BLE001 - the totals are right without them
            log.warning("generation %d: deferred indexes not built (%s); retried when caught "
                        "up again", self.store.number, exc)
            return
        self.indexed = True
        log.info("generation %d: deferred indexes built in %.1f s", self.store.number,
                 time.perf_counter() - started)

    def _decode(self, batch: Sequence[Delivered]
                ) -> tuple[list[Message], dict[int, Original], bytes | None]:
        """The batch's items, the messages of those that will be dead letters, and the
        writer's request for the items (made here, while the batch before commits)."""
        items = [decode(d.seq, d.msg.subject, d.msg.data, self._gazetteer) for d in batch]
        originals: dict[int, Original] = {
            item.seq: d.msg for item, d in zip(items, batch, strict=True)
            if isinstance(item, DeadLetter)}
        return items, originals, self.writer.prepare(self.store, items)

    async def _original(self, seq: int, originals: dict[int, Original]) -> Original:
        """The message at ``seq``: kept from decoding, or read back from the stream (an
        event the database refused)."""
        delay = 0.1
        while seq not in originals:
            try:
                originals[seq] = await self.source.message_at(seq)
            except Exception as exc:  # noqa: BLE001 - NATS unavailable: waited out
                self._write_problem = f"NATS unavailable: {exc.__class__.__name__}"
                log.warning("cannot read back message %d (%s); retrying in %.1fs", seq, exc,
                            delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_seconds)
        return originals[seq]

    async def _apply(self, items: list[Message], msgs: dict[int, Original],
                     prepared: bytes | None = None) -> BatchResult:
        try:
            return await self._commit(items, msgs, prepared)
        except Exception as exc:  # refused by the database, unless transient
            if is_transient(exc):
                raise
            log.warning("batch %d-%d refused (%s); applying event by event",
                        items[0].seq, items[-1].seq, exc)
        results = [await self._apply_alone(item, msgs) for item in items]
        return BatchResult(sum(r.applied for r in results),
                           sum(r.already_applied for r in results),
                           sum(r.dead_lettered for r in results), results[-1].position)

    async def _apply_alone(self, item: Message,
                           msgs: dict[int, Original]) -> BatchResult:
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                return await self._commit([item], msgs)
            except Exception as exc:  # noqa: BLE001 - counted, then dead-lettered
                reason = f"refused by the read model {attempt} time(s): {exc}"
                await asyncio.sleep(min(0.05 * 2**attempt, self.settings.retry_max_seconds))
        original = await self._original(item.seq, msgs)
        dead = DeadLetter(item.seq, original.subject or "", reason[:1000],
                          self.settings.max_attempts)
        return await self._commit([dead], msgs)

    async def _commit(self, items: list[Message], msgs: dict[int, Original],
                      prepared: bytes | None = None) -> BatchResult:
        """Dead-letter, then commit; an unreachable NATS or database is waited out."""
        delay = 0.1
        while True:
            try:
                for item in items:
                    if isinstance(item, DeadLetter) and item.seq > self.position:
                        original = await self._original(item.seq, msgs)
                        await self._deadletters.publish(original, item.seq, item.reason)
                        log.warning("dead letter", extra={"seq": item.seq, "reason": item.reason,
                                                          "subject": item.subject})
                result = await self.writer.apply(self.store, items, prepared)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self._write_problem = f"database or NATS unavailable: {exc.__class__.__name__}"
                log.warning("commit failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_seconds)
                continue
            if self._write_problem is not None:
                log.info("generation %d: read model reachable again", self.store.number)
            self._write_problem = None
            if result.dead_lettered:
                self.dead_lettered_total += result.dead_lettered
                log.warning("dead-lettered %d message(s) up to seq %d", result.dead_lettered,
                            result.position)
            return result
