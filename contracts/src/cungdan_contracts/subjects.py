"""The stream and its subject hierarchy: what downstream consumers filter on.

``cungdan.activity.<version>.logged.<map>.<province>.<campaign>.<event id>``,
for example ``cungdan.activity.v1.logged.legacy.15.ngay-cuoi-tuan-cung-dan.<uuid>``.
Filter one province of the 2025 map with ``cungdan.activity.*.logged.2025.15.>``.

The event id closes the subject so that JetStream itself can refuse a second
event with the same id, however long ago the first was stored (see
:func:`id_filter`); ``Nats-Msg-Id`` carries the id too.
"""

from __future__ import annotations

from uuid import UUID

from .localities import AdminMap

STREAM = "CUNGDAN_ACTIVITY"
STREAM_SUBJECTS = ("cungdan.activity.>",)
ALL_LOGGED = "cungdan.activity.*.logged.>"

HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_TYPE = "Cungdan-Type"
HEADER_VERSION = "Cungdan-Version"
HEADER_FINGERPRINT = "Cungdan-Fingerprint"


def logged_subject(admin_map: AdminMap, province: str, campaign: str, event_id: UUID) -> str:
    return f"cungdan.activity.v1.logged.{admin_map.value}.{province}.{campaign}.{event_id}"


def logged_filter(admin_map: AdminMap | None = None, province: str | None = None,
                  campaign: str | None = None) -> str:
    """A subject filter for ActivityLogged events of any version; ``None`` matches all."""
    parts = (admin_map.value if admin_map else "*", province or "*", campaign or "*")
    return "cungdan.activity.*.logged.{}.{}.{}.*".format(*parts)


def id_filter(event_id: UUID) -> str:
    """Every ActivityLogged subject that can carry ``event_id``, whatever its content."""
    return f"cungdan.activity.*.logged.*.*.*.{event_id}"
