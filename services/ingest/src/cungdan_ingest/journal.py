"""The JetStream side of ingest: append events, and say which were stored before.

Each event is published with ``Nats-Expected-Last-Subject-Sequence: 0`` over
the subjects that can carry its id (``Nats-Expected-Last-Subject-Sequence-Subject``),
so the server refuses, atomically and forever, a second event with the same id
and names the first one's sequence (error 10071). ``Nats-Msg-Id`` adds the
usual dedup window on top.

That filter names the subject layout ingest writes (layout 2: the id right after
``cungdan.activity.``, found by the server directly however long the stream). An id may
also be stored in layout 1, from before the upgrade: :meth:`Journal.index_layout1` lists
those ids once at start (:mod:`.layout1`), and a message whose id the index holds is
first looked for in layout 1 (a refusal as above, without publishing); every other id is
certainly not there. Layout 1 is never written again, so that lookup cannot race.

Publishes are pipelined on one reply inbox rather than through nats-py's
``publish_async``, whose futures never settle when the server answers with an
API error (nats-py 2.16 raises inside its reply callback), and framed by the
journal itself (:mod:`.frames`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import (
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamConsumerLimits,
    StreamInfo,
)
from nats.js.errors import NotFoundError

from cungdan_contracts import AdminMap
from cungdan_contracts.subjects import (
    LAYOUT1_VERSIONS,
    Kind,
    history_filters,
    key_filter,
    layout1_filter,
    layout1_key_filters,
)

from .frames import FramedPublisher
from .layout1 import Layout1Builder, Layout1Ids
from .subject_listing import subjects, subjects_in_parts

log = logging.getLogger(__name__)

_WRONG_LAST_SEQUENCE = 10071
_WRONG_LAST_RE = re.compile(r"wrong last sequence: (\d+)")


@dataclass(frozen=True, slots=True)
class Outgoing:
    subject: str
    payload: bytes
    headers: dict[str, str]
    id_filter: str
    """Subjects that may already carry this message's id (in the layout written now)."""
    key: tuple[Kind, str] | None = None
    """The kind and id the message is stored once under, to look for in layout 1 too."""


@dataclass(frozen=True, slots=True)
class Stored:
    seq: int


@dataclass(frozen=True, slots=True)
class AlreadyStored:
    seq: int


@dataclass(frozen=True, slots=True)
class NotStored:
    reason: str


AppendResult = Stored | AlreadyStored | NotStored


CONSUMER_INACTIVE_SECONDS = 7 * 24 * 3600.0
"""The longest a consumer of the activity stream may go unused before the server deletes
it: the default of consumers created without an ``inactive_threshold`` (a downstream
reader's durable consumer: the ``reader`` user may not delete consumers), and the most
one may ask for."""


def stream_config(name: str, subjects: Sequence[str], duplicate_window: float,
                  replicas: int, *,
                  consumer_inactive_seconds: float = CONSUMER_INACTIVE_SECONDS) -> StreamConfig:
    """The activity stream: the source of truth, kept forever on disk. Its consumers are
    not: each goes once unused for ``consumer_inactive_seconds``."""
    return StreamConfig(
        name=name,
        subjects=list(subjects),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=0,
        duplicate_window=duplicate_window,
        num_replicas=replicas,
        allow_direct=True,
        deny_delete=True,
        deny_purge=True,
        consumer_limits=StreamConsumerLimits(inactive_threshold=consumer_inactive_seconds),
    )


async def ensure_stream(nc: Client, config: StreamConfig) -> None:
    js = nc.jetstream()
    try:
        await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(config)
        log.info("created stream %s", config.name)
        return
    await js.update_stream(config)


def leaderless(info: StreamInfo) -> str | None:
    """Why a replicated stream cannot store now, judged by its info: it has no leader (a
    quorum of its replicas is lost; a replica left alone answers the info itself)."""
    replicas = info.config.num_replicas or 1
    if replicas > 1 and info.cluster is not None and not info.cluster.leader:
        return (f"stream {info.config.name} has no leader: fewer than a quorum of its "
                f"{replicas} replicas reachable")
    return None


class _Append:
    """One ``append_many`` call and its acknowledgements: the replies fill ``results`` in
    place, and one future (not one per message) says when the last has come."""

    __slots__ = ("done", "results", "unanswered")

    def __init__(self, count: int) -> None:
        self.results: list[AppendResult | None] = [None] * count
        self.unanswered = 0
        """Messages published and not acknowledged yet."""
        self.done: asyncio.Future[None] | None = None
        """Set once every message is published (replies may come in while it is not)."""

    def answer(self, index: int, result: AppendResult) -> None:
        self.results[index] = result
        self.unanswered -= 1
        if not self.unanswered and self.done is not None and not self.done.done():
            self.done.set_result(None)


