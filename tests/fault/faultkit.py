"""Shared pieces of the fault-injection tests: feeding, waiting, and the independent recount.

The recount reads every message of the stream with nats-py and sums the quantities with
``Decimal`` straight from the JSON, counting each activity id once. It does not use the
projector's code (rollup, store, codec); only the gazetteer of the contracts tells which
legacy district a commune belongs to, so the districts in the answers can be checked too.
The province comes from the event itself (``source_province``, set by ingest), so a
province total of the projector (found through the gazetteer) is checked against it.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats
import psycopg
from tests.kits.cluster import leader_view, wait_leader

from cungdan.stack import Stack
from cungdan_contracts import AdminMap, Level, load_gazetteer
from cungdan_service.nats import nats_target

STREAM = "CUNGDAN_ACTIVITY"
STREAM_FILTER = "cungdan.activity.>"
MAPS = ("legacy", "2025")
_PLAIN_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")

T = TypeVar("T")
MakeStack = Callable[..., Stack]
"""The ``make_stack`` fixture: ``make_stack(database_url=None, extra_env=None, start=True,
cluster=False)``."""


# ---------------------------------------------------------------- waiting and HTTP


def wait_until(what: str, probe: Callable[[], T | None], *, timeout: float,
               interval: float = 0.1) -> T:
    """Poll ``probe`` until it returns something other than None/False; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = probe()
        except (httpx.HTTPError, OSError) as exc:
            value, last_error = None, exc
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                                 + (f" (last error: {last_error!r})" if last_error else ""))
        time.sleep(interval)


def http_client(base_url: str, timeout: float = 10.0) -> httpx.Client:
    """Idle connections are reused for 4 s at most: httpx's default (5 s) equals uvicorn's
    keep-alive timeout, so a request after a 5 s pause (an outage) could race the server's
    close and fail with "Server disconnected without sending a response"."""
    return httpx.Client(base_url=base_url, timeout=timeout, trust_env=False,
                        limits=httpx.Limits(keepalive_expiry=4.0))


def projector_position(client: httpx.Client) -> int:
    """The stream position the projector's totals reflect (a query that matches no rows)."""
    response = client.get("/v1/totals/VN", params={"period": "1999"})
    response.raise_for_status()
    return int(response.json()["position"])


def wait_projected(client: httpx.Client, seq: int, *, timeout: float) -> int:
    """Poll until the projector's totals reflect stream position ``seq``."""

    def reached() -> int | None:
        position = projector_position(client)
        return position if position >= seq else None

    return wait_until(f"the projector to reach stream sequence {seq}", reached,
                      timeout=timeout, interval=0.2)


def stream_last_seq(stack: Stack) -> int:
    """The stream's last sequence, from nats-server's monitoring endpoint (0 if no stream);
    in a cluster, as its leader holds it (waiting, a little, for one)."""
    if stack.broker.clustered:
        wait_leader(stack.broker, STREAM, timeout=30)
        view = leader_view(stack.broker, STREAM)
        return 0 if view is None else view.last_seq
    url = f"{stack.nats.monitor_url}/jsz"
    response = httpx.get(url, params={"streams": "true"}, timeout=5.0, trust_env=False)
    response.raise_for_status()
    for account in response.json().get("account_details") or []:
        for stream in account.get("stream_detail") or []:
            if stream["name"] == STREAM:
                return int(stream["state"]["last_seq"])
    return 0


def ready_reason(client: httpx.Client) -> tuple[int, str]:
    """``/readyz``: status code and the reason given (its ``detail``), if any."""
    response = client.get("/readyz")
    detail = ""
    if response.status_code != 200:
        try:
            detail = str(response.json().get("detail", ""))
        except ValueError:
            detail = response.text
    return response.status_code, detail


