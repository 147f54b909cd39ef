"""examples/downstream_consumer.py against a real nats-server: a statistics office's own
durable consumer, filtered to one province and campaign of one map, from a chosen time.

Events of several provinces, campaigns and both maps are published on their real
subjects (the contracts' subject builders), in subject layout 1 (as ingest wrote them
before layout 2) and then in layout 2, some before and some after the chosen time;
the consumer must get exactly the chosen province's and campaign's events published
after that time, in stream order, whatever their kind and contract version, and a
second run with the same durable name must resume without any redelivery. The same runs
as the NATS user ``reader`` of deploy/nats/nats-auth.conf, from the API and the CLI.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import os
import secrets
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from subprocess import PIPE
from types import ModuleType
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from tests.factories import report

from cungdan.processes import NatsServer
from cungdan_contracts import (
    ActivityCorrected,
    ActivityLogged,
    ActivityLoggedV1,
    ActivityReportV1,
    ActivityRetracted,
    AdminMap,
    CorrectionRequest,
    Event,
    RetractionRequest,
    encode_event,
    report_from_json,
)
from cungdan_contracts.lifecycle import retraction_id
from cungdan_contracts.subjects import (
    HEADER_MSG_ID,
    STREAM,
    STREAM_SUBJECTS,
    corrected_subject,
    event_filter,
    layout1_corrected_subject,
    layout1_logged_subject,
    layout1_retracted_subject,
    logged_subject,
    parse,
    retracted_subject,
)
from cungdan_ingest.journal import stream_config

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "downstream_consumer.py"
AUTH_CONFIG = ROOT / "deploy" / "nats" / "nats-auth.conf"
ROLES = ("ingest", "projector", "reader")

TARGET = "ngay-cuoi-tuan-cung-dan"
OTHER_CAMPAIGN = "dan-van-kheo"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("downstream_consumer", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = _load_example()


@dataclass(frozen=True)
class Place:
    """A locality and a date that put an activity in one map and province."""

    admin_map: AdminMap
    province: str
    locality: str
    date: str


YEN_BAI = Place(AdminMap.LEGACY, "15", "04495", "2023-05-06")  # the chosen one
BAC_KAN = Place(AdminMap.LEGACY, "06", "01894", "2023-03-04")
LAO_CAI_2025 = Place(AdminMap.Y2025, "15", "15", "2025-08-02")  # same code, other map


@dataclass
class Publisher:
    """Publishes valid events on their real subjects, as ingest would."""

    nc: Client
    layout: int = 1
    """The subject layout of the next events (ActivityLogged v1 is always in layout 1)."""
    published: list[tuple[str, str, bool]] = field(default_factory=list)
    """(kind, id, of the chosen province and campaign) of each event, in stream order."""
    layouts: list[int] = field(default_factory=list)
    """The subject layout of each event, in stream order."""

    async def _publish(self, subject: str, event: Any, msg_id: str, key: uuid.UUID,
                       place: Place, campaign: str) -> None:
        ack = await self.nc.jetstream().publish(subject, encode_event(event), stream=STREAM,
                                                headers={HEADER_MSG_ID: msg_id}, timeout=5)
        assert not ack.duplicate
        self.published.append((event.type, str(key), place == YEN_BAI and campaign == TARGET))
        address = parse(subject)
        assert address is not None
        self.layouts.append(address.layout)

    def _envelope(self, place: Place) -> dict[str, Any]:
        return {"recorded_at": dt.datetime.now(dt.UTC), "source_province": place.province,
                "map": place.admin_map}

    async def logged(self, place: Place, campaign: str = TARGET,
                     measures: dict[str, Any] | None = None, version: int = 2) -> uuid.UUID:
        body = report(campaign=campaign, locality=place.locality, date=place.date,
                      measures=measures or {"road_km": "1.5", "citizen_turns": 120})
        event: ActivityLogged | ActivityLoggedV1
        if version == 1:
            event = ActivityLoggedV1(activity=ActivityReportV1.model_validate(body),
                                     **self._envelope(place))
        else:
            event = ActivityLogged(activity=report_from_json(body), reported_by="test",
                                   **self._envelope(place))
        activity_id = event.activity.id
        subject = logged_subject if self.layout == 2 and version > 1 else layout1_logged_subject
        await self._publish(subject(place.admin_map, place.province, campaign, activity_id,
                                    version=version),
                            event, str(activity_id), activity_id, place, campaign)
        return activity_id

    async def corrected(self, place: Place, activity_id: uuid.UUID, campaign: str = TARGET,
                        measures: dict[str, Any] | None = None) -> None:
        correction = CorrectionRequest(id=uuid.uuid4(), reason="đo lại",
                                       measures=measures or {"road_km": "2.25"})
        event = ActivityCorrected(activity_id=activity_id, campaign=campaign,
                                  correction=correction, **self._envelope(place))
        subject = corrected_subject if self.layout == 2 else layout1_corrected_subject
        await self._publish(subject(place.admin_map, place.province, campaign, activity_id,
                                    correction.id),
                            event, str(correction.id), correction.id, place, campaign)

    async def retracted(self, place: Place, activity_id: uuid.UUID,
                        campaign: str = TARGET) -> None:
        event = ActivityRetracted(activity_id=activity_id, campaign=campaign,
                                  retraction=RetractionRequest(reason="báo trùng"),
                                  **self._envelope(place))
        subject = retracted_subject if self.layout == 2 else layout1_retracted_subject
        await self._publish(subject(place.admin_map, place.province, campaign, activity_id),
                            event, retraction_id(activity_id), activity_id, place, campaign)

    def chosen(self, start: int = 0) -> list[tuple[str, str]]:
        """(kind, id) of the chosen province's and campaign's events from ``start`` on."""
        return [(kind, key) for kind, key, chosen in self.published[start:] if chosen]


def _keys(events: list[Event]) -> list[tuple[str, str]]:
    """(kind, id) of each event: the correction's id, or the activity's."""
    return [(event.type, str(event.correction.id if isinstance(event, ActivityCorrected)
                             else event.activity_id if isinstance(event, ActivityRetracted)
                             else event.id))
            for event in events]


async def _publish_two_groups(pub: Publisher) -> tuple[dt.datetime, list[tuple[str, str]]]:
    """A first group, the chosen time, ~1.1 s, a second group, distractors throughout:
    the chosen province's other campaign, another province, the same code on the 2025
    map. The second group has every kind and an ActivityLogged v1. Ingest is upgraded to
    subject layout 2 in the middle of the second group.

    Returns the chosen time and the events a consumer must get from it: the second
    group's of the chosen province and campaign."""
    old = await pub.logged(YEN_BAI)
    await pub.logged(YEN_BAI, campaign=OTHER_CAMPAIGN)
    await pub.logged(BAC_KAN)
    before_2025 = await pub.logged(LAO_CAI_2025)
    await asyncio.sleep(0.05)
    since = dt.datetime.now(dt.UTC)
    await asyncio.sleep(1.1)
    start = len(pub.published)
    b1 = await pub.logged(YEN_BAI, measures={"road_km": "1.5", "citizen_turns": 120})
    other = await pub.logged(YEN_BAI, campaign=OTHER_CAMPAIGN)
    b2 = await pub.logged(YEN_BAI, measures={"road_km": "7"})
    await pub.logged(BAC_KAN)
    await pub.corrected(YEN_BAI, b1, measures={"road_km": "2.25", "houses_built": 2})
    pub.layout = 2
    await pub.corrected(YEN_BAI, other, campaign=OTHER_CAMPAIGN)
    await pub.logged(LAO_CAI_2025)
    await pub.retracted(YEN_BAI, b2)
    await pub.retracted(LAO_CAI_2025, before_2025)
    await pub.corrected(YEN_BAI, old)  # of an activity logged before the chosen time
    await pub.logged(YEN_BAI, measures={"citizen_turns": 30}, version=1)
    return since, pub.chosen(start)


