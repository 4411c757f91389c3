"""Validation of the frozen market-data types: each bad input names its field."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.models import (
    LiquidationPrints,
    MarketSeries,
    ModelError,
    OrderBook,
    Side,
    Snapshot,
    timeframe_ms,
)


def _series(n: int = 4, **over: object) -> MarketSeries:
    ts = np.arange(n, dtype=np.int64) * 300_000
    close = 100.0 + np.arange(n, dtype=np.float64)
    fields: dict[str, object] = {
        "timestamps": ts,
        "open": close - 0.5,
        "high": close + 1.0,
        "low": close - 1.0,
        "close": close,
        "volume": np.full(n, 10.0),
        "taker_buy_volume": np.full(n, 4.0),
        "open_interest": np.full(n, 1_000.0),
    }
    fields.update(over)
    return MarketSeries(**fields)  # type: ignore[arg-type]


def test_valid_series_is_frozen_and_read_only() -> None:
    s = _series()
    assert len(s) == 4
    assert s.last_price == 103.0
    np.testing.assert_allclose(s.typical_price, (s.high + s.low + s.close) / 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.close = s.open  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        s.close[0] = 1.0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"timestamps": np.array([0, 300_000, 300_000, 900_000])}, "timestamps: must be strictly"),
        ({"close": np.array([100.0, np.nan, 102.0, 103.0])}, "close: value at index 1"),
        ({"volume": np.array([1.0, 2.0, 3.0])}, "volume: length 3 does not match"),
        ({"volume": np.array([1.0, -2.0, 3.0, 4.0])}, "volume: value at index 1 is negative"),
        ({"taker_buy_volume": np.full(4, 11.0)}, "taker_buy_volume: exceeds volume"),
        ({"open_interest": np.array([1.0, np.inf, 1.0, 1.0])}, "open_interest: value at index 1"),
        ({"open_interest": np.array([1.0, -1.0, 1.0, 1.0])}, "open_interest: value at index 1"),
        ({"high": np.array([100.0, 101.0, 102.0, 102.5])}, "high/low: candle 3"),
        ({"low": np.zeros(4)}, "low: value at index 0 must be > 0"),
    ],
)
def test_series_rejects_bad_field(override: dict[str, object], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        _series(**override)


def test_open_interest_gap_is_nan_not_error() -> None:
    s = _series(open_interest=np.array([1.0, np.nan, 2.0, 3.0]))
    assert s.open_interest is not None
    assert np.isnan(s.open_interest[1])


def test_slice_keeps_optional_fields() -> None:
    s = _series(6).slice(2, 5)
    assert len(s) == 3
    assert s.open_interest is not None and len(s.open_interest) == 3
    assert s.funding_rate is None


def test_order_book_ordering_and_cross() -> None:
    book = OrderBook(0, np.array([99.0, 98.0]), np.array([1.0, 2.0]), np.array([101.0]), [3.0])
    assert book.mid == 100.0
    with pytest.raises(ModelError, match="bid_prices"):
        OrderBook(0, np.array([98.0, 99.0]), np.ones(2), np.array([101.0]), np.ones(1))
    with pytest.raises(ModelError, match="best bid"):
        OrderBook(0, np.array([101.0]), np.ones(1), np.array([100.0]), np.ones(1))
    with pytest.raises(ModelError, match="ask_sizes: length"):
        OrderBook(0, np.array([99.0]), np.ones(1), np.array([101.0]), np.ones(2))


def test_prints_per_candle_sums_by_side() -> None:
    prints = LiquidationPrints(
        times=np.array([0, 10, 300_000, 650_000, 2_000_000]),
        sides=np.array([Side.LONG, Side.SHORT, Side.LONG, Side.SHORT, Side.LONG]),
        prices=np.full(5, 100.0),
        notionals=np.array([1.0, 2.0, 4.0, 8.0, 16.0]),
    )
    ts = np.array([0, 300_000, 600_000], dtype=np.int64)
    longs, shorts = prints.per_candle(ts, 300_000)
    np.testing.assert_array_equal(longs, [1.0, 4.0, 0.0])
    np.testing.assert_array_equal(shorts, [2.0, 0.0, 8.0])  # 2_000_000 is past the last candle


def test_prints_reject_unknown_side() -> None:
    with pytest.raises(ModelError, match="sides: value at index 0 is 0"):
        LiquidationPrints(np.array([0]), np.array([0]), np.array([1.0]), np.array([1.0]))


def test_snapshot_and_timeframes() -> None:
    snap = Snapshot("sim", "BTC/USDT:USDT", "5m", _series(), fetched_at=1)
    assert snap.last_candle_at == 900_000
    assert len(snap.prints) == 0
    assert timeframe_ms("1h") == 3_600_000
    with pytest.raises(ModelError, match="timeframe '7m' is not supported; use one of 1m"):
        Snapshot("sim", "BTC/USDT:USDT", "7m", _series(), fetched_at=1)


def test_merged_prints_are_in_time_order_and_ties_keep_the_feeds_order() -> None:
    def prints(times: list[int], price: float) -> LiquidationPrints:
        n = len(times)
        return LiquidationPrints(
            np.array(times, np.int64), np.ones(n, np.int8), np.full(n, price), np.arange(n) + 1.0
        )

    a, b = prints([10, 30, 30], 1.0), prints([20, 30], 2.0)
    merged = LiquidationPrints.merged([a, LiquidationPrints.empty(), b])
    assert merged.times.tolist() == [10, 20, 30, 30, 30]
    assert merged.prices.tolist() == [1.0, 2.0, 1.0, 1.0, 2.0]
    assert merged.notionals.tolist() == [1.0, 1.0, 2.0, 3.0, 2.0]
    assert LiquidationPrints.merged([a]) is a
    assert len(LiquidationPrints.merged([])) == 0
    assert len(LiquidationPrints.merged([LiquidationPrints.empty()] * 2)) == 0
