"""Replay of the recorded data in ../shared/data, and its equality with the ccxt source."""

from __future__ import annotations

import numpy as np
import pytest

from bot.market.ccxt_source import CcxtSource
from bot.market.errors import NotSupported, UnknownSymbol
from bot.market.replay_source import ReplaySource, replay_file_symbol
from tests.fakes.exchange_data import DATA_DIR, XRP_DIR, data_available, recorded_market
from tests.fakes.fake_exchange import FakeExchange, fake_exchange

__all__ = ["fake_exchange"]

needs_data = pytest.mark.skipif(
    not data_available(), reason="recorded exchange data not found at ../shared/data"
)


def test_file_names_map_to_unified_symbols() -> None:
    assert replay_file_symbol("XRP_USDT_USDT-5m-futures.json") == "XRP/USDT:USDT"
    assert replay_file_symbol("XRP_USDT_USDT-8h-funding_rate.json") == "XRP/USDT:USDT"
    assert replay_file_symbol("depth-BTCUSDT-limit1000-2024-08-08.json") == "BTC/USDT:USDT"
    assert replay_file_symbol("exchangeInfo.json") is None


@needs_data
async def test_replay_serves_the_recorded_files() -> None:
    source = ReplaySource(DATA_DIR)
    await source.load()
    assert {"XRP/USDT:USDT", "BTC/USDT:USDT"} <= set(source.symbols())
    m = recorded_market("5m")
    series = await source.fetch_series("xrp", "5m", int(m.times[10]), int(m.times[20]))
    np.testing.assert_array_equal(series.timestamps, m.times[10:20])
    assert series.taker_buy_volume is None
    assert series.open_interest is not None and np.isnan(series.open_interest).all()
    book = await source.fetch_book("BTC", 100)
    assert book is not None and len(book.bid_prices) == 100 and book.mid > 0
    brackets = await source.fetch_brackets("BTC")
    assert brackets is not None and brackets.mmr[0] == pytest.approx(0.004)
    assert len(await source.fetch_prints("XRP", 0)) == 0
    with pytest.raises(NotSupported):
        await source.fetch_series("XRP", "15m", 0)
    with pytest.raises(UnknownSymbol):
        source.resolve("DOGE")


@needs_data
@pytest.mark.parametrize("exchange_id", ["binanceusdm", "okx"])
async def test_replay_and_ccxt_give_equal_series_for_the_same_data(
    exchange_id: str, fake_exchange: FakeExchange
) -> None:
    """The fake serves the replay folder's candles and funding; both sources must agree."""
    replay = ReplaySource(DATA_DIR / XRP_DIR)
    live = CcxtSource(exchange_id, api_base_url=fake_exchange.url, enable_rate_limit=False)
    try:
        m = recorded_market("5m")
        since, until = int(m.times[0]), int(m.times[-1]) + m.tf_ms
        a = await replay.fetch_series("XRP", "5m", since, until)
        b = await live.fetch_series("XRP", "5m", since, until)
    finally:
        await live.close()
    for name in ("timestamps", "open", "high", "low", "close", "volume", "funding_rate"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.funding_rate is not None and np.isfinite(a.funding_rate).any()
