"""The projector's position polled while load runs, and from the polls each accepted event's
freshness: the time from its 202 to the first poll answered after it whose position covers
its sequence (the freshness figure's and the soak's)."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import time
from array import array
from collections.abc import Iterable
from typing import Any

from .httpload import Connection, Request


def to_json(value: Any) -> bytes:
    """Compact JSON, as the requests' bodies."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


async def read_position(conn: Connection, path: str) -> int:
    """The projector's ``position`` answered at ``path``; -1 when not answered 200."""
    response = await conn.send(Request("GET", path))
    if response.status != 200:
        return -1
    return int(json.loads(response.body)["position"])


class Polls:
    """When each poll was answered (``time.perf_counter``) and the position it showed, in
    arrays: a soak's polls run into the tens of thousands."""

    def __init__(self) -> None:
        self.at = array("d")
        self.position = array("q")

    def __len__(self) -> int:
        return len(self.at)

    def lag(self, seq: int, at: float) -> float | None:
        """Seconds from ``at`` (a 202) to the first poll answered after it whose position
        covers ``seq``; ``None`` if none did."""
        i = bisect.bisect_left(self.at, at)
        while i < len(self.at) and self.position[i] < seq:
            i += 1
        return self.at[i] - at if i < len(self.at) else None

    def lags(self, accepted: Iterable[tuple[int, float]]) -> list[float]:
        """The lag of each (sequence, time of its 202) some poll covered."""
        return [lag for seq, at in accepted if (lag := self.lag(seq, at)) is not None]

    def interval(self) -> float:
        """The mean time between polls."""
        return (self.at[-1] - self.at[0]) / max(1, len(self.at) - 1) if self.at else 0.0


class Poller:
    """Polls the position at ``path`` on its own connection every ``every`` seconds, from
    :meth:`start` to :meth:`stop`, into :attr:`polls`."""

    def __init__(self, host: str, port: int, path: str, every: float) -> None:
        self.polls = Polls()
        self._conn = Connection(host, port)
        self._path = path
        self._every = every
        self._stop = asyncio.Event()
        self._caught = asyncio.Event()
        self._target = 1 << 62
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stop.is_set():
            position = await read_position(self._conn, self._path)
            self.polls.at.append(time.perf_counter())
            self.polls.position.append(position)
            if position >= self._target:
                self._caught.set()
            await asyncio.sleep(self._every)

    async def wait_for(self, target: int, within: float) -> None:
        """Until a poll from now on shows ``target``, or ``within`` seconds passed."""
        self._target = target
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._caught.wait(), within)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self._conn.close()
