"""The archiver as `liqwatch run` composes it: the prints watchers' state reaches the archive
and the feed log, and the archiver waits in the clock's time (the sim's runs fast)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.analysis.archiver import Archiver
from bot.analysis.params import sim_defaults
from bot.analysis.service import CoreEngine, MarketService
from bot.app.archive import SETTLE_MS, archiver_component
from bot.config.settings import Settings
from bot.market.prints_stream import StreamStatus
from bot.market.sim_live import SimClock
from bot.market.sim_source import SimSource
from bot.reply import Range
from bot.state.archive import MapArchive
from bot.state.feeds import FeedLog
from bot.state.scorecard import ScoreBook
from bot.state.store import Store

H = 3_600_000


@dataclass
class Watcher:
    """What the composition root hands over: a PrintsWatcher's ``status`` *property*."""

    connected: bool

    @property
    def status(self) -> StreamStatus:
        return StreamStatus("sim", self.connected, 1, 1, None, 0, 5, 0)


def _service(store: Store, clock: object) -> MarketService:
    source = SimSource(candles=600)
    return MarketService(
        {"sim": source},
        store,
        lookback_ms=86_400_000,
        engine=CoreEngine(sim_defaults()),
        clock=clock,  # type: ignore[arg-type]
    )


async def test_the_watchers_state_reaches_the_archive_and_the_feed_log() -> None:
    store = Store(":memory:")
    end = SimSource(candles=600).end_ms
    service = _service(store, lambda: end)
    component = archiver_component(
        Settings(), service, store, ["BTC"], Range("24h", 24 * H), {"sim": Watcher(True)}
    )
    await component.start()
    try:
        for _ in range(200):
            if MapArchive(store).load("BTC/USDT:USDT"):
                break
            await asyncio.sleep(0.05)
    finally:
        await component.stop()
    (archived,) = MapArchive(store).load("BTC/USDT:USDT")
    assert archived.feeds == {"sim": True}
    record = FeedLog(store).record("sim")
    assert record is not None and record.up and record.last is not None
    assert record.last.prints == 5


def test_the_archiver_waits_in_the_clocks_time() -> None:
    store = Store(":memory:")
    clock = SimClock(0, step=1.0)  # one 5m candle per real second: 300× real time
    archiver = Archiver(
        _service(store, clock),
        MapArchive(store),
        ScoreBook(store),
        ["BTC"],
        range_=Range("24h", 24 * H),
        speed=clock.speed,
    )
    assert clock.speed == 300
    assert archiver.wait_s(10 * H + 30 * 60_000) == (30 * 60) / 300  # half a market hour
    real = Archiver(
        archiver.service,
        archiver.archive,
        archiver.scores,
        ["BTC"],
        range_=Range("24h", 24 * H),
        settle_ms=SETTLE_MS,
    )
    assert real.wait_s(10 * H) == SETTLE_MS / 1000  # just after the hour: wait to settle
    assert real.wait_s(10 * H + SETTLE_MS) == 3600.0
