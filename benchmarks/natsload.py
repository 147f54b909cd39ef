"""Raw nats-py baselines: publish events into the stream, read the stream back.

These are the same-run baselines the services are compared with: plain nats-py
``publish_async`` of ingest's events (the physical limit), the broker work ingest asks for
(its headers and pipelining) without HTTP, validation or encoding, and the read rate of an
ordered consumer without decoding or SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from cungdan_contracts.subjects import ALL_LOGGED, STREAM, STREAM_SUBJECTS
from cungdan_ingest.journal import Journal, Outgoing, ensure_stream, stream_config
from cungdan_ingest.settings import IngestSettings

from .events import Event

IN_FLIGHT = IngestSettings().max_in_flight
"""The journal's pipelining depth (``CUNGDAN_MAX_IN_FLIGHT``, 4000 by default)."""


@contextlib.asynccontextmanager
async def connect(url: str) -> AsyncIterator[Client]:
    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=3)
    try:
        yield nc
    finally:
        with contextlib.suppress(Exception):
            await nc.drain()


async def create_stream(nc: Client) -> None:
    """The stream exactly as ingest configures it (``ensure_stream`` with its defaults)."""
    settings = IngestSettings()
    await ensure_stream(nc, stream_config(
        STREAM, STREAM_SUBJECTS, settings.stream_duplicate_window_seconds,
        settings.stream_replicas))


async def last_seq(nc: Client) -> int:
    info = await nc.jetstream().stream_info(STREAM)
    return int(info.state.last_seq)


_ADDED_BY_GET = {"Nats-Stream", "Nats-Subject", "Nats-Sequence", "Nats-Time-Stamp",
                 "Nats-Last-Sequence", "Nats-Num-Pending"}
"""Headers a direct get adds to the stored message's own."""


async def check_journal_headers(url: str, event: Event) -> str | None:
    """Publish ``event`` with ingest's real ``Journal`` and compare the headers stored with
    those the bench's publishers send; a description of the difference, or None."""
    async with connect(url) as nc:
        await create_stream(nc)
        settings = IngestSettings()
        journal = Journal(nc, STREAM, timeout=settings.publish_timeout_seconds,
                          max_in_flight=settings.max_in_flight)
        await journal.start()
        [result] = await journal.append_many([Outgoing(
            event.subject, event.payload, dict(event.headers), event.id_filter, event.key)])
        seq = getattr(result, "seq", None)
        if seq is None:
            return f"the journal did not store the probe event: {result}"
        stored = await nc.jetstream().get_msg(STREAM, seq, direct=True)
        ours = event.journal_headers()
        theirs = {k: v for k, v in (stored.headers or {}).items() if k not in _ADDED_BY_GET}
        if ours != theirs:
            return f"journal sends {theirs}, the bench sends {ours}"
        return None


@dataclass
class PublishResult:
    stored: int
    failed: int
    seconds: float
    last_seq: int

    @property
    def rate(self) -> float:
        return self.stored / self.seconds if self.seconds > 0 else 0.0


class PipelinedPublisher:
    """The journal's pipelining, minus everything else: one reply inbox, a token per
    message, at most ``in_flight`` unacknowledged messages, the journal's headers."""

    def __init__(self, nc: Client, in_flight: int = IN_FLIGHT,
                 headers: Callable[[Event], dict[str, str]] | None = None) -> None:
        self._nc = nc
        self._headers = headers or Event.journal_headers
        self._slots = asyncio.Semaphore(in_flight)
        self._tokens = itertools.count()
        self._inbox = ""
        self._outstanding = 0
        self._drained = asyncio.Event()
        self.stored = 0
        self.failed = 0
        self.last_seq = 0
        self.first_error: str | None = None

    async def start(self) -> None:
        self._inbox = self._nc.new_inbox()
        await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)

    async def _on_ack(self, msg: Msg) -> None:
        reply = json.loads(msg.data) if msg.data else {}
        if "seq" in reply and "error" not in reply:
            self.stored += 1
            self.last_seq = max(self.last_seq, int(reply["seq"]))
        else:
            self.failed += 1
            self.first_error = self.first_error or (msg.data.decode(errors="replace")
                                                    or str(msg.headers))
        self._outstanding -= 1
        self._slots.release()
        if self._outstanding == 0:
            self._drained.set()

    async def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            await self._slots.acquire()
            self._outstanding += 1
            self._drained.clear()
            await self._nc.publish(event.subject, event.payload,
                                   reply=f"{self._inbox}.{next(self._tokens)}",
                                   headers=self._headers(event))

    async def wait(self, seconds: float = 60.0) -> None:
        if self._outstanding:
            await asyncio.wait_for(self._drained.wait(), seconds)


async def publish_pipelined(url: str, events: Sequence[Event],
                            in_flight: int = IN_FLIGHT) -> PublishResult:
    """Publish ``events`` as the journal does; time from first send to last ack."""
    async with connect(url) as nc:
        await create_stream(nc)
        publisher = PipelinedPublisher(nc, in_flight)
        await publisher.start()
        started = time.perf_counter()
        await publisher.publish(events)
        await publisher.wait()
        seconds = time.perf_counter() - started
        if publisher.failed:
            raise RuntimeError(f"{publisher.failed} publish(es) refused: {publisher.first_error}")
        return PublishResult(publisher.stored, publisher.failed, seconds, publisher.last_seq)


async def publish_async_plain(url: str, events: Sequence[Event]) -> PublishResult:
    """nats-py ``publish_async`` of the same subjects and payloads, without any header: no
    id check, no ``Nats-Msg-Id``, nothing ingest's journal asks the server to do. The
    physical limit of storing these events through nats-py."""
    async with connect(url) as nc:
        await create_stream(nc)
        js = nc.jetstream(publish_async_max_pending=IN_FLIGHT)
        started = time.perf_counter()
        futures = [await js.publish_async(e.subject, e.payload) for e in events]
        acks = await asyncio.wait_for(asyncio.gather(*futures), 120)
        seconds = time.perf_counter() - started
        return PublishResult(len(acks), 0, seconds, max(a.seq for a in acks))


@dataclass
class ReadResult:
    messages: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


async def read_ordered(url: str, upto: int, deadline_seconds: float = 300.0) -> ReadResult:
    """Read sequences 1..``upto`` with an ordered push consumer, as the projector subscribes
    (no decoding); time from the first message to ``upto``."""
    done = asyncio.Event()
    count = 0
    first = 0.0
    last = 0.0

    async def on_msg(msg: Msg) -> None:
        nonlocal count, first, last
        if count == 0:
            first = time.perf_counter()
        count += 1
        if msg.metadata.sequence.stream >= upto:
            last = time.perf_counter()
            done.set()

    async with connect(url) as nc:
        sub = await nc.jetstream().subscribe(
            ALL_LOGGED, stream=STREAM, ordered_consumer=True, cb=on_msg,
            deliver_policy=DeliverPolicy.ALL, idle_heartbeat=2.0)
        try:
            await asyncio.wait_for(done.wait(), deadline_seconds)
        finally:
            await sub.unsubscribe()
    # The first message's own delivery is not timed: count the rest over the span.
    return ReadResult(count - 1, last - first)
