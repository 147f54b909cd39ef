"""What the AsyncAPI document says: its description, the channels (one per contract and
subject layout), their parameters and headers. Data; :mod:`.asyncapi` builds the
document from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from cungdan_contracts import (
    CAMPAIGNS,
    ActivityCorrected,
    ActivityLoggedV1,
    ActivityLoggedV2,
    ActivityRetracted,
    AdminMap,
)
from cungdan_contracts.lifecycle import retraction_id
from cungdan_contracts.periods import ControlTotalsSubmitted, PeriodClosed, PeriodReopened
from cungdan_contracts.subjects import (
    ALL_EVENTS,
    ALL_PERIOD_EVENTS,
    HEADER_FINGERPRINT,
    HEADER_MSG_ID,
    HEADER_TYPE,
    HEADER_VERSION,
    STREAM,
)

TITLE = "cungdan activity events"
DOCUMENT_VERSION = "1.0.0"
"""The version of this document's shape; the contract versions are in each channel."""
SERVER_URL = "nats://127.0.0.1:4222"
DEADLETTER_STREAM = "CUNGDAN_DEADLETTER"
ORIGINAL_SUBJECT = "Cungdan-Original-Subject"
ORIGINAL_SEQ = "Cungdan-Original-Seq"
REASON = "Cungdan-Reason"
CONTENT_TYPE = "Content-Type"

DESCRIPTION = f"""\
Every report a province sends is appended by the ingest service to the NATS JetStream
stream `{STREAM}` (subjects `{ALL_EVENTS}` and `{ALL_PERIOD_EVENTS}`, file storage, kept
forever) as an event; corrections and retractions are events too, and so are the
closings of reporting periods (`{ALL_PERIOD_EVENTS}`). The projector folds them into the
totals; statistics offices, newsrooms and other downstream systems read them with
consumers of their own.

## Activity subjects: two layouts

Ingest writes **layout 2**; the events written before it (**layout 1**) stay in the
stream for good, on their own subjects. The payloads are the same contracts in both.

```
layout 2 (written now)
cungdan.activity.<activity id>.logged.<map>.<province>.<campaign>.<version>
cungdan.activity.<correction id>.corrected.<map>.<province>.<campaign>.<version>.<activity id>
cungdan.activity.<activity id>.retracted.<map>.<province>.<campaign>.<version>

layout 1 (written before; read only)
cungdan.activity.<version>.logged.<map>.<province>.<campaign>.<activity id>
cungdan.activity.<version>.corrected.<map>.<province>.<campaign>.<activity id>.<correction id>
cungdan.activity.<version>.retracted.<map>.<province>.<campaign>.<activity id>
```

`<version>` is the contract version of the payload (`v1`, `v2`, ...). `<map>` is the
administrative map (`legacy` before 2025-07-01, `2025` from then on) in which
`<province>` (a 2-digit GSO code, or `VN`) is read. Map, province and campaign are
always those of the activity, also on its corrections and retraction. Layout 2 puts the
id an event is stored once under right after `cungdan.activity`, so that JetStream finds
it directly when it refuses a second event with the same id, however long the stream.
The kind, map, province and campaign keep their token positions, so one filter with a
wildcard at the token after `cungdan.activity` reads both layouts:

Filters that read both layouts:

| want | filter |
|---|---|
| every activity event | `cungdan.activity.>` |
| every ActivityLogged, any version | `cungdan.activity.*.logged.>` |
| every event of one province and campaign | `cungdan.activity.*.*.legacy.15.dan-van-kheo.>` |
| logged, one province and campaign | `cungdan.activity.*.logged.legacy.15.dan-van-kheo.*` |
| everything about one province of the 2025 map | `cungdan.activity.*.*.2025.15.>` |
| one activity's history | `cungdan_contracts.subjects.history_filters(<id>)` |

One layout only: ActivityLogged of one province and campaign in layout 2,
`cungdan.activity.*.logged.legacy.15.dan-van-kheo.v2`; in layout 1,
`cungdan.activity.v2.logged.legacy.15.dan-van-kheo.*` (and `v1`).

**Always put a wildcard at the token after `cungdan.activity`.** In layout 2 it is the id;
in layout 1 the version, and a filter naming `v2` there misses every layout-2 event.
A new contract version appears side by side with the old ones under a new version
token, and older events stay in the stream for good (`ActivityLogged` v1 is no longer
produced but is still read).

## Reading

Read every payload with `cungdan_contracts.decode_event(bytes)` (`pip install
./contracts`): it validates the version the event was written in and upcasts it to the
current shape. Quantities are decimal strings: never read them as floats. Upgrade the
contracts package before the producers: catalogs (campaigns, indicators) may grow.
`cungdan_contracts.subjects.parse(subject)` reads a subject of either layout.

Downstream systems connect as the NATS user `reader` (`deploy/nats/nats-auth.conf`):
it may create its own consumers on `{STREAM}` (durable or ephemeral, pull or push),
ack, and subscribe to `{ALL_EVENTS}` and `{ALL_PERIOD_EVENTS}`, and must connect with
`inbox_prefix="_INBOX.reader"`. It never publishes.

The channels below are what cungdan *sends* (layout 2) and what it sent (layout 1, the
channels named `.layout1`); a downstream system receives them.
Guide and example: `docs/downstream.md`, `examples/downstream_consumer.py`."""

