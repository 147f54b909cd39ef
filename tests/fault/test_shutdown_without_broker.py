"""NATS goes away first, then the services are told to stop (a host shutting down, compose
stopping nats before them): each one closes its connection and completes its shutdown,
without the "Application shutdown failed" traceback that draining a reconnecting
connection raised. (uvicorn ends by raising the signal it was stopped with again, so the
exit status is SIGTERM's either way.)"""

from __future__ import annotations

import os
import signal

import pytest
from tests.fault.faultkit import MakeStack, http_client, ready_reason, wait_until

pytestmark = [pytest.mark.fault, pytest.mark.integration, pytest.mark.timeout(120)]


def test_services_stop_cleanly_when_the_broker_is_already_gone(make_stack: MakeStack) -> None:
    stack = make_stack()
    stack.nats.kill()
    with http_client(stack.ingest_url) as ingest:
        wait_until("ingest notices NATS is gone",
                   lambda: ready_reason(ingest)[0] == 503 or None, timeout=30)
    services = {"ingest": stack.ingest, "projector": stack.projector}
    for service in services.values():
        assert service.pid is not None
        os.killpg(service.pid, signal.SIGTERM)
    for name, service in services.items():
        wait_until(f"{name} exits", service.exit_description, timeout=60)
    for name, service in services.items():
        log = service.log_file.read_text(encoding="utf-8")
        assert "Application shutdown complete" in log, (name, log[-3000:])
        assert "Application shutdown failed" not in log, (name, log[-3000:])
        assert "Traceback" not in log, (name, log[-3000:])
    assert "NATS unreachable at shutdown" in services["ingest"].log_file.read_text("utf-8")