class Journal:
    """Appends messages to one stream and reads back what an id already stored."""

    def __init__(self, nc: Client, stream: str, *, timeout: float, max_in_flight: int,
                 observe: Callable[[float], None] | None = None) -> None:
        """``observe`` receives the seconds each ``append_many`` waited for its acks."""
        self._nc = nc
        self._publisher = FramedPublisher(nc)
        self._stream = stream
        self._timeout = timeout
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._pending: dict[str, tuple[_Append, int]] = {}
        """Reply token -> the call and the index of the message it acknowledges."""
        self._tokens = itertools.count()
        self._inbox = ""
        self._observe = observe
        self.layout1 = Layout1Ids()
        """The ids stored in layout 1 (:meth:`index_layout1`; none until then)."""

    @property
    def connected(self) -> bool:
        return bool(self._nc.is_connected)

    async def stream_problem(self) -> str | None:
        """Why the stream cannot take events now (``None``: it can)."""
        try:
            info = await asyncio.wait_for(self._nc.jetstream().stream_info(self._stream), 2.0)
        except NotFoundError:
            return f"stream {self._stream} does not exist"
        except Exception as exc:  # noqa: BLE001 - any failure means: not ready, and why
            return f"stream {self._stream} unavailable: {exc.__class__.__name__}"
        return leaderless(info)

    async def start(self) -> None:
        self._inbox = self._nc.new_inbox()
        await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_reply)

    async def _on_reply(self, msg: Msg) -> None:
        waiting = self._pending.pop(msg.subject.rpartition(".")[2], None)
        if waiting is not None:  # else: given up on (timeout) and its slot already released
            self._in_flight.release()
            call, index = waiting
            call.answer(index, _parse_ack(msg))

    async def index_layout1(self, routes: Sequence[tuple[AdminMap, str]] = ()) -> Layout1Ids:
        """List the ids stored in layout 1 from the server's subject index (once, at
        start: layout 1 no longer grows). ``routes``: the (map, province) pairs to ask for
        one by one when a kind holds more than a page (every subject is listed anyway)."""
        builder = Layout1Builder()
        for kind in Kind:
            for version in LAYOUT1_VERSIONS:
                parts = [layout1_filter(kind, version, *route) for route in routes]
                async for listed in subjects_in_parts(
                        self._nc, self._stream, layout1_filter(kind, version), parts):
                    builder.add_listed(kind, listed)
        self.layout1 = builder.build()
        return self.layout1

    async def append_many(self, messages: Sequence[Outgoing]) -> list[AppendResult]:
        """Publish all, wait (bounded) for every acknowledgement; never raises for the broker.

        Up to ``max_in_flight`` messages (of all calls) await their acknowledgement at once;
        a full window waits for a free slot, within the same deadline. A message whose
        ``key`` the layout-1 index may hold is looked for there first, and not published
        if found."""
        if not messages:
            return []
        if not self.connected:
            return [NotStored("not connected to NATS")] * len(messages)
        older = [i for i, m in enumerate(messages)
                 if m.key is not None and self.layout1.may_hold(*m.key)] if self.layout1 else []
        if not older:
            return await self._append(messages)
        found = await asyncio.gather(*(self._in_layout1(messages[i]) for i in older))
        results: list[AppendResult | None] = [None] * len(messages)
        for index, result in zip(older, found, strict=True):
            results[index] = result
        rest = [i for i, r in enumerate(results) if r is None]
        for index, result in zip(rest, await self._append([messages[i] for i in rest]),
                                 strict=True):
            results[index] = result
        return [r for r in results if r is not None]

    async def _in_layout1(self, message: Outgoing) -> AppendResult | None:
        """``AlreadyStored`` if the message's key is stored in layout 1, None if not."""
        assert message.key is not None
        try:
            found = await self.find_in_layout1(*message.key)
        except Exception as exc:  # noqa: BLE001 - any broker failure: not stored, try later
            return NotStored(f"could not look for {message.key[1]} in layout 1: {exc!r}")
        return None if found is None else AlreadyStored(found[0])

    async def _append(self, messages: Sequence[Outgoing]) -> list[AppendResult]:
        if not messages:
            return []
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self._timeout
        call = _Append(len(messages))
        tokens: list[str] = []
        try:
            for index, message in enumerate(messages):
                tokens.append(await self._send(call, index, message, deadline))
            if call.unanswered:
                call.done = loop.create_future()
                expiry = loop.call_at(deadline, _settle, call.done)
                try:
                    await call.done
                finally:
                    expiry.cancel()
        except (TimeoutError, OSError) as exc:
            log.warning("publish interrupted: %s", exc)
        finally:
            if call.unanswered:  # give up on the rest: free their slots, ignore late replies
                for token in tokens:
                    if self._pending.pop(token, None) is not None:
                        self._in_flight.release()
        if self._observe is not None:
            self._observe(loop.time() - started)
        return [NotStored("no acknowledgement from JetStream in time") if r is None else r
                for r in call.results]

    async def _send(self, call: _Append, index: int, message: Outgoing,
                    deadline: float) -> str:
        """Publish one message of ``call`` once a slot of the window is free; its token."""
        if self._in_flight.locked():  # only a full window waits (and pays for wait_for)
            loop = asyncio.get_running_loop()
            await asyncio.wait_for(self._in_flight.acquire(), max(0.0, deadline - loop.time()))
        else:  # a free slot: no task, no yield, so the flusher writes the batch at once
            await self._in_flight.acquire()
        token = str(next(self._tokens))
        self._pending[token] = (call, index)
        call.unanswered += 1
        try:
            await self._publisher.publish(message.subject, f"{self._inbox}.{token}",
                                          sent_headers(message, self._stream), message.payload)
        except BaseException:
            if self._pending.pop(token, None) is not None:
                call.unanswered -= 1
                self._in_flight.release()
            raise
        return token

    async def message_at(self, seq: int) -> bytes:
        """The payload stored at ``seq``."""
        msg = await self._nc.jetstream().get_msg(self._stream, seq, direct=True)
        return msg.data or b""

    async def last_on(self, subject_filter: str) -> tuple[int, bytes] | None:
        """The last message on a subject matching ``subject_filter``: (seq, payload).

        The server finds it from its subject index (no scan of the messages)."""
        reply = await self._nc.request(
            f"$JS.API.DIRECT.GET.{self._stream}",
            json.dumps({"last_by_subj": subject_filter}).encode(), timeout=5.0)
        return _direct_reply(reply)

    async def find_id(self, kind: Kind, key: str) -> tuple[int, bytes] | None:
        """The ``kind`` event stored under ``key``, in either layout: (seq, payload)."""
        found = await self.last_on(key_filter(kind, key))
        if found is None and self.layout1.may_hold(kind, key):
            found = await self.find_in_layout1(kind, key)
        return found

    async def find_in_layout1(self, kind: Kind, key: str) -> tuple[int, bytes] | None:
        """The ``kind`` event stored under ``key`` in layout 1."""
        for subject_filter in layout1_key_filters(kind, key):
            if (found := await self.last_on(subject_filter)) is not None:
                return found
        return None

    async def events_on(self, subject_filter: str) -> list[tuple[int, bytes]]:
        """Every event on the subjects matching ``subject_filter``, one per subject (as the
        period events are), in stream order."""
        listed = await subjects(self._nc, self._stream, subject_filter)
        found = await asyncio.gather(*(self.last_on(s) for s in listed))
        return sorted(f for f in found if f is not None)

    async def history(self, activity_id: str) -> list[tuple[int, bytes]]:
        """Every event about the activity, in stream order: each subject is listed from the
        server's subject index, then read (each event has a subject of its own)."""
        layout1 = self.layout1.may_hold(Kind.LOGGED, activity_id)
        listed = await asyncio.gather(*(subjects(self._nc, self._stream, f)
                                        for f in history_filters(activity_id, layout1=layout1)))
        found = await asyncio.gather(*(self.last_on(s) for group in listed for s in group))
        return sorted(f for f in found if f is not None)


