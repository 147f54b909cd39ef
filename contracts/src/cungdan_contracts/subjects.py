"""The stream and its subject hierarchy: what downstream consumers filter on.

Two subject layouts live in the stream ``cungdan.activity.>``. Ingest writes layout 2;
layout 1 is what it wrote before, kept in the stream for good and read as it is:

- layout 2 (written now): the id an event is stored once under comes first, then the
  kind, the routing, and the payload's contract version:

  - ``cungdan.activity.<activity id>.logged.<map>.<province>.<campaign>.v<version>``;
  - ``cungdan.activity.<correction id>.corrected.<map>.<province>.<campaign>.v<version>``
    ``.<activity id>``;
  - ``cungdan.activity.<activity id>.retracted.<map>.<province>.<campaign>.v<version>``;

- layout 1 (before): the version first, the ids last:

  - ``cungdan.activity.v<version>.logged.<map>.<province>.<campaign>.<activity id>``;
  - ``cungdan.activity.v<version>.corrected.<map>.<province>.<campaign>.<activity id>``
    ``.<correction id>``;
  - ``cungdan.activity.v<version>.retracted.<map>.<province>.<campaign>.<activity id>``.

Why layout 2: JetStream refuses a second event with the same id itself
(``Nats-Expected-Last-Subject-Sequence-Subject``, :func:`id_filter`). With the id last,
that filter had wildcards before the id, and the server matched it against its whole
subject index: ingest slowed down as the stream grew. With the id right after the
literal ``cungdan.activity.``, the server walks straight down to it, however long the
stream. The kind, map, province and campaign keep the token positions they had, so
every filter that put a wildcard at the token after ``cungdan.activity`` (as these docs
always asked) matches both layouts: ``cungdan.activity.*.logged.>``,
``cungdan.activity.*.*.<map>.<province>.<campaign>.>``, ``cungdan.activity.*.*.2025.15.>``.
A layout-2 subject never matches a layout-1 id filter and the other way round: token 2
is ``v<digits>`` in layout 1 and a UUID in layout 2 (:func:`parse` tells them apart).

The payloads are the same contracts in both layouts; the subject's version token is the
payload's contract version. Map, province and campaign are always those of the activity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from .localities import AdminMap

STREAM = "CUNGDAN_ACTIVITY"
ALL_EVENTS = "cungdan.activity.>"
ALL_PERIOD_EVENTS = "cungdan.period.>"
"""Every event of a reporting period (:mod:`.periods`)."""
STREAM_SUBJECTS = (ALL_EVENTS, ALL_PERIOD_EVENTS)
"""Activities, and the closings of reporting periods (:mod:`.periods`)."""
PROJECTED = STREAM_SUBJECTS
"""What the projector reads: the whole stream, every activity event and every period
event, in stream order (a period's closing counts exactly the activities stored before
it)."""
ALL_LOGGED = "cungdan.activity.*.logged.>"
"""Every ActivityLogged, any version, both layouts."""

LAYOUT = 2
"""The subject layout ingest writes."""
LAYOUT1_VERSIONS = ("v1", "v2")
"""The version tokens layout-1 subjects carry (the contract versions written before
layout 2: ActivityLogged v1 and v2, ActivityCorrected and ActivityRetracted v1)."""

HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_TYPE = "Cungdan-Type"
HEADER_VERSION = "Cungdan-Version"
HEADER_FINGERPRINT = "Cungdan-Fingerprint"

_PREFIX = "cungdan.activity."
_VERSION = re.compile(r"v[0-9]+")


class Kind(StrEnum):
    """The kind token of a subject: what the event does to its activity."""

    LOGGED = "logged"
    CORRECTED = "corrected"
    RETRACTED = "retracted"


# --- layout 2: what ingest writes ---------------------------------------------------------


def logged_subject(admin_map: AdminMap, province: str, campaign: str, event_id: UUID | str,
                   version: int = 2) -> str:
    return (f"{_PREFIX}{event_id}.logged.{admin_map.value}.{province}.{campaign}."
            f"v{version}")


def corrected_subject(admin_map: AdminMap, province: str, campaign: str, activity_id: UUID,
                      correction_id: UUID) -> str:
    return (f"{_PREFIX}{correction_id}.corrected.{admin_map.value}.{province}.{campaign}."
            f"v1.{activity_id}")


def retracted_subject(admin_map: AdminMap, province: str, campaign: str,
                      activity_id: UUID) -> str:
    return f"{_PREFIX}{activity_id}.retracted.{admin_map.value}.{province}.{campaign}.v1"


def key_filter(kind: Kind, key: UUID | str) -> str:
    """The layout-2 subjects of a ``kind`` event stored under ``key`` (the activity id of
    an ActivityLogged or ActivityRetracted, the correction id of an ActivityCorrected),
    whatever its routing and version: literal up to the id, so the server finds them
    directly."""
    return f"{_PREFIX}{key}.{kind.value}.>"


def id_filter(event_id: UUID | str) -> str:
    """Every layout-2 ActivityLogged subject that can carry ``event_id``."""
    return key_filter(Kind.LOGGED, event_id)


def correction_id_filter(correction_id: UUID | str) -> str:
    """Every layout-2 ActivityCorrected subject that can carry ``correction_id``."""
    return key_filter(Kind.CORRECTED, correction_id)


def retraction_filter(activity_id: UUID | str) -> str:
    """The layout-2 subjects of a retraction of ``activity_id`` (there can be only one)."""
    return key_filter(Kind.RETRACTED, activity_id)


# --- layout 1: what ingest wrote before (read only) ---------------------------------------


def layout1_logged_subject(admin_map: AdminMap, province: str, campaign: str,
                           event_id: UUID | str, version: int = 2) -> str:
    return (f"{_PREFIX}v{version}.logged.{admin_map.value}.{province}.{campaign}."
            f"{event_id}")


def layout1_corrected_subject(admin_map: AdminMap, province: str, campaign: str,
                              activity_id: UUID | str, correction_id: UUID | str) -> str:
    return (f"{_PREFIX}v1.corrected.{admin_map.value}.{province}.{campaign}."
            f"{activity_id}.{correction_id}")


def layout1_retracted_subject(admin_map: AdminMap, province: str, campaign: str,
                              activity_id: UUID | str) -> str:
    return f"{_PREFIX}v1.retracted.{admin_map.value}.{province}.{campaign}.{activity_id}"


def layout1_key_filters(kind: Kind, key: UUID | str) -> tuple[str, ...]:
    """The layout-1 subjects of a ``kind`` event stored under ``key``, one filter per
    version token: the version is literal, so the server only walks layout 1's part of
    its subject index (the routing wildcards still cost it that part's size)."""
    tail = {Kind.LOGGED: "*.*.*.{}", Kind.CORRECTED: "*.*.*.*.{}",
            Kind.RETRACTED: "*.*.*.{}"}[kind].format(key)
    return tuple(f"{_PREFIX}{v}.{kind.value}.{tail}" for v in LAYOUT1_VERSIONS)


def layout1_kind_filters(kind: Kind) -> tuple[str, ...]:
    """Every layout-1 subject of a kind, one filter per version token."""
    return tuple(layout1_filter(kind, v) for v in LAYOUT1_VERSIONS)


def layout1_filter(kind: Kind, version: str, admin_map: AdminMap | None = None,
                   province: str | None = None) -> str:
    """The layout-1 subjects of a kind and version token, of one map and province if
    given (literal up to there)."""
    routing = f"{admin_map.value}.{province}." if admin_map and province else ""
    return f"{_PREFIX}{version}.{kind.value}.{routing}>"


# --- both layouts: what consumers filter on -----------------------------------------------


def logged_filter(admin_map: AdminMap | None = None, province: str | None = None,
                  campaign: str | None = None) -> str:
    """ActivityLogged events of any version, in both layouts; ``None`` matches all."""
    parts = (admin_map.value if admin_map else "*", province or "*", campaign or "*")
    return "cungdan.activity.*.logged.{}.{}.{}.*".format(*parts)


def event_filter(admin_map: AdminMap, province: str, campaign: str) -> str:
    """Every event (logged, corrected, retracted; any version; both layouts) of one
    province and campaign of one map."""
    return f"{_PREFIX}*.*.{admin_map.value}.{province}.{campaign}.>"


def history_filters(activity_id: UUID | str, *, layout1: bool = True) -> list[str]:
    """Every event about one activity: logged, corrected, retracted; in layout 2, and in
    layout 1 unless ``layout1`` is false (an activity logged in layout 2 has no layout-1
    events). Its corrections are found through a wildcard before the correction id: the
    server walks its whole subject index for those."""
    found = [f"{_PREFIX}{activity_id}.>", f"{_PREFIX}*.corrected.*.*.*.*.{activity_id}"]
    if layout1:
        for version in LAYOUT1_VERSIONS:
            found += [f"{_PREFIX}{version}.logged.*.*.*.{activity_id}",
                      f"{_PREFIX}{version}.corrected.*.*.*.{activity_id}.*",
                      f"{_PREFIX}{version}.retracted.*.*.*.{activity_id}"]
    return found


@dataclass(frozen=True, slots=True)
class Address:
    """What an event's subject says, in either layout."""

    layout: int
    kind: Kind
    version: str
    """The contract version token, ``v2``."""
    map: str
    province: str
    campaign: str
    key: str
    """The id the event is stored once under: the activity's (logged, retracted) or the
    correction's."""
    activity_id: str


def parse(subject: str) -> Address | None:
    """The address of an event subject of either layout; ``None`` for any other subject."""
    tokens = subject.split(".")
    if len(tokens) not in (8, 9) or f"{tokens[0]}.{tokens[1]}." != _PREFIX:
        return None
    try:
        kind = Kind(tokens[3])
    except ValueError:
        return None
    if len(tokens) != (9 if kind is Kind.CORRECTED else 8):
        return None
    admin_map, province, campaign = tokens[4:7]
    if _VERSION.fullmatch(tokens[2]):  # layout 1: the ids last
        version, key = tokens[2], tokens[-1]
        activity_id = tokens[7]
        return Address(1, kind, version, admin_map, province, campaign, key, activity_id)
    if not _VERSION.fullmatch(tokens[7]):
        return None
    key = tokens[2]
    activity_id = tokens[8] if kind is Kind.CORRECTED else key
    return Address(2, kind, tokens[7], admin_map, province, campaign, key, activity_id)
