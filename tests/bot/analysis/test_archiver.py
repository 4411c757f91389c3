"""The archiver on the synthetic market: archive each hour's map, score the hour after it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from bot.analysis.archiver import Archiver
from bot.analysis.params import sim_defaults
from bot.analysis.service import CoreEngine, MarketService
from bot.market.sim_source import SimSource
from bot.reply import Range
from bot.state.archive import MapArchive
from bot.state.scorecard import WINDOWS, ScoreBook
from bot.state.store import Store

H = 3_600_000


class Feeds:
    """Prints-feed state the test switches."""

    def __init__(self) -> None:
        self.up = True

    def __call__(self, exchanges: Sequence[str]) -> Mapping[str, bool]:
        return dict.fromkeys(exchanges, self.up)


def _archiver(store: Store, feeds: Feeds) -> tuple[Archiver, list[int]]:
    source = SimSource(candles=2016)
    now = [source.start_ms + 2 * 86_400_000]
    service = MarketService(
        {"sim": source},
        store,
        timeframe="5m",
        refresh_every_ms=60_000,
        lookback_ms=86_400_000,
        engine=CoreEngine(sim_defaults()),
        clock=lambda: now[0],
    )
    archiver = Archiver(
        service,
        MapArchive(store),
        ScoreBook(store),
        ["BTC"],
        range_=Range("24h", 24 * H),
        feeds=feeds,
    )
    return archiver, now


@pytest.fixture
def store() -> Store:
    return Store(":memory:")


async def test_each_cycle_archives_the_map_shown_and_scores_the_hour_before(
    store: Store,
) -> None:
    archiver, now = _archiver(store, Feeds())
    results = []
    for _ in range(6):
        results.append(await archiver.cycle())
        now[0] += H
    assert [r.archived for r in results] == [1] * 6
    # the interval after a map ends past the next cycle: it is scored one cycle later
    assert [r.scored for r in results] == [0, 0, 1, 1, 1, 1]
    assert all(0 < r.bytes < 4_000 for r in results)
    maps = archiver.archive.load("BTC/USDT:USDT")
    assert [m.time - maps[0].time for m in maps] == [k * H for k in range(6)]
    now[0] -= H  # back to the last cycle: the map /map showed then
    view = await archiver.service.view("BTC", Range("24h", 24 * H), "all")
    now[0] += H
    assert maps[-1].map.price == view.analysis.map.price  # as shown
    assert maps[-1].clusters == view.analysis.clusters
    card = archiver.scores.scorecard("BTC/USDT:USDT", "long", window_ms=WINDOWS["24h"], now=now[0])
    assert card.hours == 4 and card.feed_down_hours == 0
    now[0] -= H
    again = await archiver.cycle()  # the last cycle's clock again: nothing new to archive or score
    assert (again.archived, again.scored) == (0, 0)


async def test_an_hour_with_the_prints_feed_down_is_reported_not_scored(store: Store) -> None:
    feeds = Feeds()
    archiver, now = _archiver(store, feeds)
    for k in range(5):
        feeds.up = k != 2
        await archiver.cycle()
        now[0] += H
    hours = archiver.scores.hours("BTC/USDT:USDT", "short", since=0, until=now[0])
    assert [s.status for _, s in hours] == ["scored", "feed_down", "feed_down"]
    card = archiver.scores.scorecard("BTC/USDT:USDT", "short", window_ms=WINDOWS["7d"], now=now[0])
    assert (card.hours, card.feed_down_hours) == (1, 2)


async def test_prune_drops_maps_older_than_keep(store: Store) -> None:
    archiver, now = _archiver(store, Feeds())
    archiver.keep_ms = 2 * H
    for _ in range(5):
        await archiver.cycle()
        now[0] += H
    assert len(archiver.archive.load("BTC/USDT:USDT")) <= 3