def sent_headers(message: Outgoing, stream: str) -> dict[str, str]:
    """The headers the journal sends with ``message``: its own, and the once-only checks."""
    return {**message.headers, "Nats-Expected-Stream": stream,
            "Nats-Expected-Last-Subject-Sequence": "0",
            "Nats-Expected-Last-Subject-Sequence-Subject": message.id_filter}


def _direct_reply(reply: Msg) -> tuple[int, bytes] | None:
    """(seq, payload) of a direct get's reply; None when nothing matched (404)."""
    headers = reply.headers or {}
    status = headers.get("Status")
    if status == "404":
        return None
    if status is not None or "Nats-Sequence" not in headers:
        raise RuntimeError(f"direct get refused: {status} {headers.get('Description', '')}")
    return int(headers["Nats-Sequence"]), reply.data or b""


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _parse_ack(msg: Msg) -> AppendResult:
    if msg.headers and msg.headers.get("Status") == "503":
        return NotStored("no JetStream stream answers on this subject")
    try:
        reply = json.loads(msg.data)
    except ValueError:
        return NotStored("unreadable acknowledgement")
    error = reply.get("error")
    if error is None:
        seq = int(reply["seq"])
        return AlreadyStored(seq) if reply.get("duplicate") else Stored(seq)
    match = _WRONG_LAST_RE.search(str(error.get("description", "")))
    if error.get("err_code") == _WRONG_LAST_SEQUENCE and match:
        return AlreadyStored(int(match.group(1)))
    return NotStored(f"JetStream refused the message: {error.get('description')}")
