"""The map archive and the scorecard's storage: write, read back, prune, size."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.state.archive import MapArchive, decode_side, encode_side
from bot.state.scorecard import WINDOWS, ScoreBook
from bot.state.store import Store
from core.livescore import HourScore, unscored
from core.models import Side
from core.results import Cluster, DangerZone, LiquidationMap, PriceGrid

H = 3_600_000


def _map(t: int, seed: int = 0, grid: PriceGrid | None = None) -> LiquidationMap:
    rng = np.random.default_rng(seed)
    grid = grid or PriceGrid.around(80_000.0, 100_000.0, 400)
    long = np.where(grid.centers < 90_000, rng.lognormal(13, 2, grid.bins), 0.0)
    short = np.where(grid.centers >= 90_000, rng.lognormal(13, 2, grid.bins), 0.0)
    return LiquidationMap(grid, 90_000.0, t, long, short)


CLUSTERS = (Cluster(Side.SHORT, 92_000.0, 5e7, 1e7, 3e6, 91_800.0, 92_300.0),)
ZONES = (DangerZone(Side.LONG, 86_000.0, 87_500.0, 9e7, 86_900.0),)


@pytest.fixture
def store() -> Store:
    return Store(":memory:")


def test_quantised_sides_come_back_within_the_stated_precision() -> None:
    values = np.array([0.0, 1e-3, 1.0, 123.4, 5e6, 7.5e7, 1e8])
    back = decode_side(encode_side(values))
    assert back[0] == 0.0 and back[-1] == 1e8
    big = values >= 1e8 * 1e-6
    np.testing.assert_allclose(back[big], values[big], rtol=3e-4)
    assert np.all(np.abs(back[~big] - values[~big]) <= 1e8 * 1e-6)
    assert np.all(decode_side(encode_side(np.zeros(5))) == 0)


def test_write_read_keeps_the_map_clusters_zones_and_feeds(store: Store) -> None:
    archive = MapArchive(store)
    shown = _map(10 * H)
    size = archive.save("BTC/USDT:USDT", ("sim",), shown, CLUSTERS, ZONES, {"sim": True})
    assert 0 < size < 3_000
    assert archive.save("BTC/USDT:USDT", ("sim",), _map(10 * H, seed=9)) == 0  # never rewritten
    (got,) = archive.load("BTC/USDT:USDT")
    assert got.time == 10 * H and got.venues == ("sim",) and got.feeds == {"sim": True}
    assert got.map.price == shown.price
    np.testing.assert_allclose(got.map.grid.edges, shown.grid.edges, rtol=1e-12)
    np.testing.assert_allclose(got.map.long, shown.long, rtol=3e-4, atol=shown.long.max() * 1e-6)
    np.testing.assert_allclose(got.map.short, shown.short, rtol=3e-4, atol=shown.short.max() * 1e-6)
    assert got.clusters == CLUSTERS and got.zones == ZONES
    assert got.cluster_levels() == [(Side.SHORT, 92_000.0)]


def test_an_irregular_grid_is_stored_as_its_edges(store: Store) -> None:
    grid = PriceGrid(np.array([1.0, 2.0, 2.5, 4.0, 8.0]), log=False)
    lmap = LiquidationMap(grid, 3.0, 5, np.array([1.0, 2, 0, 0]), np.array([0, 0, 3.0, 4]))
    MapArchive(store).save("X/USDT:USDT", ("a", "b"), lmap)
    (got,) = MapArchive(store).load("X/USDT:USDT", ("a", "b"))
    np.testing.assert_array_equal(got.map.grid.edges, grid.edges)
    assert not got.map.grid.log and got.feeds == {"a": True, "b": True}


def test_load_by_time_latest_before_markets_and_prune(store: Store) -> None:
    archive = MapArchive(store)
    for h in range(5):
        archive.save("BTC/USDT:USDT", ("sim",), _map(h * H, seed=h))
    archive.save("ETH/USDT:USDT", ("sim",), _map(2 * H))
    assert [m.time for m in archive.load("BTC/USDT:USDT", since=H, until=3 * H)] == [
        H,
        2 * H,
        3 * H,
    ]
    latest = archive.latest_before("BTC/USDT:USDT", ("sim",), 3 * H + 5)
    assert latest is not None and latest.time == 3 * H
    assert archive.latest_before("BTC/USDT:USDT", ("sim",), -1) is None
    assert archive.markets() == [("BTC/USDT:USDT", ("sim",)), ("ETH/USDT:USDT", ("sim",))]
    maps, size = archive.size_bytes("BTC/USDT:USDT")
    assert maps == 5 and size > 0
    assert archive.prune(before=3 * H) == 4  # BTC 0,1,2 and ETH 2
    assert [m.time for m in archive.load("BTC/USDT:USDT")] == [3 * H, 4 * H]


def test_the_archive_survives_a_restart(tmp_path: object) -> None:
    path = f"{tmp_path}/state.sqlite3"
    with Store(path) as store:
        MapArchive(store).save("BTC/USDT:USDT", ("sim",), _map(H), CLUSTERS)
    with Store(path) as store:
        (got,) = MapArchive(store).load("BTC/USDT:USDT")
        assert got.clusters == CLUSTERS


def _score(side: str, top: float, real: float, hits: int = 1) -> HourScore:
    return HourScore(side, "scored", 20, real, top, 0.25, 0.9, 0.5, 2, hits, 0.3, 0.1, 3, 1)  # type: ignore[arg-type]


def test_scorecard_rolling_windows(store: Store) -> None:
    book = ScoreBook(store)
    now = 40 * 24 * H
    for h in range(40 * 24):
        scores = [_score("long", 0.5, 1e6), _score("short", 0.75, 3e6, hits=2)]
        if h % 24 == 0:
            scores = [unscored("long", "feed_down"), unscored("short", "feed_down")]
        book.save("BTC/USDT:USDT", ("sim",), h * H, scores)
    assert book.last_hour("BTC/USDT:USDT", ("sim",)) == (40 * 24 - 1) * H
    day = book.scorecard("BTC/USDT:USDT", "long", window_ms=WINDOWS["24h"], now=now)
    assert (day.hours, day.feed_down_hours) == (23, 1)
    assert day.top_share == pytest.approx(0.5) and day.lift == pytest.approx(2.0)
    assert day.hit_rate == pytest.approx(0.5) and day.base_hit_rate == pytest.approx(1 / 3)
    month = book.scorecard("BTC/USDT:USDT", "short", window_ms=WINDOWS["30d"], now=now)
    assert month.hours == 30 * 23 and month.hit_rate == 1.0
    assert month.real_usd == pytest.approx(30 * 23 * 3e6)
    again = book.hours("BTC/USDT:USDT", "long", since=0, until=H)
    assert again[0][1].status == "feed_down" and math.isnan(again[0][1].top_share)
    assert book.prune(before=10 * 24 * H) == 10 * 24 * 2
    assert book.scorecard("X", "long", window_ms=H, now=now).hours == 0
