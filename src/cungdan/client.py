"""A small HTTP client of the two services, for operators, the demo and the tests."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx


def bearer(token: str | None) -> dict[str, str]:
    """The ``Authorization`` header of an API token (none without one)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def post_batches(ingest_url: str, reports: Sequence[dict[str, Any]], *, size: int = 500,
                 timeout: float = 30.0, token: str | None = None) -> dict[str, int]:
    """Send reports in batches; returns the summed counts (accepted, duplicate, ...)."""
    counts: dict[str, int] = {}
    last_seq = 0
    with httpx.Client(base_url=ingest_url, timeout=timeout, trust_env=False,
                      headers=bearer(token)) as client:
        for start in range(0, len(reports), size):
            response = client.post("/v1/activities/batch", json=list(reports[start:start + size]))
            response.raise_for_status()
            body = response.json()
            for status, n in body["counts"].items():
                counts[status] = counts.get(status, 0) + n
            last_seq = max([last_seq, *(r.get("seq", 0) for r in body["results"])])
    counts["last_seq"] = last_seq
    return counts


def wait_until_projected(projector_url: str, seq: int, *, timeout: float = 30.0,
                         token: str | None = None) -> int:
    """Poll the projector until its totals reflect stream position ``seq``."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=projector_url, timeout=5.0, trust_env=False,
                      headers=bearer(token)) as client:
        while True:
            position = int(client.get("/v1/totals/VN").json()["position"])
            if position >= seq:
                return position
            if time.monotonic() > deadline:
                raise TimeoutError(f"projector at {position}, expected {seq} within {timeout}s")
            time.sleep(0.05)