async def _consumer_state(nc: Client, durable: str) -> tuple[int, int, int]:
    """(delivered, redelivered, ack pending) of a durable consumer, as the server sees it."""
    info = await nc.jetstream().consumer_info(STREAM, durable)
    return info.delivered.consumer_seq or 0, info.num_redelivered or 0, info.num_ack_pending or 0


async def test_reads_exactly_the_chosen_events_from_the_chosen_time_then_resumes(
    nats_server: NatsServer,
) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        await nc.jetstream().add_stream(stream_config(STREAM, STREAM_SUBJECTS, 120.0, 1))
        pub = Publisher(nc)
        since, expected = await _publish_two_groups(pub)
        assert [kind for kind, _ in expected] == [
            "ActivityLogged", "ActivityLogged", "ActivityCorrected", "ActivityRetracted",
            "ActivityCorrected", "ActivityLogged"]  # the second group's, and no other
        assert example.event_filter(AdminMap.LEGACY, "15", TARGET) == event_filter(
            AdminMap.LEGACY, "15", TARGET)
        chosen_layouts = [layout for layout, (_, _, chosen)
                          in zip(pub.layouts, pub.published, strict=True) if chosen]
        assert chosen_layouts == [1, 1, 1, 1, 2, 2, 1]  # both layouts, one filter
        totals = example.RunningTotals()
        lines: list[str] = []

        first = await example.consume(nats_server.url, "15", TARGET, "legacy", since,
                                      "thong-ke", max_events=4, idle_seconds=2,
                                      totals=totals, out=lines.append)
        assert _keys(first) == expected[:4]
        assert await _consumer_state(nc, "thong-ke") == (4, 0, 0)

        later = len(pub.published)
        await pub.logged(BAC_KAN)
        await pub.logged(YEN_BAI, measures={"road_km": "1.5", "citizen_turns": 120})
        await pub.logged(LAO_CAI_2025)
        # Another start time: an existing durable consumer resumes where it stopped.
        second = await example.consume(nats_server.url, "15", TARGET, AdminMap.LEGACY,
                                       dt.datetime.now(dt.UTC), "thong-ke", idle_seconds=2,
                                       totals=totals, out=lines.append)
        assert _keys(second) == expected[4:] + pub.chosen(later)
        third = await example.consume(nats_server.url, "15", TARGET, "legacy", since,
                                      "thong-ke", idle_seconds=0.5, out=lines.append)
        assert third == []
        assert await _consumer_state(nc, "thong-ke") == (len(expected) + 1, 0, 0)
    finally:
        await nc.close()

    events = first + second
    assert all(isinstance(e, (ActivityLogged, ActivityCorrected, ActivityRetracted))
               for e in events)
    upcast = events[5]
    assert isinstance(upcast, ActivityLogged) and upcast.version == 2  # v1 in the stream
    assert upcast.activity.unit.kind.value == "military"  # inferred from "Ban CHQS huyện"
    # b1 corrected (2.25 km, 2 houses), b2 retracted, the v1 event (30 turns), the late
    # one (1.5 km, 120 turns); the correction of the earlier activity is not counted.
    assert totals.totals == {"road_km": Decimal("3.75"), "houses_built": Decimal(2),
                             "citizen_turns": Decimal(150)}
    assert [line.startswith("#") for line in lines] == (
        [True] * 4 + [True] * len(second) + [False] + [False])
    assert "not in these totals" in lines[4]