class Feeder(threading.Thread):
    """Posts reports to the ingest batch endpoint in order, in batches; every one must be 200."""

    def __init__(self, ingest_url: str, reports: Sequence[dict[str, Any]], *,
                 batch: int = 1000) -> None:
        super().__init__(name="feeder", daemon=True)
        self.ingest_url = ingest_url
        self.reports = reports
        self.batch = batch
        self.counts: Counter[str] = Counter()
        self.batches_sent = 0
        self.last_seq = 0
        self.error: BaseException | None = None
        self.stop_requested = threading.Event()

    def run(self) -> None:
        try:
            with http_client(self.ingest_url, timeout=30.0) as client:
                for start in range(0, len(self.reports), self.batch):
                    if self.stop_requested.is_set():
                        return
                    chunk = list(self.reports[start:start + self.batch])
                    response = client.post("/v1/activities/batch", json=chunk)
                    if response.status_code != 200:
                        raise AssertionError(
                            f"batch {self.batches_sent}: HTTP {response.status_code} "
                            f"{response.text[:500]}")
                    body = response.json()
                    self.counts.update(body["counts"])
                    refused = [r for r in body["results"] if r["status"] != "accepted"]
                    if refused:
                        raise AssertionError(
                            f"batch {self.batches_sent}: {len(refused)} of {len(chunk)} reports "
                            f"not accepted, e.g. {refused[0]}")
                    self.last_seq = max([self.last_seq,
                                         *(r.get("seq", 0) for r in body["results"])])
                    self.batches_sent += 1
        except BaseException as exc:
            self.error = exc

    def feed(self) -> None:
        """Post everything in the calling thread."""
        self.run()
        self.check()

    def finish(self, timeout: float) -> None:
        """Wait for the last batch; re-raise what went wrong in the thread."""
        self.join(timeout)
        if self.is_alive():
            self.stop_requested.set()
            raise AssertionError(f"feeder still running after {timeout}s "
                                 f"({self.batches_sent} batches sent)")
        self.check()

    def check(self) -> None:
        """Re-raise, here, what went wrong in the thread (if anything did)."""
        if self.error is not None:
            raise AssertionError(f"feeder failed: {self.error!r}") from self.error


# ---------------------------------------------------------------- the stream, recounted


@dataclass(frozen=True, slots=True)
class StreamMessage:
    seq: int
    msg_id: str | None
    event: dict[str, Any]

    @property
    def activity_id(self) -> str:
        return str(self.event["activity"]["id"])


def reader_url(stack: Stack) -> str:
    """Where and as whom the recount reads the stream: the downstream ``reader`` user."""
    return stack.broker.client_url("reader")


def read_stream(nats_url: str, *, timeout: float = 60.0) -> list[StreamMessage]:
    """Every message of the stream, in order (an ordered consumer of its own). ``nats_url``
    as ``CUNGDAN_NATS_URL``: one or more servers, credentials in it or none."""
    return asyncio.run(_read_stream(nats_url, wait=timeout))


async def _read_stream(nats_url: str, *, wait: float) -> list[StreamMessage]:
    target = nats_target(nats_url)
    nc = await nats.connect(servers=target.servers, user=target.user, password=target.password,
                            inbox_prefix=target.inbox_prefix, connect_timeout=5,
                            max_reconnect_attempts=3)
    try:
        js = nc.jetstream()
        state = (await js.stream_info(STREAM)).state
        messages: list[StreamMessage] = []
        if state.messages == 0:
            return messages
        done = asyncio.Event()

        async def on_message(msg: Any) -> None:
            seq = msg.metadata.sequence.stream
            if seq <= state.last_seq:
                messages.append(StreamMessage(
                    seq, (msg.headers or {}).get("Nats-Msg-Id"),
                    json.loads(msg.data, parse_float=Decimal)))
            if seq >= state.last_seq:
                done.set()

        sub = await js.subscribe(STREAM_FILTER, stream=STREAM, ordered_consumer=True,
                                 cb=on_message)
        try:
            await asyncio.wait_for(done.wait(), wait)
        finally:
            await sub.unsubscribe()
        assert len(messages) == state.messages, (len(messages), state)
        return messages
    finally:
        await nc.close()


