"""Ports for the servers the tests start: none that an outgoing connection can take first."""

import random
import socket
from collections.abc import Sequence

import pytest

from cungdan import processes
from cungdan.processes import LOCALHOST, ephemeral_ports, free_port, port_in_use


def test_free_ports_lie_outside_the_kernels_ephemeral_range() -> None:
    ephemeral = ephemeral_ports()
    ports = [free_port() for _ in range(50)]
    assert not [port for port in ports if port in ephemeral]
    assert all(1024 < port < 65536 for port in ports)


def test_a_port_is_handed_out_once_and_is_free_when_handed() -> None:
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, ports[-1]))  # raises if it was not free
        assert port_in_use(ports[-1])


def test_a_port_held_by_a_listener_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        sock.listen()
        held = sock.getsockname()[1]
        monkeypatch.setattr(processes, "ephemeral_ports", lambda: range(60000, 61000))
        tried: list[int] = []

        def candidates_held_first(population: Sequence[int], k: int) -> list[int]:
            tried.extend([held, population[-1]])
            return tried

        monkeypatch.setattr(random, "sample", candidates_held_first)
        assert free_port() == tried[1] != held