SERVER_DESCRIPTION = f"""\
The NATS server with JetStream (stream `{STREAM}`). `make run` starts one on
127.0.0.1:4222 without users; the compose stack's is `nats:4222` on its network. A
production server uses `deploy/nats/nats-auth.conf`: connect as `reader` with
`inbox_prefix="_INBOX.reader"`."""

WILDCARD_RULE = ("Subscribe with a wildcard at the token after `cungdan.activity` "
                 "(`cungdan.activity.*...`): it is the id in layout 2 and the version in "
                 "layout 1, so such a filter reads both layouts.")
LAYOUT1 = ("Subject layout 1: written before layout 2, no longer written, in the stream for "
           "good; the same payload as the layout-2 channel of the same contract. ")
LAYOUT1_SUFFIX = ".layout1"
"""Names the channel of a contract on the subject layout written before (layout 1)."""
LOGGED_HEADERS = (HEADER_MSG_ID, HEADER_TYPE, HEADER_VERSION, HEADER_FINGERPRINT, CONTENT_TYPE)
LOGGED_REQUIRED = (HEADER_MSG_ID, HEADER_TYPE, HEADER_VERSION, HEADER_FINGERPRINT)


@dataclass(frozen=True, slots=True)
class Channel:
    key: str
    """Names the channel, its operation and its message: ``<contract>.v<version>``, with
    :data:`LAYOUT1_SUFFIX` on the subject layout written before."""
    address: str
    payload: type[BaseModel] | type[bytes]
    description: str
    stream: str = STREAM
    headers: tuple[str, ...] = (HEADER_MSG_ID, HEADER_TYPE, HEADER_VERSION, CONTENT_TYPE)
    required_headers: tuple[str, ...] = (HEADER_MSG_ID, HEADER_TYPE, HEADER_VERSION)
    payload_description: str | None = None
    """For a payload that is no model (a model's schema has its docstring)."""

    @property
    def contract(self) -> tuple[str, str] | None:
        """(type, version) of an event channel, from its key (``<type>.v<version>``, and
        ``.layout1`` for the subject layout written before)."""
        name, dot, version = self.key.removesuffix(LAYOUT1_SUFFIX).partition(".v")
        return (name, version) if dot else None

    @property
    def payload_name(self) -> str:
        """The name of the payload schema in ``components/schemas``."""
        return self.payload.__name__ if issubclass(self.payload, BaseModel) \
            else f"{self.key}Payload"


