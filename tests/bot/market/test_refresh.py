"""Incremental refresh against the fake exchange and the real SQLite store.

Candles are the recorded XRP 5m data; OI and long/short are the fake's STAND-INS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from bot.market.ccxt_source import CcxtSource
from bot.market.refresh import refresh_series
from bot.state.store import Store
from tests.fakes.exchange_data import recorded_market
from tests.fakes.fake_exchange import FakeExchange, fake_exchange

__all__ = ["fake_exchange"]

KLINES = "/fapi/v1/klines"


@pytest.fixture
async def source(fake_exchange: FakeExchange) -> AsyncIterator[CcxtSource]:
    src = CcxtSource("binanceusdm", api_base_url=fake_exchange.url, enable_rate_limit=False)
    yield src
    await src.close()


async def test_second_refresh_asks_only_for_new_candles(
    source: CcxtSource, fake_exchange: FakeExchange, tmp_path: Path
) -> None:
    m = recorded_market("5m")
    tf = m.tf_ms
    lookback = 1200 * tf
    with Store(tmp_path / "cache.sqlite") as store:
        first_now = int(m.times[1500])
        first = await refresh_series(source, store, "xrp", "5m", lookback, first_now)
        assert not first.incremental
        assert first.fetched == 1201 and first.last_candle_at == first_now
        first_klines = fake_exchange.requests[KLINES]
        assert first_klines == 2  # 1201 candles / 1000 per page

        fake_exchange.requests.clear()
        fake_exchange.log.clear()
        second_now = int(m.times[1510])
        second = await refresh_series(source, store, "XRP/USDT:USDT", "5m", lookback, second_now)
        assert second.incremental
        assert second.since == first_now  # the possibly-forming last candle is fetched again
        assert second.fetched == 11
        assert fake_exchange.requests[KLINES] == 1
        assert fake_exchange.requests["/fapi/v1/exchangeInfo"] == 0  # markets stay loaded
        klines = [q for path, q in fake_exchange.log if path == KLINES]
        assert int(klines[0]["startTime"]) == first_now

        cached = store.load_series("binanceusdm", "XRP/USDT:USDT", "5m")
        assert cached is not None
        np.testing.assert_array_equal(cached.timestamps, m.times[300:1511])
        np.testing.assert_array_equal(cached.close, m.ohlcv[300:1511, 3])


async def test_refresh_resumes_after_an_empty_page(
    source: CcxtSource, fake_exchange: FakeExchange, tmp_path: Path
) -> None:
    m = recorded_market("5m")
    now = int(m.times[1998])
    with Store(tmp_path / "cache.sqlite") as store:
        fake_exchange.fail(KLINES, "empty", after=1)
        first = await refresh_series(source, store, "XRP", "5m", 1998 * m.tf_ms, now)
        assert first.fetched == 1000  # stopped at the empty page
        second = await refresh_series(source, store, "XRP", "5m", 1998 * m.tf_ms, now)
        assert second.since == int(m.times[999])
        cached = store.load_series("binanceusdm", "XRP/USDT:USDT", "5m")
        assert cached is not None
        np.testing.assert_array_equal(cached.timestamps, m.times)
