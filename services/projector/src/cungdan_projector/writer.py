"""Where a projection's batches are applied: in a process of their own, or in a thread.

Reading and decoding the stream is Python under one GIL; so is folding a batch and
binding its rows for the database. In one process they take turns on one core while the
machine's second core idles. :class:`ProcessWriter` applies batches in a child process
(``python -m cungdan_projector.writer_child``) that owns a connection to the read model,
so the next batch is read and decoded while the previous one is committed.

Failure semantics are those of :meth:`GenerationStore.apply`: a batch commits whole or
not at all, with the stream position, and a batch applied twice counts once. So a child
that dies (killed, out of memory) loses nothing: the call fails as *unavailable*, a new
child is started, and the batch is applied again. Errors are classified in the child,
where their types are real, and come back as one of two exceptions:
:class:`WriterUnavailableError` (the database or the child is down: retried without
bound) and :class:`BatchRefusedError` (the database refused the batch itself: applied
event by event).

The child talks over its stdin and stdout: length-prefixed pickles of builtins, one
request and one reply at a time. It leaves SIGINT and SIGTERM to the service (which
closes its stdin after the batch in hand), and exits when its stdin ends, so also when
the service died. A plain subprocess rather than ``multiprocessing``: no resource-tracker
process, and no feeder and manager threads in the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import pickle
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any, BinaryIO, Protocol

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from cungdan_contracts import AdminMap

from .items import (
    BatchResult,
    Corrected,
    DeadLetter,
    Logged,
    Message,
    Origin,
    PeriodMark,
    Retracted,
)
from .rollup import Facts
from .store import GenerationStore, presum


class WriterUnavailableError(ConnectionError):
    """The read model or the writer process is unavailable: retry the batch later."""


class BatchRefusedError(RuntimeError):
    """The database refused the batch itself (a constraint, an overflow)."""


TRANSIENT = (OperationalError, InterfaceError, DisconnectionError, ConnectionError, TimeoutError,
             sqlite3.OperationalError, sqlite3.InterfaceError)
"""Failures of the infrastructure, not of the events: retried without bound. The bulk
writes run on the driver's cursor, so the driver's own classes count besides SQLAlchemy's
wrappers (PEP 249: OperationalError is a disconnection, a lock timeout, ...); psycopg's
are added by :func:`is_transient` once it is loaded (SQLite never loads it)."""


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure of the infrastructure (see :data:`TRANSIENT`)."""
    if isinstance(exc, TRANSIENT):
        return True
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(
        exc, (psycopg.OperationalError, psycopg.InterfaceError))


class Writer(Protocol):
    async def start(self) -> None:
        """Get ready to apply (a process that starts on the first batch would delay it by
        its start-up)."""

    def prepare(self, store: GenerationStore, items: Sequence[Message]) -> bytes | None:
        """The request for ``items``, made ahead: the projector calls this in its decoding
        thread, while the batch before commits, so that the writer does not wait for it."""

    async def apply(self, store: GenerationStore, items: Sequence[Message],
                    prepared: bytes | None = None) -> BatchResult:
        """Commit ``items`` (``prepared``: what :meth:`prepare` made of them, if it was)."""

    async def build_indexes(self, store: GenerationStore) -> None:
        """Build the indexes ``store``'s generation defers until it has caught up."""

    async def close(self) -> None: ...


class ThreadWriter:
    """Applies batches in a worker thread of this process (tests; in-memory SQLite)."""

    async def start(self) -> None:
        return None

    def prepare(self, store: GenerationStore, items: Sequence[Message]) -> bytes | None:
        return None  # the items themselves go to the thread

    async def apply(self, store: GenerationStore, items: Sequence[Message],
                    prepared: bytes | None = None) -> BatchResult:
        return await asyncio.to_thread(store.apply, items)

    async def build_indexes(self, store: GenerationStore) -> None:
        await asyncio.to_thread(store.build_deferred_indexes)

    async def close(self) -> None:
        return None


