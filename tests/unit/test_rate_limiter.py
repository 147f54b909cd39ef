"""The per-token rate limit (a token bucket on a fake clock)."""

from __future__ import annotations

import pytest

from cungdan_ingest.limits import RateLimiter
from cungdan_service.problems import ProblemError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate_per_token() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") == 0.0  # another token has its own bucket
    clock.now += 0.5
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(0.5)
    clock.now += 60  # refills up to the burst, not beyond
    assert [limiter.take("a") for _ in range(4)][-1] > 0


def test_admit_refuses_with_429_and_retry_after() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=0.25, burst=1, clock=clock)
    limiter.admit("hue")
    with pytest.raises(ProblemError) as refused:
        limiter.admit("hue")
    error = refused.value
    assert (error.status, error.reason, error.caller) == (429, "rate-limited", "hue")
    assert error.headers == {"Retry-After": "4"}
    response = error.response()
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
