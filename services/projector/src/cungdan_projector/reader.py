"""NATS adapter of the projector: read the stream in order, a bounded batch at a time.

The stream is read by :class:`StreamReader` through an ephemeral *pull* consumer
(no acks: the read model's position is the acknowledgement) created to start
right after the position stored in the read model. Memory stays bounded however
long the backlog: the reader asks the server for messages only while it holds
fewer than ``batch_max`` in hand plus ``batch_max`` prefetched, so the next batch
arrives while the one in hand is committed, and nothing beyond it. (The push
consumer used before had no such bound in nats-py 2.16: it buffered the whole
backlog, then dropped messages as a slow consumer and re-read them.) One
transaction per batch, not per event; batches are full while behind, small when
keeping up with the stream.

The consumer is not an ordered one, so the reader checks order itself: every
message must carry the consumer sequence right after the previous one (stream
sequences may skip numbers, the consumer's may not), and the server's idle
heartbeats must report the last consumer sequence received. On a gap, on any
status the server ends the consumer with (deleted, expired after
``inactive_threshold``, no responders, leader change), on silence while a pull
request is open, and after a reconnection, the reader drops the consumer and its
prefetched messages and creates a new one starting right after the last message
it handed out. It reports a problem (not ready) while it cannot read.

Pull requests are sent directly (``$JS.API.CONSUMER.MSG.NEXT``), not through
nats-py's ``PullSubscription.fetch``: a fetch can return while a request of its
own is still open at the server (after its client-side timeout, or a no-wait probe
followed by a waiting request), and the next fetch hands out everything that
arrived meanwhile, however much; it also swallows the heartbeats that tell a
message lost at the tail of the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import uuid
from collections import deque
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RawStreamMsg
from nats.js.errors import NotFoundError

from cungdan_contracts.subjects import PROJECTED, STREAM
from cungdan_service.natspy import is_consumer_delete_refused, is_permissions_violation

from .deadletters import Original
from .delivery import Delivered, delivery

log = logging.getLogger("cungdan.projector")

NEXT_SUBJECT = "$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
"""Where pull requests go (the JetStream API under its default prefix)."""


@dataclass(eq=False)
class _Consumer:
    """One ephemeral pull consumer, from its creation until it is found broken."""

    name: str
    inbox: str
    start: int
    """Stream sequence it starts at."""
    reconnects: int
    """The client's reconnection count when it was created."""
    sub: Subscription | None = None
    delivered: int = 0
    """Consumer sequence of the last message received (they count from 1, without gaps)."""
    last_seq: int = 0
    """Stream sequence of the last message received."""
    asked: int = 0
    """Messages asked for by the open pull request and not received yet (0: none open)."""
    behind: int = 0
    """Messages after the last one received that the server has for this consumer."""
    heard: float = 0.0
    """Loop time of the last message, heartbeat or status received, or of the last pull."""
    broken: str | None = None


