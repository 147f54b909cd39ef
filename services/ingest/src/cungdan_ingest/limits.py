"""Input limits of the ingest: request body size and a per-token rate limit.

The other limits live in the contract (string lengths, number of measures,
quantity bounds) and in the batch route (number of reports).
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from fastapi import Request

from cungdan_service.problems import ANONYMOUS, ProblemError


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key (token name), in memory: ``rate`` per second, ``burst`` at once."""

    def __init__(self, rate: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """Spend one request of ``key``: 0 when allowed, else the seconds until one is."""
        now = self._clock()
        bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), now))
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def admit(self, key: str) -> None:
        """Spend one request of ``key`` or raise a 429 ProblemError with ``Retry-After``."""
        wait = self.take(key)
        if wait > 0:
            raise ProblemError(
                429, "rate-limited", "Too many requests",
                f"token '{key}' may send {self.rate:g} requests per second "
                f"(bursts of {self.burst}); retry after {wait:.2f}s",
                caller=key, headers={"Retry-After": str(max(1, math.ceil(wait)))})


def _too_large(limit: int, caller: str, what: str) -> ProblemError:
    return ProblemError(413, "body-too-large", "Request body too large",
                        f"{what} takes at most {limit} bytes", caller=caller)


async def limited_stream(request: Request, limit: int, caller: str = ANONYMOUS,
                         what: str = "this endpoint") -> AsyncGenerator[bytes]:
    """The request body a chunk at a time, refused with 413 (naming ``what`` takes at most
    ``limit`` bytes) as soon as it exceeds ``limit`` bytes, or declares it will."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, caller, what)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise _too_large(limit, caller, what)
        yield chunk


async def read_body(request: Request, limit: int, caller: str = ANONYMOUS) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``limit`` bytes."""
    body = bytearray()
    async for chunk in limited_stream(request, limit, caller):
        body += chunk
    return bytes(body)