class ProcessWriter:
    """Applies batches in a child process (started with its projection, again after a crash)."""

    close_timeout = 120.0
    """Seconds ``close`` waits for the child to finish the batch in hand before killing it."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._presums = make_url(database_url).get_backend_name() == "postgresql"
        """Whether requests carry their batch's sums as COPY text (see ``prepare``)."""
        self._child: asyncio.subprocess.Process | None = None
        self._calls = asyncio.Lock()
        self.started = 0
        """Child processes started so far (a crash makes one more)."""

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        child = self._child
        return child.pid if child is not None and child.returncode is None else None

    async def start(self) -> None:
        """Start the child now, if none runs (a failure is left to the first batch)."""
        async with self._calls:
            with contextlib.suppress(WriterUnavailableError):
                await self._running()

    async def _running(self) -> asyncio.subprocess.Process:
        child = self._child
        if child is None or child.returncode is not None:
            child = self._child = await self._start()
        return child

    def prepare(self, store: GenerationStore, items: Sequence[Message]) -> bytes:
        """The request's frame, packed and pickled. For PostgreSQL it also holds the batch's
        sums as COPY text (:func:`.store.presum`), which the child then need not make while
        the database waits."""
        sums = presum(items) if self._presums else None
        return _frame((store.number, pack(items),
                       None if sums is None else (sums.totals, sums.monthly)))

    async def apply(self, store: GenerationStore, items: Sequence[Message],
                    prepared: bytes | None = None) -> BatchResult:
        request = prepared
        if request is None:
            request = await asyncio.to_thread(self.prepare, store, items)
        result: BatchResult = await self._request(request)
        return result

    async def build_indexes(self, store: GenerationStore) -> None:
        await self._request(_frame((store.number, None, None)))  # no batch: the deferred indexes

    async def _request(self, request: bytes) -> Any:
        """Send one request; its answer, or the child's failure raised as ours."""
        async with self._calls:
            child = await self._running()
            try:
                reply = await _call(child, request)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self._child = None
                await _reap(child, kill=True)
                raise WriterUnavailableError(
                    f"writer process died (exit status {child.returncode}): {exc!r}") from None
            except BaseException:  # cancelled mid-call: the pipe is out of step
                self._child = None
                _release(child)
                raise
        outcome, value = reply
        if outcome == "unavailable":
            raise WriterUnavailableError(value)
        if outcome == "refused":
            raise BatchRefusedError(value)
        return value

    async def _start(self) -> asyncio.subprocess.Process:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cungdan_projector.writer_child",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        self.started += 1
        assert child.stdin is not None and child.stdout is not None
        try:
            child.stdin.write(_frame(self._url))  # not in argv: it may hold a password
            await child.stdin.drain()
            size = int.from_bytes(await child.stdout.readexactly(8), "big")
            await child.stdout.readexactly(size)  # ready
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            await _reap(child, kill=True)
            raise WriterUnavailableError(
                f"writer process failed to start (exit status {child.returncode}): "
                f"{exc!r}") from None
        return child

    async def close(self) -> None:
        """Let the child finish the batch in hand and exit."""
        async with self._calls:
            child, self._child = self._child, None
        if child is not None:
            _release(child)
            try:
                await asyncio.wait_for(child.wait(), self.close_timeout)
            except TimeoutError:
                await _reap(child, kill=True)


async def _call(child: asyncio.subprocess.Process, request: bytes) -> Any:
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(request)
    await child.stdin.drain()
    size = int.from_bytes(await child.stdout.readexactly(8), "big")
    return pickle.loads(await child.stdout.readexactly(size))  # noqa: S301 - our child


def _release(child: asyncio.subprocess.Process) -> None:
    """End the child's stdin: it finishes what it is doing, then exits."""
    if child.stdin is not None and not child.stdin.is_closing():
        child.stdin.close()


async def _reap(child: asyncio.subprocess.Process, *, kill: bool) -> None:
    if kill and child.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
    await child.wait()


