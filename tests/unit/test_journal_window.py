"""The journal's window of unacknowledged publishes, against a fake NATS connection that
answers when the test says so: slots are freed by replies and by giving up, never twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tests.waits import idle, until

from cungdan_ingest.journal import Journal, NotStored, Outgoing, Stored


@dataclass
class _Reply:
    subject: str
    data: bytes
    headers: dict[str, str] | None = None


@dataclass
class FakeNats:
    """Records publishes; ``answer(n)`` acknowledges the oldest ``n`` unanswered ones."""

    is_connected: bool = True
    published: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    callback: Callable[[Any], Awaitable[None]] | None = None

    def new_inbox(self) -> str:
        return "_INBOX.test"

    async def subscribe(self, subject: str, cb: Callable[[Any], Awaitable[None]]) -> None:
        self.callback = cb

    async def publish(self, subject: str, payload: bytes, reply: str,
                      headers: dict[str, str]) -> None:
        self.published.append(subject)
        self.unanswered.append(reply)

    async def answer(self, count: int) -> None:
        assert self.callback is not None
        for _ in range(count):
            reply = self.unanswered.pop(0)
            seq = len(self.published) - len(self.unanswered)
            await self.callback(_Reply(reply, json.dumps({"stream": "S", "seq": seq}).encode()))


def _messages(count: int) -> list[Outgoing]:
    return [Outgoing(f"s.{i}", b"{}", {"Nats-Msg-Id": str(i)}, f"f.{i}") for i in range(count)]


async def _journal(nc: FakeNats, window: int, patience: float) -> Journal:
    journal = Journal(nc, "S", timeout=patience, max_in_flight=window)
    await journal.start()
    return journal


async def test_a_full_window_waits_for_replies_and_each_reply_frees_one_slot() -> None:
    nc = FakeNats()
    journal = await _journal(nc, window=2, patience=5.0)
    appending = asyncio.create_task(journal.append_many(_messages(5)))
    await until(lambda: len(nc.published) >= 2, "the first two publishes")
    await idle()
    assert len(nc.published) == 2  # the window is full
    await nc.answer(1)
    await until(lambda: len(nc.published) >= 3, "a publish in the freed slot")
    await idle()
    assert len(nc.published) == 3
    while not appending.done():
        await until(lambda: nc.unanswered or appending.done(), "a publish to answer")
        await nc.answer(len(nc.unanswered))
    assert len(nc.published) == 5
    assert await appending == [Stored(1), Stored(2), Stored(3), Stored(4), Stored(5)]


async def test_giving_up_frees_the_slots_and_late_replies_free_nothing() -> None:
    nc = FakeNats()
    journal = await _journal(nc, window=2, patience=0.1)
    results = await journal.append_many(_messages(3))  # nobody answers
    assert results == [NotStored("no acknowledgement from JetStream in time")] * 3
    assert len(nc.published) == 2  # the third never got a slot
    await nc.answer(2)  # late: ignored, and the window is not over-released
    appending = asyncio.create_task(journal.append_many(_messages(3)))
    await until(lambda: len(nc.published) >= 4, "two more publishes")
    await idle()
    assert len(nc.published) == 4  # two slots again, not four
    await appending


async def test_replies_that_come_while_a_call_still_publishes_are_kept() -> None:
    nc = FakeNats()
    journal = await _journal(nc, window=1, patience=5.0)
    appending = asyncio.create_task(journal.append_many(_messages(3)))
    for n in range(1, 4):  # each answer comes before the next message is even published
        await until(lambda n=n: len(nc.published) == n and nc.unanswered, f"publish {n}")
        await nc.answer(1)
    assert await appending == [Stored(1), Stored(2), Stored(3)]
