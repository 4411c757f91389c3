"""The prints-feed log: coverage spans from samples, what breaks them, and what is down."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.state.feeds import (
    GAP_TOLERANCE_MS,
    FeedLog,
    FeedSample,
    covered_ms,
    down_venues,
    uncovered,
)
from bot.state.store import Store

S = 15_000  # one sample period
H = 3_600_000


@pytest.fixture
def log() -> FeedLog:
    return FeedLog(Store(":memory:"), max_gap_ms=3 * S)


def _sample(log: FeedLog, t0: int, t1: int, up: bool = True, reconnects: int = 0) -> None:
    for t in range(t0, t1 + 1, S):
        log.sample("binanceusdm", FeedSample(at=t, connected=up, reconnects=reconnects))


def test_consecutive_up_samples_make_one_span(log: FeedLog) -> None:
    _sample(log, 0, H)
    record = log.record("binanceusdm")
    assert record is not None and record.spans == ((0, H),) and record.up
    assert log.down(["binanceusdm"], 0, H) == []
    assert log.down(["binanceusdm"], 0, H + 2 * GAP_TOLERANCE_MS) == ["binanceusdm"]


def test_a_down_stretch_leaves_a_hole_and_is_down(log: FeedLog) -> None:
    _sample(log, 0, 10 * 60_000)
    _sample(log, 10 * 60_000 + S, 50 * 60_000, up=False)
    _sample(log, 50 * 60_000 + S, H)
    record = log.record("binanceusdm")
    assert record is not None and len(record.spans) == 2
    holes = uncovered(record.spans, 0, H)
    assert holes == [(10 * 60_000, 50 * 60_000 + S)]
    assert log.down(["binanceusdm"], 0, H) == ["binanceusdm"]
    assert log.down(["binanceusdm"], 0, 10 * 60_000) == []  # before the outage: covered
    assert record.since == 50 * 60_000 + S  # back up since


def test_a_reconnect_between_samples_breaks_the_span_but_a_blip_is_tolerated(
    log: FeedLog,
) -> None:
    _sample(log, 0, 30 * 60_000)
    _sample(log, 30 * 60_000 + S, H, reconnects=1)  # reconnected once, up at every sample
    record = log.record("binanceusdm")
    assert record is not None and len(record.spans) == 2
    missing = (H - 0) - covered_ms(record.spans, 0, H)
    assert missing == 2 * S  # up to the last sample before, from the second sample after
    assert log.down(["binanceusdm"], 0, H) == []  # under a minute missing: still scored


def test_a_stopped_bot_is_not_covered(log: FeedLog, tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with Store(path) as store:
        first = FeedLog(store, max_gap_ms=3 * S)
        first.register("bybit")
        for t in range(0, 20 * 60_000, S):
            first.sample("bybit", FeedSample(at=t, connected=True))
    with Store(path) as store:  # the bot restarts 2 h later: the gap is not covered
        again = FeedLog(store, max_gap_ms=3 * S)
        for t in range(2 * H, 3 * H + 1, S):
            again.sample("bybit", FeedSample(at=t, connected=True))
        record = again.record("bybit")
        assert record is not None and len(record.spans) == 2
        assert again.down(["bybit"], H, 2 * H) == ["bybit"]
        assert again.down(["bybit"], 2 * H, 3 * H) == []


def test_registered_but_never_up_is_down_and_an_unstreamed_venue_never_is(log: FeedLog) -> None:
    log.register("okx")
    log.register("okx")  # idempotent
    assert log.down(["okx", "sim"], 0, H) == ["okx"]
    assert down_venues({}, ["sim"], 0, H) == []


def test_prune_drops_old_spans_only(log: FeedLog) -> None:
    _sample(log, 0, 60_000)
    _sample(log, 60_000 + S, 2 * 60_000, up=False)
    _sample(log, 2 * 60_000 + S, 3 * 60_000)
    log.prune(before=2 * 60_000)
    record = log.record("binanceusdm")
    assert record is not None and record.spans == ((2 * 60_000 + S, 3 * 60_000),)
    assert record.last is not None and record.last.at == 3 * 60_000