CHANNELS = (
    Channel(
        "ActivityLogged.v2",
        "cungdan.activity.{activity_id}.logged.{map}.{province}.{campaign}.v2",
        ActivityLoggedV2,
        "A report accepted by ingest: one activity of a campaign in a locality, with its "
        "measures (the current version, v2: structured unit, village, reported_by). Every "
        "new activity is published here. " + WILDCARD_RULE + " Filter every ActivityLogged "
        "of any version and layout with `cungdan.activity.*.logged.>`, one province and "
        "campaign with `cungdan.activity.*.logged.<map>.<province>.<campaign>.*`.",
        headers=LOGGED_HEADERS, required_headers=LOGGED_REQUIRED,
    ),
    Channel(
        "ActivityLogged.v2" + LAYOUT1_SUFFIX,
        "cungdan.activity.v2.logged.{map}.{province}.{campaign}.{activity_id}",
        ActivityLoggedV2,
        LAYOUT1 + WILDCARD_RULE,
        headers=LOGGED_HEADERS, required_headers=LOGGED_REQUIRED,
    ),
    Channel(
        "ActivityLogged.v1" + LAYOUT1_SUFFIX,
        "cungdan.activity.v1.logged.{map}.{province}.{campaign}.{activity_id}",
        ActivityLoggedV1,
        "The first version of ActivityLogged (`unit` as free text), only ever written in "
        "subject layout 1. No longer produced, but in the stream for good: a consumer "
        "reading from the beginning receives these. `decode_event` upcasts them to v2 "
        "(unit kind inferred from the text, `village` and `reported_by` null). "
        + WILDCARD_RULE,
        headers=LOGGED_HEADERS, required_headers=LOGGED_REQUIRED,
    ),
    Channel(
        "ActivityCorrected.v1",
        "cungdan.activity.{correction_id}.corrected.{map}.{province}.{campaign}.v1"
        ".{activity_id}",
        ActivityCorrected,
        "New measures for an earlier activity, with a reason. A correction replaces the "
        "activity's measures as a whole (an indicator it leaves out counts zero from "
        "then on); corrections apply in stream order and the last one wins. Map, "
        "province and campaign are those of the activity. " + WILDCARD_RULE,
    ),
    Channel(
        "ActivityCorrected.v1" + LAYOUT1_SUFFIX,
        "cungdan.activity.v1.corrected.{map}.{province}.{campaign}.{activity_id}"
        ".{correction_id}",
        ActivityCorrected,
        LAYOUT1 + WILDCARD_RULE,
    ),
    Channel(
        "ActivityRetracted.v1",
        "cungdan.activity.{activity_id}.retracted.{map}.{province}.{campaign}.v1",
        ActivityRetracted,
        "An activity withdrawn, with a reason; final: it leaves every total for good. "
        "There is at most one per activity. " + WILDCARD_RULE,
    ),
    Channel(
        "ActivityRetracted.v1" + LAYOUT1_SUFFIX,
        "cungdan.activity.v1.retracted.{map}.{province}.{campaign}.{activity_id}",
        ActivityRetracted,
        LAYOUT1 + WILDCARD_RULE,
    ),
    Channel(
        "PeriodClosed.v1",
        "cungdan.period.{province}.{map}.{period}.closed.{closing}.v1",
        PeriodClosed,
        "A province closed a reporting period: its figures for the period are published "
        "as they stand at this event's place in the stream, and later reports dated in it "
        "are refused. One per closing number. Filter every period event with "
        "`cungdan.period.>`, one province with `cungdan.period.<province>.>`.",
    ),
    Channel(
        "PeriodReopened.v1",
        "cungdan.period.{province}.{map}.{period}.reopened.{closing}.v1",
        PeriodReopened,
        "A national admin reopened a closed period (naming the closing undone): reports "
        "dated in it are taken again, until it is closed again.",
    ),
    Channel(
        "ControlTotalsSubmitted.v1",
        "cungdan.period.{province}.{map}.{period}.control.{key}.v1",
        ControlTotalsSubmitted,
        "A province's own totals of one campaign for a closed period, to compare with the "
        "projected figures. The latest for a campaign and closing counts.",
    ),
    Channel(
        "DeadLetter",
        "cungdan.deadletter.activity.{seq}",
        bytes,
        f"An event of `{STREAM}` the projector could not apply, in stream "
        f"`{DEADLETTER_STREAM}` (for operators: the `reader` user may not read it). The "
        "payload and headers are the original's (usually an event above, but it may be "
        f"malformed: that is why it is here), plus `{ORIGINAL_SUBJECT}`, "
        f"`{ORIGINAL_SEQ}` and `{REASON}`. The projector's `/v1/deadletters` lists them "
        "and re-drives them.",
        stream=DEADLETTER_STREAM,
        headers=(HEADER_TYPE, HEADER_VERSION, ORIGINAL_SUBJECT, ORIGINAL_SEQ, REASON),
        required_headers=(ORIGINAL_SUBJECT, ORIGINAL_SEQ, REASON),
        payload_description="The original message's payload, byte for byte.",
    ),
)

