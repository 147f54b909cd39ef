"""The locked-down broker of `cungdan run`, without starting it: its passwords (made once,
kept private), each node's configuration, and the cluster's ports from the environment."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from cungdan.broker import AUTH_CONFIG, Broker, NodePorts, node_config
from cungdan.cli import RunSettings
from cungdan.nats_credentials import ROUTE_USER, USERS, generate, load_or_create

NODES = (NodePorts(4222, 8222, 6222), NodePorts(4223, 8223, 6223), NodePorts(4224, 8224, 6224))


def test_passwords_are_made_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "nats-credentials.json"
    first = load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert set(first.passwords) == {*USERS, ROUTE_USER}
    for password in first.passwords.values():
        # nats-server reads them from its environment as config values: a letter first
        assert re.fullmatch(r"pw[0-9a-f]{48}", password), password
    assert load_or_create(path) == first
    assert len(set(first.passwords.values())) == len(first.passwords)


def test_a_missing_user_is_added_and_the_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "nats-credentials.json"
    path.write_text(json.dumps({"passwords": {"ingest": "pwkept"}}))
    credentials = load_or_create(path)
    assert credentials.password("ingest") == "pwkept"
    assert set(credentials.passwords) == {*USERS, ROUTE_USER}
    assert json.loads(path.read_text())["passwords"] == dict(credentials.passwords)


def test_the_server_gets_the_password_of_each_user_of_deploy_nats() -> None:
    credentials = generate()
    named = set(re.findall(r"\$(CUNGDAN_NATS_\w+_PASSWORD)", AUTH_CONFIG.read_text()))
    assert set(credentials.server_env()) == named
    assert ROUTE_USER not in json.dumps(credentials.server_env()).lower()


def test_one_node_has_the_users_and_no_cluster() -> None:
    text = node_config("nats-server", NodePorts(4222, 8222), [], generate())
    assert 'server_name: "nats-server"' in text
    assert "cluster" not in text.split("authorization {")[0]
    assert text.endswith(AUTH_CONFIG.read_text())


def test_a_cluster_node_routes_to_the_others_with_the_route_password() -> None:
    credentials = generate()
    password = credentials.password(ROUTE_USER)
    text = node_config("nats-2", NODES[1], NODES, credentials)
    assert 'server_name: "nats-2"' in text
    assert 'listen: "127.0.0.1:6223"' in text
    assert f'authorization {{ user: "route", password: "{password}" }}' in text
    routes = re.findall(r'"nats-route://route:(\w+)@127\.0\.0\.1:(\d+)"', text)
    assert routes == [(password, "6222"), (password, "6224")]
    assert text.endswith(AUTH_CONFIG.read_text())


def test_each_node_config_is_written_private(tmp_path: Path) -> None:
    broker = Broker(tmp_path, tmp_path / "logs", NODES, generate())
    assert [n.name for n in broker.nodes] == ["nats-1", "nats-2", "nats-3"]
    assert broker.replicas == 3
    for node in broker.nodes:
        assert node.config_file is not None
        assert node.config_file.stat().st_mode & 0o777 == 0o600
    assert broker.display_url == "nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224"
    single = Broker(tmp_path / "one", tmp_path / "logs", NODES[:1], generate())
    assert (single.clustered, single.replicas, single.nodes[0].name) == (False, 1, "nats-server")


def test_cluster_ports_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [n.client for n in RunSettings().cluster_nodes()] == [4222, 4223, 4224]
    monkeypatch.setenv("CUNGDAN_NATS_CLUSTER_PORTS", "5001, 5002,5003")
    monkeypatch.setenv("CUNGDAN_NATS_CLUSTER_ROUTE_PORTS", "7001,7002,7003")
    nodes = RunSettings().cluster_nodes()
    assert nodes == (NodePorts(5001, 8222, 7001), NodePorts(5002, 8223, 7002),
                     NodePorts(5003, 8224, 7003))
    monkeypatch.setenv("CUNGDAN_NATS_CLUSTER_PORTS", "5001,5002")
    with pytest.raises(ValidationError):
        RunSettings()
