"""A downstream consumer of cungdan's events: running totals for one province and campaign.

A statistics office (or a newsroom) can copy this file. It needs only the contracts
package and FastStream: ``pip install ./contracts "faststream[nats]>=0.7,<0.8"``.

What it does:

- reads stream ``CUNGDAN_ACTIVITY`` through ITS OWN DURABLE consumer (``--durable``): the
  server remembers what was acknowledged, so the next run with the same name resumes
  where this one stopped, without redelivery;
- filtered to every event kind (logged, corrected, retracted; every contract version;
  both subject layouts) of one province and campaign of one administrative map:
  ``cungdan.activity.*.*.<map>.<province>.<campaign>.>``;
- starting from a chosen time (``--since``: JetStream's ``DeliverPolicy.BY_START_TIME``).
  The start applies when the durable consumer is created; later runs resume from it;
- reads each payload through the contracts package (``decode_event``: any known version,
  upcast to the current shape; quantities as exact decimals);
- keeps a running total per indicator (``Decimal``) of the activities logged since the
  start, applying corrections (the new set of measures replaces the old) and
  retractions (the activity leaves the totals); prints one line per event;
- acknowledges each event once it is applied, and stops after ``--max-events`` events
  or after ``--idle-seconds`` without any.

It connects as the NATS user ``reader`` (``deploy/nats/nats-auth.conf``), which may only
create its own consumers, fetch, ack and subscribe; its replies must come to
``_INBOX.reader.>``, so the connection uses the inbox prefix ``_INBOX.<user>``.

Built with FastStream 0.7 (``NatsBroker``): a subscriber with a durable pull consumer
(``pull_sub=PullSub``, ``config=ConsumerConfig(deliver_policy=BY_START_TIME,
opt_start_time=...)``, ``JStream(..., declare=False)`` so it never touches the stream's
configuration) and no handler, read with ``subscriber.get_one()``. That keeps the loop
in our hands: one message at a time, strictly in stream order, a synchronous ack before
the next fetch, and a clean stop after N events or an idle timeout. A handler-based
subscriber would fit a service that runs for ever, but FastStream handles the messages
of one fetched batch concurrently, and corrections must apply in order (the last one
wins). Two details of FastStream 0.7 that matter here:

- a pull subscriber's ``inbox_prefix`` defaults to ``_INBOX.`` whatever the broker's,
  so it is passed explicitly (else the ``reader`` user gets a permissions violation);
- ``get_one`` returns ``None`` when nothing came within the timeout, but nats-py may
  raise a plain ``TimeoutError`` instead, which is caught as the same thing.

Run (arguments, or the environment ``CUNGDAN_NATS_URL`` / ``CUNGDAN_NATS_USER`` /
``CUNGDAN_NATS_PASSWORD``)::

    python examples/downstream_consumer.py --url nats://reader:SECRET@127.0.0.1:4222 \\
        --map legacy --province 15 --campaign ngay-cuoi-tuan-cung-dan \\
        --since 2026-01-01T00:00:00+07:00 --durable thong-ke-yen-bai --idle-seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import unquote, urlsplit
from uuid import UUID

from faststream.middlewares import AckPolicy
from faststream.nats import ConsumerConfig, DeliverPolicy, JStream, NatsBroker, PullSub
from faststream.nats.message import NatsMessage
from faststream.nats.security import NatsUserPassword
from pydantic import ValidationError

from cungdan_contracts import (
    CAMPAIGNS,
    ActivityCorrected,
    ActivityLogged,
    ActivityRetracted,
    AdminMap,
    Event,
    MalformedJSONError,
    UnknownContractError,
    decode_event,
    format_decimal,
)
from cungdan_contracts.subjects import STREAM

DEFAULT_URL = "nats://127.0.0.1:4222"
_PROVINCE = re.compile(r"VN|[0-9]{2}")
_DURABLE = re.compile(r"[A-Za-z0-9_-]{1,64}")
log = logging.getLogger("downstream_consumer")


class UndecodableEventError(RuntimeError):
    """An event this version of cungdan-contracts cannot read: upgrade it and run again.

    The event was not acknowledged: the next run receives it again.
    """


def event_filter(admin_map: AdminMap, province: str, campaign: str) -> str:
    """Every event kind, of every contract version, of one province and campaign.

    The token right after ``cungdan.activity`` (the id in subject layout 2, the version in
    layout 1) and the kind token are wildcards: the filter reads both layouts, new
    versions appear side by side, and corrections and retractions carry the map, province
    and campaign of their activity (``cungdan_contracts.subjects.event_filter`` is the
    same filter).
    """
    return f"cungdan.activity.*.*.{admin_map.value}.{province}.{campaign}.>"


@dataclass
class RunningTotals:
    """Totals per indicator of the activities logged since the start, in memory."""

    totals: dict[str, Decimal] = field(default_factory=dict)
    measures: dict[UUID, Mapping[str, Decimal]] = field(default_factory=dict)
    """The measures each activity counts with now."""
    retracted: set[UUID] = field(default_factory=set)

    def apply(self, event: Event) -> str:
        """Fold one event in; say what it did."""
        if isinstance(event, ActivityLogged):
            self._count(event.id, event.activity.measures)
            return f"logged {event.id} {_measures(event.activity.measures)}"
        if isinstance(event, ActivityCorrected):
            what = f"corrected {event.activity_id} {_measures(event.correction.measures)}"
            if event.activity_id in self.retracted:
                return f"{what} (already retracted: ignored)"
            if event.activity_id not in self.measures:
                return f"{what} (activity logged before the start: not in these totals)"
            self._count(event.activity_id, event.correction.measures)
            return what
        assert isinstance(event, ActivityRetracted)
        what = f"retracted {event.activity_id} ({event.retraction.reason})"
        if event.activity_id not in self.measures:
            return f"{what} (activity logged before the start: not in these totals)"
        self._count(event.activity_id, {})
        del self.measures[event.activity_id]
        self.retracted.add(event.activity_id)
        return what

    def _count(self, activity_id: UUID, measures: Mapping[str, Decimal]) -> None:
        """Replace what the activity counts with by ``measures`` (a whole set)."""
        for code, quantity in self.measures.get(activity_id, {}).items():
            self.totals[code] -= quantity
        for code, quantity in measures.items():
            self.totals[code] = self.totals.get(code, Decimal(0)) + quantity
        self.measures[activity_id] = dict(measures)

    def summary(self) -> str:
        return " ".join(f"{code}={format_decimal(total)}"
                        for code, total in sorted(self.totals.items())) or "(none)"


def _measures(measures: Mapping[str, Decimal]) -> str:
    return ",".join(f"{code}={format_decimal(q)}" for code, q in sorted(measures.items()))


def _credentials(url: str, user: str | None,
                 password: str | None) -> tuple[list[str], str | None, str | None]:
    """(the server URLs without credentials, user, password) of one or more comma-separated
    URLs; an explicit user and password win over those in a URL."""
    servers = []
    for server in (part.strip() for part in url.split(",") if part.strip()):
        parts = urlsplit(server)
        if parts.username is not None:
            user = user or unquote(parts.username)
            password = password or unquote(parts.password or "")
        servers.append(parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl())
    return servers, user or None, password


async def consume(
    url: str,
    province: str,
    campaign: str,
    admin_map: AdminMap | str,
    since: dt.datetime,
    durable: str,
    max_events: int | None = None,
    idle_seconds: float = 5.0,
    *,
    user: str | None = None,
    password: str | None = None,
    inbox_prefix: str | None = None,
    totals: RunningTotals | None = None,
    out: Callable[[str], object] = print,
) -> list[Event]:
    """Read the events of one province and campaign through the durable consumer
    ``durable`` until ``max_events`` were read or none came for ``idle_seconds``.

    ``since`` (timezone-aware) is where a new durable consumer starts; an existing one
    resumes after its last acknowledged event. Each event is folded into ``totals``,
    printed with ``out``, and acknowledged. Returns the events read, in stream order
    (in their current shape). ``inbox_prefix`` defaults to ``_INBOX.<user>`` (as the
    server's permissions require) or ``_INBOX`` without a user.

    Raises :class:`UndecodableEventError` (unacknowledged) for an event the installed
    contracts package cannot read, :class:`PermissionError` when the server refused an
    action (wrong user or inbox prefix).
    """
    admin_map = AdminMap(admin_map)
    if not _PROVINCE.fullmatch(province):
        raise ValueError(f"province {province!r}: a 2-digit GSO code or VN")
    if campaign not in CAMPAIGNS:
        raise ValueError(f"campaign {campaign!r}: one of {', '.join(CAMPAIGNS)}")
    if not _DURABLE.fullmatch(durable):
        raise ValueError(f"durable {durable!r}: letters, digits, '-' and '_' only")
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware (e.g. 2026-01-01T00:00:00+07:00)")
    if max_events is not None and max_events < 1:
        raise ValueError("max_events must be at least 1")
    servers, user, password = _credentials(url, user, password)
    prefix = inbox_prefix or (f"_INBOX.{user}" if user else "_INBOX")
    totals = totals if totals is not None else RunningTotals()

    refusals: list[str] = []

    async def on_error(error: Exception) -> None:
        if "permissions violation" in str(error).lower():
            refusals.append(str(error))

    broker = NatsBroker(servers, inbox_prefix=prefix, connect_timeout=5, error_cb=on_error,
                        max_reconnect_attempts=3, logger=log,
                        security=NatsUserPassword(user, password or "") if user else None)
    subscriber = broker.subscriber(
        event_filter(admin_map, province, campaign),
        stream=JStream(STREAM, declare=False),
        durable=durable,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME,
                              opt_start_time=since.astimezone(dt.UTC)),
        pull_sub=PullSub(batch_size=1, timeout=idle_seconds),
        inbox_prefix=f"{prefix}.".encode(),
        ack_policy=AckPolicy.MANUAL,
    )
    events: list[Event] = []
    await broker.start()
    try:
        while max_events is None or len(events) < max_events:
            try:
                msg = await subscriber.get_one(timeout=idle_seconds)
            except TimeoutError:
                msg = None
            if refusals:  # a refused fetch looks like an idle one
                raise PermissionError(
                    f"the NATS server refused: {refusals[0]} (the user must be allowed to "
                    f"consume {STREAM}; its inbox prefix must be _INBOX.<user>)")
            if msg is None:
                out(f"idle for {idle_seconds:g} s: stopping after {len(events)} events")
                break
            event = await _decode(msg)
            events.append(event)
            seq = msg.raw_message.metadata.sequence.stream
            recorded = event.recorded_at.astimezone(dt.UTC)
            out(f"#{seq} {recorded:%Y-%m-%dT%H:%M:%SZ} {totals.apply(event)}"
                f" | totals: {totals.summary()}")
            await msg.ack_sync()
    finally:
        await broker.stop()
    return events


async def _decode(msg: NatsMessage) -> Event:
    try:
        return decode_event(msg.body)
    except (MalformedJSONError, UnknownContractError, ValidationError) as exc:
        await msg.nack()  # at once to the next run, which may have newer contracts
        raise UndecodableEventError(
            f"event #{msg.raw_message.metadata.sequence.stream} on {msg.raw_message.subject}"
            f" cannot be read with this cungdan-contracts ({exc}); upgrade it "
            "(pip install -U ./contracts) and run again") from exc


def _parse_time(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give a timezone, e.g. +07:00 or Z")
    return when


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--url", default=os.environ.get("CUNGDAN_NATS_URL", DEFAULT_URL),
                        help="NATS server(s), credentials allowed in the URL "
                             "(env CUNGDAN_NATS_URL)")
    parser.add_argument("--user", default=os.environ.get("CUNGDAN_NATS_USER"),
                        help="NATS user, e.g. reader (env CUNGDAN_NATS_USER)")
    parser.add_argument("--password", default=os.environ.get("CUNGDAN_NATS_PASSWORD"),
                        help="its password (env CUNGDAN_NATS_PASSWORD)")
    parser.add_argument("--map", dest="admin_map", required=True,
                        choices=[m.value for m in AdminMap])
    parser.add_argument("--province", required=True, help="2-digit GSO code in that map")
    parser.add_argument("--campaign", required=True, choices=list(CAMPAIGNS))
    parser.add_argument("--since", required=True, type=_parse_time,
                        help="ISO 8601 time with a timezone: where a new consumer starts")
    parser.add_argument("--durable", required=True, help="the name of your durable consumer")
    parser.add_argument("--max-events", type=int, default=None)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    try:
        asyncio.run(consume(args.url, args.province, args.campaign, args.admin_map, args.since,
                            args.durable, args.max_events, args.idle_seconds,
                            user=args.user, password=args.password))
    except (UndecodableEventError, PermissionError) as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
