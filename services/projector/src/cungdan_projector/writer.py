"""Where a projection's batches are applied: in a process of their own, or in a thread.

Reading and decoding the stream is Python under one GIL; so is folding a batch and
binding its rows for the database. In one process they take turns on one core while the
machine's second core idles. :class:`ProcessWriter` applies batches in a child process
that owns a connection to the read model, so the next batch is read and decoded while
the previous one is committed.

Failure semantics are those of :meth:`GenerationStore.apply`: a batch commits whole or
not at all, with the stream position, and a batch applied twice counts once. So a child
that dies (killed, out of memory) loses nothing: the call fails as *unavailable*, a new
child is started, and the batch is applied again. Errors are classified in the child,
where their types are real, and cross the process boundary as two plain exceptions:
:class:`WriterUnavailableError` (the database or the child is down: retried without bound) and
:class:`BatchRefusedError` (the database refused the batch itself: applied event by event).
The child leaves SIGINT and SIGTERM to the service (which closes it after the batch in
hand), and exits by itself when the service died.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from cungdan_contracts import AdminMap

from .rollup import Facts
from .store import (
    BatchResult,
    Changed,
    GenerationStore,
    Item,
    Logged,
    Origin,
    ReadModel,
    Skipped,
    make_engine,
)


class WriterUnavailableError(ConnectionError):
    """The read model or the writer process is unavailable: retry the batch later."""


class BatchRefusedError(RuntimeError):
    """The database refused the batch itself (a constraint, an overflow)."""


TRANSIENT = (OperationalError, InterfaceError, DisconnectionError, ConnectionError, TimeoutError,
             sqlite3.OperationalError, sqlite3.InterfaceError,
             psycopg.OperationalError, psycopg.InterfaceError)
"""Failures of the infrastructure, not of the events: retried without bound. The bulk
writes run on the driver's cursor, so the driver's own classes are here besides
SQLAlchemy's wrappers (PEP 249: OperationalError is a disconnection, a lock timeout, ...)."""


class Writer(Protocol):
    async def apply(self, store: GenerationStore,
                    items: Sequence[Item | Skipped]) -> BatchResult: ...

    async def close(self) -> None: ...


class ThreadWriter:
    """Applies batches in a worker thread of this process (tests; in-memory SQLite)."""

    async def apply(self, store: GenerationStore,
                    items: Sequence[Item | Skipped]) -> BatchResult:
        return await asyncio.to_thread(store.apply, items)

    async def close(self) -> None:
        return None


class ProcessWriter:
    """Applies batches in a child process (started on first use, again after a crash)."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._pool: ProcessPoolExecutor | None = None
        self.started = 0
        """Child processes started so far (a crash makes one more)."""

    @property
    def pid(self) -> int | None:
        """The child's process id, once started."""
        processes = getattr(self._pool, "_processes", None) or {}
        return next(iter(processes), None)

    async def apply(self, store: GenerationStore,
                    items: Sequence[Item | Skipped]) -> BatchResult:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_child, initargs=(self._url, os.getpid()))
            self.started += 1
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(
                pool, _apply_in_child, store.number, pack(items))
        except BrokenProcessPool as exc:
            if self._pool is pool:
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise WriterUnavailableError(f"writer process died: {exc}") from None

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


def writer_for(database_url: str, kind: str) -> Writer:
    """``kind`` ``process`` or ``thread``; an in-memory SQLite database is only visible to
    this process, so it always gets the thread."""
    if kind == "thread" or make_url(database_url).database in (None, "", ":memory:"):
        return ThreadWriter()
    return ProcessWriter(database_url)


# --------------------------------------------------------------------- the wire format
# Frozen dataclasses pickle slowly (~20 µs an event both ways, measured); plain tuples of
# builtins take ~1 µs, and rebuilding the objects in the child ~2 µs.

Packed = tuple[Any, ...]

_MAPS = {m.value: m for m in AdminMap}


def pack(items: Sequence[Item | Skipped]) -> list[Packed]:
    out: list[Packed] = []
    for item in items:
        if isinstance(item, Logged):
            f, o = item.facts, item.origin
            out.append((0, item.seq, item.event_id, f.map.value, f.path, f.campaign, f.day,
                        f.measures, f.retracted, o.map, o.province, o.campaign, o.recorded_at))
        elif isinstance(item, Changed):
            o = item.origin
            out.append((1, item.seq, item.change_id, item.activity_id, item.measures,
                        o.map, o.province, o.campaign, o.recorded_at))
        else:
            out.append((2, item.seq, item.subject, item.reason, item.attempts))
    return out


def unpack(packed: Sequence[Packed]) -> list[Item | Skipped]:
    out: list[Item | Skipped] = []
    for row in packed:
        kind = row[0]
        if kind == 0:
            (_, seq, event_id, admin_map, path, campaign, day, measures, retracted,
             o_map, o_province, o_campaign, recorded_at) = row
            out.append(Logged(seq, event_id,
                              Facts(_MAPS[admin_map], path, campaign, day, measures, retracted),
                              Origin(o_map, o_province, o_campaign, recorded_at)))
        elif kind == 1:
            _, seq, change_id, activity_id, measures, o_map, o_province, o_campaign, at = row
            out.append(Changed(seq, change_id, activity_id, measures,
                               Origin(o_map, o_province, o_campaign, at)))
        else:
            _, seq, subject, reason, attempts = row
            out.append(Skipped(seq, subject, reason, attempts))
    return out


# --------------------------------------------------------------------- in the child

_model: ReadModel | None = None
_stores: dict[int, GenerationStore] = {}


def _start_child(database_url: str, parent: int) -> None:
    global _model
    # Ctrl-C or a SIGTERM sent to the whole process group is the service's to handle: it
    # finishes the batch in hand, then closes the writer.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _model = ReadModel(make_engine(database_url))
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True,
                     name="parent-watch").start()


def _exit_with_parent(parent: int, every: float = 0.5) -> None:
    """Orphaned (the service was killed): exit. A transaction in flight rolls back."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(0)


def _apply_in_child(generation: int, packed: list[Packed]) -> BatchResult:
    assert _model is not None, "the writer process was not initialised"
    store = _stores.get(generation)
    if store is None:
        store = _stores[generation] = _model.generation(generation)
    try:
        return store.apply(unpack(packed))
    except TRANSIENT as exc:
        raise WriterUnavailableError(f"{exc.__class__.__name__}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any other failure: the batch itself refused
        raise BatchRefusedError(f"{exc.__class__.__name__}: {exc}") from None
