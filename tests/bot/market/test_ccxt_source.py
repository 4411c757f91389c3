"""Real ccxt against the loopback fake exchange (tests/fakes/fake_exchange.py).

Candles and funding are the recorded XRP/USDT:USDT Nov-2021 data; open interest,
long/short ratio and taker-buy volume are the fake's labelled STAND-INS derived from those
candles (tests/fakes/exchange_data.py) — the assertions compare against the same arrays.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from bot.market.ccxt_source import CcxtSource, rewrite_api_urls
from bot.market.errors import (
    ExchangeUnavailable,
    MarketTimeout,
    NotSupported,
    UnknownSymbol,
)
from bot.market.exchanges import EXCHANGES
from bot.market.retry import RetryPolicy
from tests.fakes.exchange_data import recorded_market
from tests.fakes.fake_exchange import FakeExchange, fake_exchange

__all__ = ["fake_exchange"]

KLINES = {
    "binanceusdm": "/fapi/v1/klines",
    "bybit": "/v5/market/kline",
    "okx": "/api/v5/market/history-candles",
}
Factory = Callable[..., CcxtSource]


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make_source(fake_exchange: FakeExchange, sleeps: Sleeps) -> AsyncIterator[Factory]:
    made: list[CcxtSource] = []

    def make(exchange_id: str, **kwargs: object) -> CcxtSource:
        policy = RetryPolicy(max_attempts=3, base_delay=0.01, sleep=sleeps)
        options: dict[str, object] = {
            "api_base_url": fake_exchange.url,
            "enable_rate_limit": False,
            "retry_policy": policy,
            **kwargs,
        }
        source = CcxtSource(exchange_id, **options)  # type: ignore[arg-type]
        made.append(source)
        return source

    yield make
    for source in made:
        await source.close()


def _range() -> tuple[int, int]:
    m = recorded_market("5m")
    return int(m.times[0]), int(m.times[-1]) + m.tf_ms


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit", "okx"])
async def test_pagination_returns_every_candle_exactly_once(
    exchange_id: str, make_source: Factory, fake_exchange: FakeExchange
) -> None:
    m = recorded_market("5m")
    since, until = _range()
    series = await make_source(exchange_id).fetch_series("XRP", "5m", since, until)

    np.testing.assert_array_equal(series.timestamps, m.times)
    np.testing.assert_array_equal(series.close, m.ohlcv[:, 3])
    np.testing.assert_array_equal(series.volume, m.ohlcv[:, 4])
    page = EXCHANGES[exchange_id].candles.page
    assert len(m.times) > page  # the range really crosses page boundaries
    assert fake_exchange.requests[KLINES[exchange_id]] == math.ceil(len(m.times) / page)
    # the stand-in OI and long/short ratio are stamped at each candle's close
    assert series.open_interest is not None and series.long_short_ratio is not None
    np.testing.assert_allclose(series.open_interest, m.open_interest, rtol=1e-12)
    np.testing.assert_allclose(series.long_short_ratio, m.long_short, rtol=1e-9)


async def test_binance_taker_buy_comes_from_raw_klines(make_source: Factory) -> None:
    m = recorded_market("5m")
    since, _ = _range()
    series = await make_source("binanceusdm").fetch_series("XRP", "5m", since, since + 50 * m.tf_ms)
    assert series.taker_buy_volume is not None
    np.testing.assert_allclose(series.taker_buy_volume, m.taker_buy[:50], rtol=1e-12)
    unified = await make_source("bybit").fetch_series("XRP", "5m", since, since + 50 * m.tf_ms)
    assert unified.taker_buy_volume is None


async def test_funding_is_forward_filled_and_nan_before_the_first_settlement(
    make_source: Factory,
) -> None:
    m = recorded_market("5m")
    since, until = _range()
    series = await make_source("okx").fetch_series("XRP", "5m", since, until)
    assert series.funding_rate is not None
    first = m.funding_times[0] // 60_000 * 60_000
    before = series.timestamps < first
    assert before.any() and np.isnan(series.funding_rate[before]).all()
    at = int(np.searchsorted(series.timestamps, first))
    assert series.funding_rate[at] == m.funding_rates[0]
    assert series.funding_rate[at + 95] == m.funding_rates[0]  # 8 h = 96 candles
    assert series.funding_rate[at + 96] == m.funding_rates[1]


@pytest.mark.parametrize(
    ("kind", "expected_sleep"),
    [("429", 0.25), ("500", None), ("timeout", None), ("malformed", None)],
)
async def test_a_fault_is_retried_then_succeeds(
    kind: str,
    expected_sleep: float | None,
    make_source: Factory,
    fake_exchange: FakeExchange,
    sleeps: Sleeps,
) -> None:
    fake_exchange.timeout_sleep = 0.4
    source = make_source("binanceusdm", timeout_ms=150)
    await source.load()
    fake_exchange.fail("/fapi/v1/klines", kind, retry_after=0.25 if kind == "429" else None)
    since, _ = _range()
    series = await source.fetch_series("XRP", "5m", since, since + 20 * 300_000)
    assert len(series) == 20
    assert fake_exchange.requests["/fapi/v1/klines"] == 2
    assert len(sleeps) == 1
    if expected_sleep is not None:
        assert sleeps[0] == expected_sleep


async def test_persistent_5xx_ends_in_a_clear_error(
    make_source: Factory, fake_exchange: FakeExchange, sleeps: Sleeps
) -> None:
    source = make_source("bybit")
    await source.load()
    fake_exchange.fail("/v5/market/kline", "500", times=10)
    with pytest.raises(ExchangeUnavailable, match="bybit ohlcv"):
        await source.fetch_series("XRP", "5m", *_range())
    assert fake_exchange.requests["/v5/market/kline"] == 3  # max_attempts
    assert len(sleeps) == 2


async def test_persistent_timeout_ends_in_a_timeout_error(
    make_source: Factory, fake_exchange: FakeExchange
) -> None:
    fake_exchange.timeout_sleep = 0.3
    source = make_source("okx", timeout_ms=100)
    await source.load()
    fake_exchange.fail("/api/v5/market/books", "timeout", times=3)
    with pytest.raises(MarketTimeout):
        await source.fetch_book("XRP")


async def test_an_empty_page_ends_the_walk_without_hanging(
    make_source: Factory, fake_exchange: FakeExchange
) -> None:
    m = recorded_market("5m")
    fake_exchange.fail("/fapi/v1/klines", "empty", after=1)
    series = await make_source("binanceusdm").fetch_series("XRP", "5m", *_range())
    np.testing.assert_array_equal(series.timestamps, m.times[:1000])  # the first page only
    assert fake_exchange.requests["/fapi/v1/klines"] == 2


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit", "okx"])
async def test_a_gap_is_marked_not_invented(
    exchange_id: str, make_source: Factory, fake_exchange: FakeExchange
) -> None:
    m = recorded_market("5m")
    gap = (int(m.times[990]), int(m.times[1010]))  # straddles a Binance page boundary
    fake_exchange.gap = gap
    series = await make_source(exchange_id).fetch_series("XRP", "5m", *_range())
    expected = m.times[(m.times < gap[0]) | (m.times >= gap[1])]
    np.testing.assert_array_equal(series.timestamps, expected)
    assert len(np.unique(series.timestamps)) == len(series)


async def test_missing_open_interest_is_nan_never_invented(
    make_source: Factory, fake_exchange: FakeExchange
) -> None:
    m = recorded_market("5m")
    fake_exchange.fail("/futures/data/openInterestHist", "empty", after=1)  # 2nd page
    series = await make_source("binanceusdm").fetch_series("XRP", "5m", *_range())
    assert series.open_interest is not None
    np.testing.assert_allclose(series.open_interest[:500], m.open_interest[:500], rtol=1e-12)
    assert np.isnan(series.open_interest[500:1000]).all()  # the empty page stays a hole
    # … and the walk goes on past it: later pages are still read
    known = ~np.isnan(m.open_interest[1000:])
    np.testing.assert_allclose(
        series.open_interest[1000:][known], m.open_interest[1000:][known], rtol=1e-12
    )
    assert len(series) == len(m.times)


async def test_unknown_symbol_suggests_the_close_match(make_source: Factory) -> None:
    source = make_source("binanceusdm")
    await source.load()
    with pytest.raises(UnknownSymbol) as info:
        await source.fetch_series("BTCC", "5m", 0, 1)
    assert info.value.suggestions[0] == "BTC"
    assert "did you mean BTC" in str(info.value)
    assert source.resolve("btcusdt") == "BTC/USDT:USDT"


async def test_book_sizes_are_in_base_units_on_every_exchange(make_source: Factory) -> None:
    books = [await make_source(x).fetch_book("XRP", 50) for x in ("binanceusdm", "bybit", "okx")]
    assert all(b is not None for b in books)
    first = books[0]
    assert first is not None and len(first.bid_prices) == 50
    for book in books[1:]:
        assert book is not None
        np.testing.assert_allclose(book.bid_sizes, first.bid_sizes, rtol=1e-12)  # OKX ×ctVal
        np.testing.assert_array_equal(book.ask_prices, first.ask_prices)


async def test_brackets_public_only_where_the_exchange_publishes_them(
    make_source: Factory,
) -> None:
    assert await make_source("binanceusdm").fetch_brackets("XRP") is None
    bybit = await make_source("bybit").fetch_brackets("XRP")
    assert bybit is not None and bybit.mmr[0] == pytest.approx(0.004)
    assert len(await make_source("okx").fetch_prints("XRP", 0)) == 0


async def test_unsupported_timeframe_is_a_permanent_error(make_source: Factory) -> None:
    with pytest.raises(NotSupported, match="7m"):
        await make_source("okx").fetch_series("XRP", "7m", 0, 1)


def test_rewrite_api_urls_keeps_paths_and_placeholders_hosts() -> None:
    api = {"fapiPublic": "https://fapi.binance.com/fapi/v1", "rest": "https://{hostname}"}
    out = rewrite_api_urls(api, "http://127.0.0.1:9/")
    assert out == {"fapiPublic": "http://127.0.0.1:9/fapi/v1", "rest": "http://127.0.0.1:9"}
