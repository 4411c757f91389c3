"""An exchange whose prints feed is down for an hour: reported, not scored as zero liquidations.

The synthetic market stands in for a streamed exchange: its prints reach the store only while
its (stand-in) watcher is connected — as a real stream's do — and the feed monitor samples
that watcher into the feed log every simulated minute. The same walk without the feed log
scores the outage hour as an hour of (almost) no liquidations: that is what the log prevents.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from bot.analysis.archiver import Archiver
from bot.analysis.feedwatch import FeedMonitor
from bot.analysis.params import sim_defaults
from bot.analysis.rescore import no_gaps
from bot.analysis.service import CoreEngine, MarketService
from bot.commands.catalog import build_commands
from bot.market.port import MarketSource
from bot.market.prints_stream import StreamStatus
from bot.market.refresh import RefreshResult, refresh_series
from bot.market.sim_source import SimSource
from bot.reply import CallContext, Range
from bot.reply.text import render_reply
from bot.state.archive import MapArchive
from bot.state.feeds import FeedLog
from bot.state.scorecard import ScoreBook
from bot.state.store import Store

H = 3_600_000
M = 60_000
SYMBOL = "BTC/USDT:USDT"


@dataclass
class Watcher:
    """A prints watcher's status, switched by the test (``status`` is a property, as there)."""

    connected: bool = True

    @property
    def status(self) -> StreamStatus:
        return StreamStatus("sim", self.connected, None, None, None, 0, 0, 0)


def _walk(
    store: Store, watcher: Watcher, start: int, *, with_log: bool
) -> tuple[Archiver, list[int]]:
    source = SimSource(candles=2016)
    now = [start]
    delivered = [now[0]]  # prints reach the store only while the stream is connected

    async def refresh(
        src: MarketSource, st: Store, symbol: str, tf: str, lookback: int, at: int
    ) -> RefreshResult:
        result = await refresh_series(src, st, symbol, tf, lookback, at)
        prints = await src.fetch_prints(result.symbol, delivered[0])
        keep = prints.times < at
        if watcher.connected and keep.any():
            from core.models import LiquidationPrints

            p = LiquidationPrints(
                prints.times[keep], prints.sides[keep], prints.prices[keep], prints.notionals[keep]
            )
            await asyncio.to_thread(st.save_prints, src.name, result.symbol, p)
        delivered[0] = at
        return result

    service = MarketService(
        {"sim": source},
        store,
        refresh_every_ms=M,
        lookback_ms=86_400_000,
        engine=CoreEngine(sim_defaults()),
        refresh=refresh,
        clock=lambda: now[0],
    )
    log = FeedLog(store)
    monitor = FeedMonitor({"sim": watcher}, log, clock=lambda: now[0])
    monitor.start()
    archiver = Archiver(
        service,
        MapArchive(store),
        ScoreBook(store),
        ["BTC"],
        range_=Range("24h", 24 * H),
        feeds=monitor.feeds,
        down=log.down if with_log else no_gaps,
    )
    archiver.monitor = monitor  # type: ignore[attr-defined]
    return archiver, now


Outages = tuple[range, ...]


async def _run(archiver: Archiver, now: list[int], watcher: Watcher, outages: Outages) -> None:
    """Seven hourly cycles; between them a sample (and a refresh) every simulated minute."""
    monitor: FeedMonitor = archiver.monitor  # type: ignore[attr-defined]
    for _ in range(7):
        await archiver.cycle()
        for _ in range(60):
            now[0] += M
            watcher.connected = not any(now[0] in o for o in outages)
            await archiver.service.view("BTC", Range("24h", 24 * H), "all")
            monitor.sample()


def _outages(start: int) -> Outages:
    """An hour down across the third cycle, and 50 minutes inside the sixth interval (the
    interval after the cycle at ``start + k h`` is ``[start + k h, + 1 h)``)."""
    return (
        range(start + 2 * H + 20 * M, start + 3 * H + 20 * M),
        range(start + 5 * H + 5 * M, start + 5 * H + 55 * M),
    )