@dataclass
class AuthServer:
    server: NatsServer
    passwords: dict[str, str]

    def url(self, user: str) -> str:
        return f"nats://{user}:{self.passwords[user]}@127.0.0.1:{self.server.port}"


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[AuthServer]:
    """A nats-server with deploy/nats/nats-auth.conf (its users and permissions)."""
    passwords = {role: "pw" + secrets.token_hex(16) for role in ROLES}  # see nats-auth.conf
    with pytest.MonkeyPatch.context() as env:
        for role, password in passwords.items():
            env.setenv(f"CUNGDAN_NATS_{role.upper()}_PASSWORD", password)
        with NatsServer(tmp_path / "store", log_dir=tmp_path, config_file=AUTH_CONFIG) as server:
            yield AuthServer(server, passwords)


async def test_the_reader_user_suffices_from_the_api_and_the_cli(auth_server: AuthServer) -> None:
    ingest = await nats.connect(auth_server.url("ingest"), inbox_prefix="_INBOX.ingest")
    try:
        await ingest.jetstream().add_stream(stream_config(STREAM, STREAM_SUBJECTS, 120.0, 1))
        pub = Publisher(ingest)
        since, expected = await _publish_two_groups(pub)
    finally:
        await ingest.close()

    # The API, credentials in the URL: the inbox prefix follows the user (_INBOX.reader).
    events = await example.consume(auth_server.url("reader"), "15", TARGET, "legacy", since,
                                   "newsroom", idle_seconds=2, out=lambda _: None)
    assert _keys(events) == expected
    again = await example.consume(auth_server.url("reader"), "15", TARGET, "legacy", since,
                                  "newsroom", idle_seconds=0.5, out=lambda _: None)
    assert again == []

    # The CLI, credentials from the environment, another durable consumer of its own.
    plain = f"nats://127.0.0.1:{auth_server.server.port}"
    env = {**os.environ, "CUNGDAN_NATS_URL": plain, "CUNGDAN_NATS_USER": "reader",
           "CUNGDAN_NATS_PASSWORD": auth_server.passwords["reader"]}
    cli = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), "--map", "legacy", "--province", "15",
        "--campaign", TARGET, "--since", since.isoformat(), "--durable", "office-cli",
        "--idle-seconds", "2", env=env, stdout=PIPE, stderr=PIPE)
    out, err = await asyncio.wait_for(cli.communicate(), 60)
    stdout = out.decode()
    assert cli.returncode == 0, err.decode()
    lines = stdout.splitlines()
    assert len(lines) == len(expected) + 1, stdout
    assert all(line.startswith("#") for line in lines[:-1])
    assert lines[-1].startswith("idle"), stdout
    assert "road_km=3.75" not in lines[-2] and "citizen_turns=" in lines[-2]

    reader = await nats.connect(auth_server.url("reader"), inbox_prefix="_INBOX.reader")
    try:
        for durable in ("newsroom", "office-cli"):
            assert await _consumer_state(reader, durable) == (len(expected), 0, 0)
    finally:
        await reader.close()
    log = auth_server.server.log_file.read_text()
    assert "violation" not in log.lower(), log

    # Replies on _INBOX.>, not _INBOX.reader.>: refused, and said so (not taken for idle).
    with pytest.raises(PermissionError, match="permissions violation"):
        await example.consume(auth_server.url("reader"), "15", TARGET, "legacy", since,
                              "wrong-inbox", idle_seconds=1, inbox_prefix="_INBOX",
                              out=lambda _: None)


