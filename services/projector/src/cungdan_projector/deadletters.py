"""Dead letters on NATS: what the projector could not apply, with the reason and the original.

Each dead letter is published to ``cungdan.deadletter.activity.<stream seq>`` in
the ``CUNGDAN_DEADLETTER`` stream, carrying the original payload and headers
plus ``Cungdan-Original-Subject``, ``Cungdan-Original-Seq`` and
``Cungdan-Reason``. Publishing with ``Nats-Expected-Last-Subject-Sequence: 0``
makes it idempotent forever: a projector that crashed after publishing and
before committing publishes the same letter again and is told it exists.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Protocol

from nats.aio.client import Client
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from cungdan_contracts.subjects import STREAM

log = logging.getLogger("cungdan.projector")

DEADLETTER_STREAM = "CUNGDAN_DEADLETTER"
DEADLETTER_SUBJECTS = ("cungdan.deadletter.>",)
_WRONG_LAST_SEQUENCE = 10071


def deadletter_subject(seq: int) -> str:
    return f"cungdan.deadletter.activity.{seq}"


async def ensure_deadletter_stream(nc: Client) -> None:
    """Create the dead-letter stream, with as many replicas as the activity stream has
    (one while that does not exist yet); one made with fewer is given more."""
    js = nc.jetstream()
    replicas = 1
    with contextlib.suppress(NotFoundError):
        replicas = (await js.stream_info(STREAM)).config.num_replicas or 1
    config = StreamConfig(name=DEADLETTER_STREAM, subjects=list(DEADLETTER_SUBJECTS),
                          retention=RetentionPolicy.LIMITS, storage=StorageType.FILE,
                          allow_direct=True, num_replicas=replicas)
    try:
        info = await js.stream_info(DEADLETTER_STREAM)
    except NotFoundError:
        await js.add_stream(config)
        return
    if (info.config.num_replicas or 1) < replicas:
        info.config.num_replicas = replicas
        await js.update_stream(info.config)
        log.info("stream %s now has %d replicas, as %s", DEADLETTER_STREAM, replicas, STREAM)


class Original(Protocol):
    """The message a dead letter carries: a delivered ``Msg``, or one read back from the
    stream (``RawStreamMsg``)."""

    @property
    def subject(self) -> str | None: ...

    @property
    def data(self) -> bytes | None: ...

    @property
    def headers(self) -> dict[str, str] | None: ...


class DeadLetterPublisher:
    def __init__(self, nc: Client) -> None:
        self._nc = nc

    async def publish(self, msg: Original, seq: int, reason: str) -> None:
        headers = {
            **(msg.headers or {}),
            "Cungdan-Original-Subject": msg.subject or "",
            "Cungdan-Original-Seq": str(seq),
            "Cungdan-Reason": reason[:1000],
            "Nats-Expected-Last-Subject-Sequence": "0",
        }
        headers.pop("Nats-Msg-Id", None)
        try:
            await self._nc.jetstream().publish(deadletter_subject(seq), msg.data or b"",
                                               headers=headers)
        except BadRequestError as exc:
            if exc.err_code != _WRONG_LAST_SEQUENCE:
                raise