async def _start() -> int:
    """The first hour from day 2 of the run whose sixth hour had liquidations in the window
    the second outage will hide (the synthetic market is quiet in most hours)."""
    truth = (await SimSource(candles=2016).snapshot("BTC")).prints
    first = SimSource(candles=2016).start_ms + 2 * 86_400_000
    for k in range(96):
        inside = _outages(first + k * H)[1]
        if ((truth.times >= inside.start) & (truth.times < inside.stop)).sum() >= 3:
            return first + k * H
    raise AssertionError("no liquidation in the hours scanned")


def _touched(times: list[int], outage: range) -> list[int]:
    return [t for t in times if t < outage.stop and t + H > outage.start]


@pytest.fixture
def store() -> Store:
    return Store(":memory:")


async def test_an_hour_with_the_feed_down_is_reported_not_scored_as_zero(store: Store) -> None:
    watcher = Watcher()
    start = await _start()
    archiver, now = _walk(store, watcher, start, with_log=True)
    hour_long, inside = _outages(start)
    await _run(archiver, now, watcher, (hour_long, inside))
    hours = archiver.scores.hours(SYMBOL, "long", since=0, until=now[0])
    status = {t: s.status for t, s in hours}
    across, within = _touched(list(status), hour_long), _touched(list(status), inside)
    assert len(across) == 2 and len(within) == 1  # the hour straddles two scored intervals
    assert all(status[t] == "feed_down" for t in (*across, *within))
    assert sum(s == "scored" for s in status.values()) == len(status) - 3 >= 3

    # without the feed log, the outage inside an interval goes unseen (the feed was up at
    # both archived maps) and that hour is scored on the prints that did arrive: too few
    control_store = Store(":memory:")
    control_watcher = Watcher()
    control, cnow = _walk(control_store, control_watcher, start, with_log=False)
    await _run(control, cnow, control_watcher, _outages(start))
    blind = dict(control.scores.hours(SYMBOL, "long", since=0, until=cnow[0]))
    blind_short = dict(control.scores.hours(SYMBOL, "short", since=0, until=cnow[0]))
    assert all(blind[t].status == "feed_down" for t in across)  # the snapshots saw that one
    (t,) = within
    assert blind[t].status == "scored"
    truth = (await SimSource(candles=2016).snapshot("BTC")).prints
    real = float(truth.notionals[(truth.times >= t) & (truth.times < t + H)].sum())
    lost = (truth.times >= inside.start) & (truth.times < inside.stop)
    missing = float(truth.notionals[lost].sum())
    seen = blind[t].real_usd + blind_short[t].real_usd
    assert missing > 0 and seen == pytest.approx(real - missing)  # as if fewer had happened

    # /accuracy reports the hours and the exchange; /status the feed and its coverage
    commands = build_commands(archiver.service)
    reply = await commands.run("/accuracy BTC 24h", CallContext("console", "1", "1"))
    assert reply is not None and not reply.is_error
    text = render_reply(reply, "console")
    assert reply.context["down_hours"] == 3
    assert "⚠ 3 h of the last 24h not scored: prints feed down (sim " in text
    assert not reply.context["small"] or "too few to judge" in text
    status_reply = await commands.run("/status", CallContext("console", "1", "1"))
    assert status_reply is not None
    status_text = render_reply(status_reply, "console")
    assert "• sim: connected" in status_text
    covered = status_reply.context["feeds"][0]["coverage"]
    assert covered == pytest.approx((7 * H - 110 * M) / (7 * H), abs=0.01)


async def test_a_watcher_that_cannot_be_read_counts_as_down(store: Store) -> None:
    class Broken:
        @property
        def status(self) -> StreamStatus:
            raise RuntimeError("gone")

    log = FeedLog(store)
    monitor = FeedMonitor({"okx": Broken(), "sim": Watcher()}, log, clock=lambda: 1_000)
    monitor.start()
    assert monitor.feeds(["okx", "sim", "replay"]) == {"okx": False, "sim": True, "replay": True}
    record = log.record("okx")
    assert record is not None and record.last is not None
    assert record.last.last_error == "status unreadable" and not record.spans