class StreamReader:
    """Reads ``STREAM`` (subjects ``PROJECTED``: activities and period events) in order
    after a position, holding at most ``batch + prefetch`` messages: the batch in hand and
    the next ones.

    One pull request is open at a time, for no more messages than there is room for, so
    the bound holds for what the server sends too. ``take`` hands out the next messages;
    ``release`` says the ones in hand are done with.
    """

    heartbeat = 2.0
    """Seconds between the server's idle heartbeats while a pull request waits; three
    missed and the consumer is presumed lost."""
    expires = 30.0
    """Seconds a pull request may wait for messages before the server ends it (408)."""
    inactive_threshold = 120.0
    """The server deletes a consumer nobody pulled from for this long (one left behind
    by a crash or a lost connection)."""

    def __init__(self, nc: Client, *, name: str, batch: int, prefetch: int,
                 retry_max_seconds: float, delete_consumers: bool = True) -> None:
        """``delete_consumers``: False when this connection's user may not (the server
        then removes a consumer given up after ``inactive_threshold``): no deletion is
        tried, so none is refused."""
        self._nc = nc
        self._name = name
        self._batch = batch
        self._limit = batch + prefetch
        self._min_pull = max(1, batch // 2)
        self._retry_max = retry_max_seconds
        self._buffer: deque[Delivered] = deque()
        self._in_hand = 0
        self._consumer: _Consumer | None = None
        self._creating: _Consumer | None = None
        """The consumer being created (``close`` drops it too)."""
        self._arrived = asyncio.Event()
        self._trouble = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.handed = 0
        """Stream sequence of the last message handed out by ``take``."""
        self.problem: str | None = "starting"
        """Why the stream cannot be read right now, or None."""
        self.consumers_created = 0
        self.last_break: str | None = None
        """Why the last consumer was given up."""
        self._fruitless = 0
        self._may_not_delete = not delete_consumers

    @property
    def holding(self) -> int:
        """Messages of the stream in this process: in hand, prefetched, and received by
        nats-py but not yet passed on."""
        c = self._consumer
        pending = c.sub.pending_msgs if c is not None and c.sub is not None else 0
        return self._in_hand + len(self._buffer) + pending

    @property
    def connected(self) -> bool:
        return bool(self._nc.is_connected)

    async def message_at(self, seq: int) -> Original:
        """The message at ``seq``, read back from the stream (an empty one if it was removed
        since). Raises when NATS is unavailable."""
        try:
            msg: Original = await self._nc.jetstream().get_msg(STREAM, seq, direct=True)
        except NotFoundError:
            return RawStreamMsg(subject="", seq=seq, data=b"")
        return msg

    @property
    def consumer_name(self) -> str | None:
        return None if self._consumer is None else self._consumer.name

    def start(self, position: int) -> None:
        self.handed = position
        self._task = asyncio.create_task(self._supervise(), name=f"{self._name}-reader")

    async def take(self) -> list[Delivered]:
        """The next messages in stream order: a full ``batch`` while behind, else those
        there are (one at least)."""
        while len(self._buffer) < self._batch and not (self._buffer and not self._coming()):
            self._arrived.clear()
            await self._arrived.wait()
        batch = [self._buffer.popleft() for _ in range(min(self._batch, len(self._buffer)))]
        self._in_hand += len(batch)
        self.handed = batch[-1].seq
        return batch

    def _coming(self) -> bool:
        """Whether more messages are on their way: the server has some, and they are asked."""
        c = self._consumer
        return c is not None and c.broken is None and c.asked > 0 and c.behind > 0

    async def release(self, count: int) -> None:
        """``count`` messages taken are done with: make room for the next ones."""
        self._in_hand -= count
        await self._pull()

    async def close(self) -> None:
        """Stop reading; unsubscribe and delete the consumer, if this user may (errors
        ignored)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._buffer.clear()
        for consumer in (self._consumer, self._creating):
            if consumer is not None:
                await self._drop(consumer)
        self._consumer = self._creating = None

    # -------------------------------------------------------------------- internals

    async def _supervise(self) -> None:
        """Create the consumer, watch it, and replace it whenever it breaks."""
        while True:
            try:
                await self._watch()
            except Exception:  # a bug of ours: say so, and go on reading
                log.exception("%s: reader supervisor failed; starting again", self._name)
                if self._consumer is not None:
                    self._break(self._consumer, "reader supervisor failed")
                await asyncio.sleep(1.0)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            c = self._consumer
            if c is None or c.broken is not None:
                self._consumer = None
                if c is not None:
                    await self._drop(c)
                    # Consumers that break before delivering anything (a request the server
                    # refuses, say) are replaced ever more slowly, and reported.
                    self._fruitless = self._fruitless + 1 if c.delivered == 0 else 0
                    if self._fruitless >= 2:
                        if self._fruitless >= 3:
                            self.problem = f"consumers keep failing: {c.broken}"
                        await asyncio.sleep(min(0.2 * 2 ** (self._fruitless - 2),
                                                self._retry_max))
                self._consumer = await self._create()
                await self._pull()
                continue
            began = loop.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._trouble.wait(), self.heartbeat)
            self._trouble.clear()
            now = loop.time()
            if c.broken is not None:
                continue
            if self._nc.stats["reconnects"] != c.reconnects:
                self._break(c, "reconnected to NATS: an open pull request or messages "
                               "in flight may be lost")
            elif now - began > 2 * self.heartbeat:
                c.heard = now  # this loop was starved: so were the messages, maybe
            elif c.asked and now - c.heard > 3 * self.heartbeat:
                self.problem = (f"no message nor heartbeat from NATS for "
                                f"{now - c.heard:.0f} s")
                if is_permissions_violation(self._nc.last_error):
                    self.problem += f" (last error: {self._nc.last_error})"
                self._break(c, self.problem)

    async def _create(self) -> _Consumer:
        """A new consumer starting right after the last message handed out; retried
        with backoff until it works."""
        delay = 0.2
        while True:
            start = self.handed + 1
            c = _Consumer(f"{self._name}-{uuid.uuid4().hex[:12]}", self._nc.new_inbox(), start,
                          self._nc.stats["reconnects"], last_seq=start - 1)
            self._creating = c
            try:
                if not self._nc.is_connected:
                    raise ConnectionError("not connected to NATS")
                c.sub = await self._nc.subscribe(c.inbox, cb=functools.partial(self._receive, c))
                await self._nc.jetstream().add_consumer(STREAM, ConsumerConfig(
                    name=c.name, filter_subjects=list(PROJECTED), ack_policy=AckPolicy.NONE,
                    deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start,
                    inactive_threshold=self.inactive_threshold, mem_storage=True,
                    max_waiting=1))
            except Exception as exc:  # noqa: BLE001 - NATS down, stream missing, ...: retried
                self._creating = None
                await self._drop(c)
                self.problem = f"cannot read stream {STREAM}: {exc!r}"
                log.warning("%s; retrying in %.1fs", self.problem, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            self._creating = None
            self.consumers_created += 1
            if self._fruitless < 3:
                if self.problem is not None and self.problem != "starting":
                    log.info("%s: reading the stream again", self._name)
                self.problem = None
            log.info("%s reading %s from sequence %d (consumer %s)", self._name, STREAM,
                     start, c.name)
            return c

    async def _drop(self, c: _Consumer) -> None:
        if c.sub is not None:
            with contextlib.suppress(Exception):
                await c.sub.unsubscribe()
        if not self._nc.is_connected or self._may_not_delete:
            return  # the server removes it after inactive_threshold
        try:
            await asyncio.wait_for(self._nc.jetstream().delete_consumer(STREAM, c.name), 2.0)
        except Exception as exc:  # noqa: BLE001 - it expires anyway
            if is_consumer_delete_refused(self._nc.last_error):
                self._may_not_delete = True
            log.info("%s: consumer %s not deleted (%r); the server removes it after %.0f s",
                     self._name, c.name, self._nc.last_error or exc, self.inactive_threshold)

    async def _pull(self) -> None:
        """Ask for as many messages as there is room for, unless a request is open."""
        c = self._consumer
        if c is None or c.broken is not None or c.asked:
            return
        room = self._limit - self._in_hand - len(self._buffer)
        if room < self._min_pull:
            return
        c.asked = room
        c.heard = asyncio.get_running_loop().time()
        request = {"batch": room, "expires": int(self.expires * 1e9),
                   "idle_heartbeat": int(self.heartbeat * 1e9)}
        try:
            await self._nc.publish(NEXT_SUBJECT.format(stream=STREAM, consumer=c.name),
                                   json.dumps(request).encode(), reply=c.inbox)
        except Exception as exc:  # noqa: BLE001 - connection closed or lost: start again
            self._break(c, f"pull request failed: {exc!r}")

    async def _receive(self, c: _Consumer, msg: Msg) -> None:
        if c is not self._consumer or c.broken is not None:
            return  # sent to a consumer already given up
        c.heard = asyncio.get_running_loop().time()
        if not msg.reply:  # a status from the server: JetStream messages have an ack subject
            headers = msg.headers or {}
            status = headers.get("Status", "")
            if status in ("100", "408") and self.problem is not None and self._fruitless < 3:
                self.problem = None  # the server answers: reading again
            if status == "100":
                last = headers.get("Nats-Last-Consumer")
                if last is not None and last.isdigit() and int(last) != c.delivered:
                    self._break(c, f"gap: the server sent up to consumer sequence {last}, "
                                   f"{c.delivered} received")
            elif status in ("404", "408"):  # the pull request ended: ask again
                c.asked = 0
                self._arrived.set()
                await self._pull()
            else:  # 409 consumer deleted, 503 no responders, ...
                description = " ".join(str(headers.get("Description", "")).split())
                self._break(c, f"status {status} {description}".strip())
            return
        try:
            seq, consumer_seq, pending = delivery(msg.reply)
        except ValueError as exc:  # not a JetStream message: start again
            self._break(c, f"unexpected message on {msg.subject}: {exc!r}")
            return
        if consumer_seq != c.delivered + 1 or seq <= c.last_seq:
            self._break(c, f"gap: consumer sequence {consumer_seq} after {c.delivered} "
                           f"(stream sequence {seq} after {c.last_seq})")
            return
        c.delivered, c.last_seq, c.behind = consumer_seq, seq, pending
        if self.problem is not None:
            self.problem = None  # reading again
        self._buffer.append(Delivered(seq, pending, msg))
        self._arrived.set()
        c.asked -= 1
        if c.asked <= 0:
            c.asked = 0
            await self._pull()

    def _break(self, c: _Consumer, reason: str) -> None:
        """Give up ``c`` and what it prefetched; the supervisor starts again after what
        was handed out."""
        if c.broken is not None:
            return
        c.broken = reason
        self.last_break = reason
        dropped = len(self._buffer)
        self._buffer.clear()
        log.warning("%s: consumer %s given up (%s); %d prefetched message(s) dropped, "
                    "reading again from sequence %d", self._name, c.name, reason, dropped,
                    self.handed + 1)
        self._trouble.set()
