"""The simulated market behind the port."""

from __future__ import annotations

import numpy as np
import pytest

from bot.market.errors import UnknownSymbol
from bot.market.port import MarketSource
from bot.market.sim_source import SimSource
from core.brackets import DEFAULT_BTCUSDT_BRACKETS


@pytest.fixture(scope="module")
def sim() -> SimSource:
    return SimSource(candles=600)


async def test_symbols_start_near_their_reference_prices(sim: SimSource) -> None:
    assert isinstance(sim, MarketSource)
    assert sim.symbols() == ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]
    for query, price in (("btc", 90_000), ("ETHUSDT", 3_000), ("SOL/USDT", 200)):
        snap = await sim.snapshot(query)
        assert snap.series.open[0] == pytest.approx(price, rel=0.05)


async def test_series_windows_come_from_one_cached_run(sim: SimSource) -> None:
    whole = (await sim.snapshot("BTC")).series
    assert await sim.snapshot("BTC") is await sim.snapshot("BTC/USDT:USDT")
    ts = whole.timestamps
    window = await sim.fetch_series("BTC", "5m", int(ts[100]), int(ts[200]))
    np.testing.assert_array_equal(window.timestamps, ts[100:200])
    np.testing.assert_array_equal(window.close, whole.close[100:200])
    assert window.open_interest is not None and window.taker_buy_volume is not None
    tail = await sim.fetch_series("BTC", "5m", int(ts[-5]) + 1)
    np.testing.assert_array_equal(tail.timestamps, ts[-4:])


async def test_book_prints_and_brackets(sim: SimSource) -> None:
    book = await sim.fetch_book("ETH", limit=10)
    assert book is not None and len(book.bid_prices) <= 10 and book.mid > 0
    prints = (await sim.snapshot("ETH")).prints
    if len(prints):
        cut = int(prints.times[len(prints) // 2])
        later = await sim.fetch_prints("ETH", cut)
        assert len(later) == int((prints.times >= cut).sum())
    assert await sim.fetch_brackets("SOL") is DEFAULT_BTCUSDT_BRACKETS
    with pytest.raises(UnknownSymbol):
        await sim.fetch_series("DOGE", "5m", 0)
