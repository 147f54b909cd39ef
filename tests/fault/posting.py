"""Clients that keep posting reports while the broker fails, and keep what became of each.

Each client thread posts its reports one at a time or in small batches, and records every
answer (when it was asked and answered, its status, how many reports it accepted): the
fault tests read from them how long ingest refused, and check that every report confirmed
(202 accepted or 200 duplicate) is in the stream once. A request not fully confirmed is
resent at the end (``retry_all``): ids make that safe.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from tests.fault.faultkit import http_client
from tests.kits.loadgen import random_reports

CLIENT_TIMEOUT = 10.0
"""Every request gives up after this (a hang shows as a failure). Ingest waits 3 s for
JetStream's acknowledgement (CUNGDAN_PUBLISH_TIMEOUT_SECONDS), so a 503 comes well before."""
BATCH_SIZES = (2, 3, 5, 8, 13)


@dataclass
class Request:
    reports: list[dict[str, Any]]
    batch: bool


@dataclass(frozen=True)
class Answer:
    began: float
    """``time.monotonic()`` when the request was sent."""
    ended: float
    status: int
    accepted: int
    """Reports of the request answered ``accepted`` (stored by this request)."""


@dataclass
class Client:
    """One client thread: posts its reports and keeps what became of each."""

    name: str
    ingest_url: str
    requests: list[Request]
    pause: float = 0.005
    """Between two requests."""
    answers: Counter[int] = field(default_factory=Counter)
    log: list[Answer] = field(default_factory=list)
    confirmed: dict[str, int] = field(default_factory=dict)
    """id -> seq, from a 202 (accepted) or 200 (duplicate) answer."""
    retry: list[Request] = field(default_factory=list)
    durations_503: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    sent: set[str] = field(default_factory=set)
    successes: list[float] = field(default_factory=list)
    """When (monotonic) each 200/202 was answered."""

    def send(self, client: httpx.Client, request: Request) -> bool:
        """Post once; True once every report of the request is confirmed."""
        body: Any = request.reports if request.batch else request.reports[0]
        path = "/v1/activities/batch" if request.batch else "/v1/activities"
        self.sent.update(str(r["id"]) for r in request.reports)
        began = time.monotonic()
        try:
            response = client.post(path, json=body)
        except httpx.HTTPError as exc:
            self.failures.append(f"{path}: {exc!r} after {time.monotonic() - began:.1f}s")
            return False
        ended = time.monotonic()
        self.answers[response.status_code] += 1
        if response.status_code == 503:
            self.durations_503.append(ended - began)
            if not response.headers.get("Retry-After", "").isdigit():
                self.failures.append(f"{path}: 503 without a Retry-After header")
        elif response.status_code in (200, 202):
            self.successes.append(ended)
        else:
            self.failures.append(f"{path}: HTTP {response.status_code} {response.text[:300]}")
            self.log.append(Answer(began, ended, response.status_code, 0))
            return False
        answer = response.json()
        items = answer.get("results") if request.batch else [answer]
        if request.batch and response.status_code == 503 and not items:
            self.failures.append(f"{path}: 503 without per-item results")
            items = []
        done, accepted = True, 0
        for item in items or []:
            if item.get("status") in ("accepted", "duplicate"):
                accepted += item["status"] == "accepted"
                self._confirm(str(item["id"]), int(item["seq"]))
            elif item.get("status") == "unavailable" or response.status_code == 503:
                done = False
            else:
                self.failures.append(f"{path}: unexpected item {item}")
        self.log.append(Answer(began, ended, response.status_code, accepted))
        return done and bool(items)

    def _confirm(self, report_id: str, seq: int) -> None:
        known = self.confirmed.setdefault(report_id, seq)
        if known != seq:
            self.failures.append(f"{report_id} confirmed at seq {known}, then at {seq}")

    def run(self, stop: threading.Event) -> None:
        try:
            with http_client(self.ingest_url, timeout=CLIENT_TIMEOUT) as client:
                for request in self.requests:
                    if stop.is_set() or self.failures:
                        return
                    if not self.send(client, request):
                        self.retry.append(request)
                    time.sleep(self.pause)
        except Exception as exc:  # shown by the test, not lost with the thread
            self.failures.append(f"client crashed: {exc!r}")

    def retry_all(self, deadline: float) -> None:
        """Resend every request not fully confirmed (whole batches: ids make it safe)."""
        with http_client(self.ingest_url, timeout=CLIENT_TIMEOUT) as client:
            pending, self.retry = self.retry, []
            while pending and time.monotonic() < deadline and not self.failures:
                pending = [r for r in pending if not self.send(client, r)]
                if pending:
                    time.sleep(0.5)
            self.retry = pending


def make_clients(ingest_url: str, *, seed: int, singles: int, batches: int,
                 reports_per_client: int, pause: float = 0.005) -> list[Client]:
    """``singles`` clients posting one report per request, ``batches`` posting small
    batches; each has ``reports_per_client`` reports of its own (an upper bound: they stop
    when told to)."""
    clients = []
    for n in range(singles + batches):
        batch = n >= singles
        reports = list(random_reports(reports_per_client, seed=seed + n,
                                      namespace=uuid.uuid5(uuid.NAMESPACE_URL, f"client-{n}")))
        requests: list[Request] = []
        i = 0
        while i < len(reports):
            step = BATCH_SIZES[len(requests) % len(BATCH_SIZES)] if batch else 1
            requests.append(Request(reports[i:i + step], batch))
            i += step
        clients.append(Client(f"{'batch' if batch else 'single'}-{n}", ingest_url, requests,
                              pause=pause))
    return clients


class Traffic:
    """The clients' threads, started together and stopped together."""

    def __init__(self, clients: Sequence[Client]) -> None:
        self.clients = list(clients)
        self.stop_requested = threading.Event()
        self.threads = [threading.Thread(target=c.run, args=(self.stop_requested,),
                                         name=c.name, daemon=True) for c in self.clients]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stop_requested.set()
        for thread in self.threads:
            thread.join(CLIENT_TIMEOUT + 5)
        assert not any(t.is_alive() for t in self.threads), "a client is stuck"

    def failures(self) -> list[str]:
        return [f"{c.name}: {f}" for c in self.clients for f in c.failures]

    def answers(self) -> Counter[int]:
        return sum((c.answers for c in self.clients), Counter())

    def log(self) -> list[Answer]:
        return sorted((a for c in self.clients for a in c.log), key=lambda a: a.began)

    def retry_all(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for client in self.clients:
            client.retry_all(deadline)

    def unconfirmed(self) -> int:
        return sum(len(c.retry) for c in self.clients)

    def confirmed(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for client in self.clients:
            merged.update(client.confirmed)
        return merged

    def sent(self) -> set[str]:
        return set().union(*(c.sent for c in self.clients))

    def first_success_after(self, moment: float) -> float | None:
        """When the first request sent after ``moment`` was answered with reports stored."""
        return min((a.ended for a in self.log() if a.began > moment and a.status in (200, 202)),
                   default=None)

    def refusals_between(self, start: float, end: float) -> list[Answer]:
        return [a for a in self.log() if a.status == 503 and start <= a.ended <= end]


def span(answers: Iterable[Answer]) -> tuple[float, float] | None:
    """(first asked, last answered) of ``answers``; ``None`` if there are none."""
    listed = list(answers)
    if not listed:
        return None
    return min(a.began for a in listed), max(a.ended for a in listed)