def _quantity(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise TypeError(f"unexpected quantity {value!r}")
    return Decimal(value)


@dataclass
class Recount:
    """Totals per (map, locality) and indicator, summed exactly from the stream's JSON."""

    messages: int = 0
    last_seq: int = 0
    id_counts: Counter[str] = field(default_factory=Counter)
    seq_of: dict[str, int] = field(default_factory=dict)
    totals: dict[tuple[str, str], dict[str, Decimal]] = field(
        default_factory=lambda: defaultdict(dict))
    communes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def distinct_ids(self) -> int:
        return len(self.id_counts)

    @property
    def repeated_ids(self) -> dict[str, int]:
        return {i: n for i, n in self.id_counts.items() if n > 1}

    def expected(self, admin_map: str, code: str) -> dict[str, Decimal]:
        return self.totals.get((admin_map, code), {})


def recount(messages: Sequence[StreamMessage]) -> Recount:
    gazetteer = load_gazetteer()
    result = Recount()
    for message in messages:
        result.messages += 1
        result.last_seq = max(result.last_seq, message.seq)
        event = message.event
        if event.get("type") != "ActivityLogged" or event.get("version") not in (1, 2):
            raise AssertionError(f"seq {message.seq}: the recount knows ActivityLogged v1 and "
                                 f"v2 only, not {event.get('type')} v{event.get('version')}")
        activity = event["activity"]
        activity_id = str(activity["id"])
        result.id_counts[activity_id] += 1
        if result.id_counts[activity_id] > 1:
            continue  # the first of each id counts, as a reader of the stream must do
        result.seq_of[activity_id] = message.seq
        admin_map, locality = str(event["map"]), str(activity["locality"])
        codes = {"VN", str(event["source_province"]), locality}
        place = gazetteer.get(AdminMap(admin_map), locality)
        assert place is not None, f"seq {message.seq}: unknown locality {locality} ({admin_map})"
        if place.level is Level.COMMUNE:
            result.communes[admin_map].append(locality)
            if place.parent is not None:
                codes.add(place.parent)  # the legacy district (2025: the province, already in)
        for code in codes:
            sums = result.totals[(admin_map, code)]
            for indicator, value in activity["measures"].items():
                sums[indicator] = sums.get(indicator, Decimal(0)) + _quantity(value)
    return result


# ---------------------------------------------------------------- the API against the recount


def _as_decimals(where: str, totals: dict[str, str], problems: list[str]) -> dict[str, Decimal]:
    for indicator, text in totals.items():
        if not _PLAIN_DECIMAL.fullmatch(text):
            problems.append(f"{where}: {indicator} is not a plain decimal string: {text!r}")
    return {indicator: Decimal(text) for indicator, text in totals.items()}


@dataclass(frozen=True)
class Comparison:
    compared: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        return f"{self.compared} locality totals compared, {len(self.problems)} differ"

    def report(self) -> str:
        return (f"{len(self.problems)} difference(s) between the projector and the recount "
                f"from the stream, e.g.:\n" + "\n".join(self.problems[:15]))


def compare_totals(projector_url: str, expected: Recount, *, communes: int = 50,
                   seed: int = 1) -> Comparison:
    """Compare the nation and every province of both maps (each with its direct children)
    and a sample of communes with the recount; they must be exactly equal."""
    problems: list[str] = []
    compared = 0

    def check(where: str, admin_map: str, code: str, totals: dict[str, str]) -> None:
        nonlocal compared
        compared += 1
        got = _as_decimals(where, totals, problems)
        want = expected.expected(admin_map, code)
        if got != want:
            diff = {k: (str(got.get(k)), str(want.get(k)))
                    for k in sorted(got.keys() | want.keys()) if got.get(k) != want.get(k)}
            problems.append(f"{where}: (projector, recount) differ: {diff}")

    def answer(client: httpx.Client, admin_map: str, code: str) -> dict[str, Any]:
        # The recount sums each map's own reports: basis=reported (on the 2025 map the
        # default, basis=all, adds the legacy reports converted; docs/reform.md).
        response = client.get(f"/v1/totals/{code}",
                              params={"map": admin_map, "basis": "reported"})
        assert response.status_code == 200, (admin_map, code, response.text)
        body: dict[str, Any] = response.json()
        if body["position"] != expected.last_seq:
            problems.append(f"{admin_map} {code}: position {body['position']}, "
                            f"stream ends at {expected.last_seq}")
        check(f"{admin_map} {code}", admin_map, code, body["totals"])
        for child in body["children"]:
            check(f"{admin_map} {code} > {child['code']}", admin_map, child["code"],
                  child["totals"])
        return body

    rng = random.Random(seed)
    with http_client(projector_url, timeout=30.0) as client:
        for admin_map in MAPS:
            nation = answer(client, admin_map, "VN")
            provinces = [child["code"] for child in nation["children"]]
            assert provinces, f"no provinces in the {admin_map} map"
            for province in provinces:
                answer(client, admin_map, province)
        pool = sorted({(m, c) for m in MAPS for c in expected.communes[m]})
        for admin_map, commune in rng.sample(pool, min(communes, len(pool))):
            answer(client, admin_map, commune)
    return Comparison(compared, problems)


# ---------------------------------------------------------------- the read model's ledger


@dataclass(frozen=True)
class ReadModelIds:
    applied: list[str]
    """The ids in ``applied_events`` (of the active generation, where there are generations)."""
    dead_letters: int
    """Rows of the dead-letter (or skipped-events) table, if the read model has one."""


_APPLIED_TABLES = ("applied_events_g{n}", "activities_g{n}")
"""Where a generation keeps the ids it counted, as the read model's schema evolved: first
``applied_events_g<N>``, then ``activities_g<N>`` (one row per activity, for corrections)."""


def _read_ids(tables: set[str], query: Callable[[str], list[tuple[Any, ...]]]) -> ReadModelIds:
    """Without generations: ``applied_events`` and ``skipped_events``; with them, the active
    generation's tables."""
    if "generations" in tables:
        rows = query("SELECT generation FROM generations WHERE status = 'active'")
        assert len(rows) == 1, f"not one active generation in the read model: {rows}"
        n = int(rows[0][0])
        candidates = [name.format(n=n) for name in _APPLIED_TABLES]
        dead_tables: tuple[str, ...] = (f"dead_letters_g{n}",)
    else:
        candidates, dead_tables = ["applied_events"], ("skipped_events",)
    applied = next((name for name in candidates if name in tables), None)
    assert applied is not None, f"none of {candidates} among the tables {sorted(tables)}"
    ids = [str(row[0]) for row in query(f"SELECT event_id FROM {applied}")]  # noqa: S608
    dead = sum(int(query(f"SELECT count(*) FROM {t}")[0][0])  # noqa: S608
               for t in dead_tables if t in tables)
    return ReadModelIds(ids, dead)


def sqlite_read_model(path: Path) -> ReadModelIds:
    """Applied ids and dead letters of a SQLite read model, opened read-only."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        tables = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        return _read_ids(tables, lambda sql: conn.execute(sql).fetchall())
    finally:
        conn.close()


def postgres_read_model(conninfo: str) -> ReadModelIds:
    """Applied ids and dead letters of a PostgreSQL read model."""
    with psycopg.connect(conninfo) as conn:
        tables = {str(row[0]) for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
        return _read_ids(tables, lambda sql: conn.execute(sql).fetchall())


@dataclass(frozen=True)
class Ledger:
    """Applied ids against the stream's distinct ids: nothing lost, nothing doubled."""

    events: int
    distinct: int
    applied_rows: int
    lost: int
    doubled: int
    foreign: int
    dead_letters: int

    def __str__(self) -> str:
        return (f"events {self.events}, distinct ids {self.distinct}, applied "
                f"{self.applied_rows}, lost {self.lost}, doubled {self.doubled}, "
                f"unknown {self.foreign}, dead letters {self.dead_letters}")

    @property
    def exact(self) -> bool:
        return (self.applied_rows == self.distinct and self.lost == self.doubled
                == self.foreign == self.dead_letters == 0)


def ledger(expected: Recount, read_model: ReadModelIds) -> Ledger:
    applied_counts = Counter(read_model.applied)
    stream_ids = set(expected.id_counts)
    return Ledger(
        events=expected.messages,
        distinct=expected.distinct_ids,
        applied_rows=len(read_model.applied),
        lost=len(stream_ids - applied_counts.keys()),
        doubled=sum(n - 1 for n in applied_counts.values() if n > 1),
        foreign=len(applied_counts.keys() - stream_ids),
        dead_letters=read_model.dead_letters,
    )