PARAMETERS: dict[str, dict[str, Any]] = {
    "map": {
        "description": "The administrative map of the activity's locality: `legacy` "
                       "before 2025-07-01, `2025` from then on.",
        "enum": [m.value for m in AdminMap],
    },
    "province": {
        "description": "The activity's province in that map: a 2-digit GSO code, or `VN` "
                       "for a report at the level of the nation.",
        "examples": ["15", "06", "VN"],
    },
    "campaign": {
        "description": "The activity's campaign code (the contracts' campaign catalog; "
                       "it may grow).",
        "enum": list(CAMPAIGNS),
    },
    "activity_id": {
        "description": "The activity's id (a UUID chosen by the reporting client).",
        "examples": ["eb65fbf4-2181-4105-805e-eb5b7a701f14"],
    },
    "correction_id": {
        "description": "The correction's id (a UUID chosen by the client).",
        "examples": ["0b7e4a52-8d0e-4c55-9d47-6a1f1f9b7c1e"],
    },
    "period": {
        "description": "A reporting period: `YYYY`, `YYYY-Qn` or `YYYY-MM`.",
        "examples": ["2024", "2024-Q2", "2024-04"],
    },
    "closing": {
        "description": "The number of the period's closing (1 for the first).",
        "examples": ["1"],
    },
    "key": {
        "description": "The digest of the control totals' content and closing.",
        "examples": ["5f1c0e8a9b7d4c3e2a1f0e9d8c7b6a59"],
    },
    "seq": {
        "description": f"The stream sequence of the original event in `{STREAM}`.",
        "examples": ["4711"],
    },
}

HEADERS: dict[str, dict[str, Any]] = {
    HEADER_MSG_ID: {"type": "string", "description":
                    "The event's id for JetStream's deduplication: the activity id "
                    "(ActivityLogged), the correction id (ActivityCorrected), "
                    f"`{retraction_id('<activity id>')}` (ActivityRetracted), "
                    "`period:<province>:<map>:<period>:<kind>:<key>` (the period events: "
                    "`<kind>` and `<key>` are the subject's, e.g. `closed` and the closing "
                    "number)."},
    HEADER_TYPE: {"type": "string", "description": "The contract: the payload's `type`.",
                  "enum": list(dict.fromkeys(
                      c.contract[0] for c in CHANNELS if c.contract is not None))},
    HEADER_VERSION: {"type": "string", "description":
                     "The contract version of the payload (its `version`), as text."},
    HEADER_FINGERPRINT: {"type": "string", "description":
                         "SHA-256 (hex) of the report's canonical content: equal for "
                         "equal content, whatever the version it was sent in."},
    ORIGINAL_SUBJECT: {"type": "string", "description": "The original event's subject."},
    ORIGINAL_SEQ: {"type": "string", "description":
                   f"The original event's sequence in `{STREAM}`."},
    REASON: {"type": "string", "description": "Why the projector could not apply it."},
    CONTENT_TYPE: {"type": "string", "const": "application/json"},
}
