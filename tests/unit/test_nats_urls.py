"""``CUNGDAN_NATS_URL`` with one or several servers (a cluster), credentials in the URL or
given apart: what the services connect to, as whom, and what their logs show."""

from __future__ import annotations

import pytest

from cungdan.nats_credentials import USERS, generate
from cungdan_service.nats import nats_target, redact

CLUSTER = ("nats://projector:pw1@nats-1:4222, nats://projector:pw1@nats-2:4222,"
           "nats://projector:pw1@nats-3:4222")


def test_several_servers_each_with_the_credentials() -> None:
    target = nats_target(CLUSTER)
    assert target.servers == ["nats://nats-1:4222", "nats://nats-2:4222", "nats://nats-3:4222"]
    assert (target.user, target.password) == ("projector", "pw1")
    assert target.inbox_prefix == "_INBOX.projector"


def test_credentials_on_one_server_only_serve_for_all() -> None:
    target = nats_target("nats://ingest:s3cret@a:4222,nats://b:4222")
    assert target.servers == ["nats://a:4222", "nats://b:4222"]
    assert (target.user, target.password) == ("ingest", "s3cret")


def test_explicit_credentials_win_over_the_url() -> None:
    target = nats_target(CLUSTER, user="ingest", password="other")
    assert (target.user, target.password) == ("ingest", "other")


def test_no_credentials() -> None:
    target = nats_target("nats://127.0.0.1:4222,nats://127.0.0.1:4223")
    assert (target.user, target.password, target.inbox_prefix) == (None, None, "_INBOX")


def test_logs_never_show_a_password() -> None:
    shown = redact(CLUSTER)
    assert "pw1" not in shown
    assert shown.count("projector@") == 3


@pytest.mark.parametrize("user", USERS)
def test_generated_urls_round_trip(user: str) -> None:
    credentials = generate()
    url = credentials.client_url(user, ["127.0.0.1:4222", "127.0.0.1:4223"])
    target = nats_target(url)
    assert target.servers == ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"]
    assert (target.user, target.password) == (user, credentials.password(user))
    assert credentials.password(user) not in repr(credentials)
    assert credentials.password(user) not in redact(url)