def _frame(value: object) -> bytes:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return len(body).to_bytes(8, "big") + body


def read_frame(stream: BinaryIO) -> Any:
    """The next value on ``stream``, or None at its end."""
    head = stream.read(8)
    if len(head) < 8:
        return None
    size = int.from_bytes(head, "big")
    body = stream.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)  # noqa: S301 - from our own service


def write_frame(stream: BinaryIO, value: object) -> None:
    stream.write(_frame(value))
    stream.flush()


def writer_for(database_url: str, kind: str) -> Writer:
    """``kind`` ``process`` or ``thread``; an in-memory SQLite database is only visible to
    this process, so it always gets the thread."""
    if kind == "thread" or make_url(database_url).database in (None, "", ":memory:"):
        return ThreadWriter()
    return ProcessWriter(database_url)


# --------------------------------------------------------------------- the wire format
# Frozen dataclasses pickle slowly; plain tuples of builtins take a fraction of that, even
# with rebuilding the objects in the child. Dates travel as ordinals and times as ISO
# text: a date or (pydantic's) aware datetime costs more to pickle than the rest of the
# tuple.

Packed = tuple[Any, ...]

_MAPS = {m.value: m for m in AdminMap}


def pack(items: Sequence[Message]) -> list[Packed]:
    out: list[Packed] = []
    for item in items:
        if isinstance(item, Logged):
            f, o = item.facts, item.origin
            out.append((0, item.seq, item.event_id, f.map.value, f.path, f.campaign,
                        f.day.toordinal(), f.measures, f.retracted, o.map, o.province,
                        o.campaign, o.recorded_at.isoformat()))
        elif isinstance(item, Corrected):
            o = item.origin
            out.append((1, item.seq, item.change_id, item.activity_id, item.measures,
                        o.map, o.province, o.campaign, o.recorded_at.isoformat()))
        elif isinstance(item, Retracted):
            o = item.origin
            out.append((3, item.seq, item.change_id, item.activity_id,
                        o.map, o.province, o.campaign, o.recorded_at.isoformat()))
        elif isinstance(item, PeriodMark):
            out.append((4, item.seq, item.kind, item.map, item.province, item.period,
                        item.closing, item.at.isoformat(), item.by, item.reason, item.campaign,
                        item.measures))
        else:
            out.append((2, item.seq, item.subject, item.reason, item.attempts))
    return out


def unpack(packed: Sequence[Packed]) -> list[Message]:
    out: list[Message] = []
    day_of, time_of = dt.date.fromordinal, dt.datetime.fromisoformat
    for row in packed:
        kind = row[0]
        if kind == 0:
            (_, seq, event_id, admin_map, path, campaign, day, measures, retracted,
             o_map, o_province, o_campaign, recorded_at) = row
            out.append(Logged(seq, event_id,
                              Facts(_MAPS[admin_map], path, campaign, day_of(day), measures,
                                    retracted),
                              Origin(o_map, o_province, o_campaign, time_of(recorded_at))))
        elif kind == 1:
            _, seq, change_id, activity_id, measures, o_map, o_province, o_campaign, at = row
            out.append(Corrected(seq, change_id, activity_id, measures,
                                 Origin(o_map, o_province, o_campaign, time_of(at))))
        elif kind == 3:
            _, seq, change_id, activity_id, o_map, o_province, o_campaign, at = row
            out.append(Retracted(seq, change_id, activity_id,
                                 Origin(o_map, o_province, o_campaign, time_of(at))))
        elif kind == 4:
            (_, seq, mark, admin_map, province, period, closing, at, by, reason, campaign,
             measures) = row
            out.append(PeriodMark(seq, mark, admin_map, province, period, closing,
                                  time_of(at), by, reason, campaign, measures))
        else:
            _, seq, subject, reason, attempts = row
            out.append(DeadLetter(seq, subject, reason, attempts))
    return out
