"""The benchmarks' verdicts on made-up measurements: ``make bench`` is the only run that
judges them (a quick run shows its figures unjudged), so a verdict that cannot miss would
go unseen."""

from __future__ import annotations

import dataclasses
import math

import pytest

from benchmarks.imports import xlsx_passed
from benchmarks.polling import Polls
from benchmarks.soak import SoakResult, Window, lags_by_window

STEADY = {"ingest": 80_000, "projector": 100_000, "projector's writer": 100_000}


def _windows(*rss: dict[str, int], lags: tuple[float, ...] = (0.05, 0.1)) -> list[Window]:
    return [Window(n, lags=list(lags), rss_kib=dict(kib)) for n, kib in enumerate(rss, 1)]


def _soak(**overrides: object) -> SoakResult:
    """A soak that passes; ``overrides`` replace its fields."""
    good = SoakResult(
        rate=100, seconds=40, load_seconds=40, latency_p99=0.01, window_seconds=10,
        warmup_windows=1, sent=4000, accepted=4000, statuses={202: 4000}, errors=0,
        windows=_windows(STEADY, STEADY, STEADY, STEADY), lost=0, doubled=0, foreign=0,
        stream_last=4200, last_accepted=4200, caught_up_seconds=0.1, cpu="")
    return dataclasses.replace(good, **overrides)


def test_a_clean_soak_passes() -> None:
    assert _soak().passed()


@pytest.mark.parametrize("overrides", [
    {"lost": 1}, {"doubled": 1}, {"foreign": 1}, {"accepted": 3999},
    {"stream_last": 4201},  # stored past the last 202: an answer lost on the way
    {"windows": []},
], ids=lambda o: next(iter(o)))
def test_any_account_off_misses(overrides: dict[str, object]) -> None:
    assert not _soak(**overrides).passed()


def test_rss_growth_after_the_warm_up_is_judged_not_during_it() -> None:
    warming = {**STEADY, "projector's writer": 150_000}
    grown = {**STEADY, "ingest": 88_001}  # +10.001% of the warm-up's 80,000
    during = _soak(windows=_windows(STEADY, warming, warming, warming), warmup_windows=2)
    assert during.growth("projector's writer") == 0 and during.passed()
    assert during.growth("projector's writer", 1) == pytest.approx(0.5)
    after = _soak(windows=_windows(STEADY, STEADY, grown, STEADY))
    assert after.growth("ingest") == pytest.approx(0.1, abs=1e-4) and not after.passed()
    nats_grows = {**STEADY, "nats-server": 100_000}
    shown = _soak(windows=_windows(STEADY | {"nats-server": 50_000}, nats_grows, nats_grows))
    assert shown.growth("nats-server") == pytest.approx(1.0) and shown.passed()  # not judged
    assert math.isnan(_soak(windows=_windows(STEADY), warmup_windows=1).growth("ingest"))


def test_one_slow_or_unseen_window_misses() -> None:
    slow = _windows(STEADY, STEADY, STEADY)
    slow[1].lags.append(0.251)  # its p99 (of three, the slowest) above 250 ms
    assert not _soak(windows=slow).passed()
    unseen = _windows(STEADY, STEADY, STEADY)
    unseen[2].unseen = 1
    assert not _soak(windows=unseen).passed()


def test_lags_go_to_the_window_of_their_202_and_count_to_the_first_covering_poll() -> None:
    polls = Polls()
    polls.at.extend([0.5, 1.0, 1.5, 2.0, 2.5, 3.5])
    polls.position.extend([10, 11, 11, 14, 20, 20])
    windows = lags_by_window(
        accepted_seq=[11, 12, 20, 21, 13], accepted_at=[0.2, 1.2, 2.1, 3.0, 9.0],
        polls=polls, started=0.0, window_seconds=2.0, windows=2)
    assert [w.number for w in windows] == [1, 2]
    assert windows[0].lags == pytest.approx([0.8, 0.8])  # 11 seen at 1.0; 12 at 2.0
    assert windows[0].unseen == 0
    # 20 seen at 2.5; 21 never; 13 came after the last window: counted in the last, unseen
    assert windows[1].lags == pytest.approx([0.4])
    assert windows[1].unseen == 2
    assert polls.lags([(11, 0.2), (21, 3.0), (14, 1.9)]) == pytest.approx([0.8, 0.1])
    assert polls.interval() == pytest.approx(0.6)


def test_the_xlsx_import_passes_only_if_every_row_was_accepted() -> None:
    counts = {"rows": 100, "accepted": 100, "rejected": 0}
    assert xlsx_passed(250.0, counts, 100)
    assert not xlsx_passed(300.0, counts, 100)
    assert not xlsx_passed(120.0, {"rows": 100, "accepted": 0, "rejected": 100}, 100)
    assert not xlsx_passed(250.0, {"rows": 90, "accepted": 90, "rejected": 0}, 100)
