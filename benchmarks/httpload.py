"""A lean HTTP/1.1 load client: keep-alive connections on asyncio streams, bodies prepared
before the clock starts, latencies in a list.

httpx costs ~0.3-0.5 ms of client CPU per request, as much as the service under test on a
2-core machine; this client costs a few tens of µs, so the services, not the client, are
what is measured (the bench reports the client's CPU beside each HTTP figure).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field


class HttpError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes


@contextlib.contextmanager
def client_heap_frozen() -> Iterator[None]:
    """While load is timed, the client's own full garbage collections skip what it built
    beforehand (thousands of encoded requests): a pause of the client would be charged to
    the service as latency."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


KEEPALIVE_EXPIRY = 4.0
"""Seconds an idle keep-alive connection is reused for, below uvicorn's 5 s keep-alive
timeout (as httpx's ``keepalive_expiry``): an older one is closed and a new one opened,
rather than racing the server's close (which counted as errors in the open loop)."""


class Connection:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._idle_since = 0.0

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self._reader = self._writer = None

    async def send(self, request: Request) -> Response:
        if self._writer is not None and time.monotonic() - self._idle_since > KEEPALIVE_EXPIRY:
            await self.close()  # the server may be closing it right now (uvicorn: after 5 s)
        if self._writer is None or self._reader is None:
            await self.open()
        assert self._writer is not None and self._reader is not None
        head = (f"{request.method} {request.path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(request.body)}\r\n\r\n")
        self._writer.write(head.encode() + request.body)
        status_line_and_headers = await self._reader.readuntil(b"\r\n\r\n")
        lines = status_line_and_headers.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = -1
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"connection" and value.strip().lower() == b"close":
                close = True
            elif lowered == b"transfer-encoding":
                raise HttpError("chunked responses are not supported by the bench client")
        body = await self._reader.readexactly(length) if length > 0 else b""
        if close:
            await self.close()
        self._idle_since = time.monotonic()
        return Response(status, body)


@dataclass
class LoadResult:
    """Latencies (seconds) of the requests that got an answer, and what they answered."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    errors: int = 0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    @property
    def client_cpu(self) -> float:
        """The client's CPU use over the run, as a fraction of one core."""
        return self.client_cpu_seconds / self.seconds if self.seconds > 0 else 0.0

    def record(self, status: int, latency: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(latency)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) by nearest rank; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 1)) - 1))
    return ordered[rank]


OnResponse = Callable[[int, Request, Response, float], Awaitable[None] | None]
"""Called with (index, request, response, monotonic time the response was read)."""


async def closed_loop(host: str, port: int, requests: Sequence[Request], concurrency: int,
                      on_response: OnResponse | None = None,
                      max_seconds: float | None = None) -> LoadResult:
    """``concurrency`` connections, each sending its next request as soon as it has an answer
    (and none started after ``max_seconds``)."""
    result = LoadResult()
    next_index = 0
    stop_at = time.perf_counter() + max_seconds if max_seconds else float("inf")

    async def worker() -> None:
        nonlocal next_index
        conn = Connection(host, port)
        try:
            while next_index < len(requests) and time.perf_counter() < stop_at:
                index = next_index
                next_index += 1
                sent = time.perf_counter()
                try:
                    response = await conn.send(requests[index])
                except (OSError, asyncio.IncompleteReadError, HttpError):
                    result.errors += 1
                    await conn.close()
                    continue
                done = time.perf_counter()
                result.record(response.status, done - sent)
                if on_response is not None:
                    maybe = on_response(index, requests[index], response, done)
                    if maybe is not None:
                        await maybe
        finally:
            await conn.close()

    with client_heap_frozen():
        cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    result.client_cpu_seconds = time.process_time() - cpu
    return result


async def open_loop(host: str, port: int, requests: Sequence[Request], rate: float,
                    max_connections: int = 256,
                    on_response: OnResponse | None = None) -> LoadResult:
    """Send request ``i`` at ``start + i / rate`` whatever the answers (open loop).

    Latency runs from the *scheduled* send time, so a stalled server is charged for every
    request it delays (no coordinated omission). Connections are reused from a pool that
    grows up to ``max_connections``; waiting for one counts as latency.
    """
    result = LoadResult()
    idle: list[Connection] = []
    opened = 0
    available = asyncio.Condition()
    tasks: set[asyncio.Task[None]] = set()

    async def take() -> Connection:
        nonlocal opened
        async with available:
            while not idle and opened >= max_connections:
                await available.wait()
            if idle:
                return idle.pop()
            opened += 1
        return Connection(host, port)

    async def give(conn: Connection) -> None:
        async with available:
            idle.append(conn)
            available.notify()

    async def one(index: int, scheduled: float) -> None:
        conn = await take()
        try:
            response = await conn.send(requests[index])
        except (OSError, asyncio.IncompleteReadError, HttpError):
            result.errors += 1
            await conn.close()
            await give(conn)
            return
        done = time.perf_counter()
        await give(conn)
        result.record(response.status, done - scheduled)
        if on_response is not None:
            maybe = on_response(index, requests[index], response, done)
            if maybe is not None:
                await maybe

    with client_heap_frozen():
        cpu = time.process_time()
        started = time.perf_counter()
        interval = 1.0 / rate
        index = 0
        while index < len(requests):
            now = time.perf_counter()
            due = min(len(requests), int((now - started) / interval) + 1)
            while index < due:
                task = asyncio.create_task(one(index, started + index * interval))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                index += 1
            await asyncio.sleep(max(0.0, started + index * interval - time.perf_counter()))
        if tasks:
            await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - started
    result.client_cpu_seconds = time.process_time() - cpu
    for conn in idle:
        await conn.close()
    return result
