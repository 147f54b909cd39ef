"""The stream and its subject hierarchy: what downstream consumers filter on.

- ``cungdan.activity.<version>.logged.<map>.<province>.<campaign>.<event id>``,
  for example ``cungdan.activity.v2.logged.legacy.15.ngay-cuoi-tuan-cung-dan.<uuid>``;
- ``cungdan.activity.v1.corrected.<map>.<province>.<campaign>.<activity id>.<correction id>``;
- ``cungdan.activity.v1.retracted.<map>.<province>.<campaign>.<activity id>``.

The map, province and campaign are those of the activity. Filter one province of
the 2025 map with ``cungdan.activity.*.*.2025.15.>``, and always put a wildcard
at the version token.

The event id closes the subject so that JetStream itself can refuse a second
event with the same id, however long ago the first was stored (see
:func:`id_filter`); ``Nats-Msg-Id`` carries the id too.
"""

from __future__ import annotations

from uuid import UUID

from .localities import AdminMap

STREAM = "CUNGDAN_ACTIVITY"
STREAM_SUBJECTS = ("cungdan.activity.>",)
ALL_EVENTS = "cungdan.activity.>"
ALL_LOGGED = "cungdan.activity.*.logged.>"

HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_TYPE = "Cungdan-Type"
HEADER_VERSION = "Cungdan-Version"
HEADER_FINGERPRINT = "Cungdan-Fingerprint"


def logged_subject(admin_map: AdminMap, province: str, campaign: str, event_id: UUID | str,
                   version: int = 2) -> str:
    return (f"cungdan.activity.v{version}.logged.{admin_map.value}.{province}.{campaign}."
            f"{event_id}")


def corrected_subject(admin_map: AdminMap, province: str, campaign: str, activity_id: UUID,
                      correction_id: UUID) -> str:
    return (f"cungdan.activity.v1.corrected.{admin_map.value}.{province}.{campaign}."
            f"{activity_id}.{correction_id}")


def retracted_subject(admin_map: AdminMap, province: str, campaign: str,
                      activity_id: UUID) -> str:
    return (f"cungdan.activity.v1.retracted.{admin_map.value}.{province}.{campaign}."
            f"{activity_id}")


def logged_filter(admin_map: AdminMap | None = None, province: str | None = None,
                  campaign: str | None = None) -> str:
    """A subject filter for ActivityLogged events of any version; ``None`` matches all."""
    parts = (admin_map.value if admin_map else "*", province or "*", campaign or "*")
    return "cungdan.activity.*.logged.{}.{}.{}.*".format(*parts)


def id_filter(event_id: UUID | str) -> str:
    """Every ActivityLogged subject that can carry ``event_id``, whatever its content."""
    return f"cungdan.activity.*.logged.*.*.*.{event_id}"


def correction_id_filter(correction_id: UUID) -> str:
    """Every ActivityCorrected subject that can carry ``correction_id``."""
    return f"cungdan.activity.*.corrected.*.*.*.*.{correction_id}"


def retraction_filter(activity_id: UUID) -> str:
    """The subjects of a retraction of ``activity_id`` (there can be only one)."""
    return f"cungdan.activity.*.retracted.*.*.*.{activity_id}"


def history_filters(activity_id: UUID) -> list[str]:
    """Every event about one activity: logged, corrected, retracted."""
    return [id_filter(activity_id), f"cungdan.activity.*.corrected.*.*.*.{activity_id}.*",
            retraction_filter(activity_id)]