async def test_an_event_it_cannot_read_stops_it_unacknowledged(nats_server: NatsServer) -> None:
    """A version this contracts package does not know (say v9, from the future): the
    consumer stops without acknowledging it, and the next run meets it again first."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    nc = await nats.connect(nats_server.url)
    try:
        await nc.jetstream().add_stream(stream_config(STREAM, STREAM_SUBJECTS, 120.0, 1))
        pub = Publisher(nc)
        first = await pub.logged(YEN_BAI)
        future = uuid.uuid4()
        await nc.jetstream().publish(
            logged_subject(AdminMap.LEGACY, "15", TARGET, future, version=9),
            b'{"type": "ActivityLogged", "version": 9}', stream=STREAM)
        await pub.logged(YEN_BAI)
        lines: list[str] = []
        for _ in range(2):
            with pytest.raises(example.UndecodableEventError, match="upgrade it"):
                await example.consume(nats_server.url, "15", TARGET, "legacy", since,
                                      "office", idle_seconds=1, out=lines.append)
        assert len(lines) == 1 and str(first) in lines[0]  # the first, once: acknowledged
        delivered, redelivered, _ = await _consumer_state(nc, "office")
        assert (delivered, redelivered) == (3, 1)  # the unreadable one twice, not the last
    finally:
        await nc.close()
