"""Re-driving dead letters once their cause is fixed (a newer contract, a gazetteer entry).

The original message is read again from the activity stream by its sequence
and decoded with today's code. If it now applies, it is counted exactly once
(the applied-ids table still guards it) and the dead letter is marked re-driven.
"""

from __future__ import annotations

import asyncio
from typing import Any

from nats.aio.client import Client

from cungdan_contracts import Gazetteer
from cungdan_contracts.subjects import STREAM

from .decoding import decode
from .items import DeadLetter, PeriodMark
from .runtime import ProjectorRuntime


class Redriver:
    def __init__(self, nc: Client, runtime: ProjectorRuntime, gazetteer: Gazetteer) -> None:
        self._nc = nc
        self._runtime = runtime
        self._gazetteer = gazetteer

    async def redrive(self, only_seq: int | None = None) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        stores = [p.store for p in (self._runtime.live, self._runtime.rebuilding) if p]
        for store in stores:
            pending = await asyncio.to_thread(store.dead_letters, pending_only=True)
            for letter in pending:
                if only_seq is not None and letter.seq != only_seq:
                    continue
                msg = await self._nc.jetstream().get_msg(STREAM, letter.seq, direct=True)
                item = decode(letter.seq, letter.subject, msg.data or b"", self._gazetteer)
                if isinstance(item, PeriodMark):  # its figures belong at its place
                    results.append({"generation": store.number, "seq": letter.seq,
                                    "status": "still failing", "reason": (
                                        "a period event is applied in stream order only: "
                                        "rebuild the read model to apply it")})
                elif not isinstance(item, DeadLetter):
                    counted = await asyncio.to_thread(store.redrive, item)
                    results.append({"generation": store.number, "seq": letter.seq,
                                    "status": "applied" if counted else "already counted"})
                else:
                    results.append({"generation": store.number, "seq": letter.seq,
                                    "status": "still failing", "reason": item.reason})
        return results
