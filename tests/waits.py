"""Waits on a condition, each with a deadline: in place of fixed sleeps that hope the thing
waited for is done by then (too short on a busy machine, too long everywhere else)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def until(condition: Callable[[], T], what: str, *, within: float = 10.0,
                interval: float = 0.001) -> T:
    """Poll ``condition`` on the running loop until it returns something true; that value.

    Fails naming ``what`` after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not (value := condition()):
        if loop.time() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(interval)
    return value


async def idle(turns: int = 50) -> None:
    """Give every task that can run ``turns`` turns of the loop, without letting time pass
    for it: what has not happened by then waits for something else (a reply, a timer)."""
    for _ in range(turns):
        await asyncio.sleep(0)


def wait_until(condition: Callable[[], T], what: str, *, within: float = 30.0,
               interval: float = 0.05) -> T:
    """:func:`until` for threads and processes: poll ``condition`` until it is true."""
    deadline = time.monotonic() + within
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(interval)
    return value
