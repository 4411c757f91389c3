"""The analysis pipeline on a small synthetic market.

The stand-in market (built here, not recorded): 288 five-minute candles drifting up
from 100 with small noise, open interest rising every candle and 75 % of the volume
bought by takers — new positions are mostly longs, so long liquidations stack below
price. Assertions are about structure and invariants, not calibrated numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.analysis import AnalysisParams, analyze
from core.brackets import DEFAULT_BTCUSDT_BRACKETS, Brackets
from core.levels import EngineParams, run_engine
from core.models import FloatArray, MarketSeries, ModelError, OrderBook, Side, Snapshot
from core.results import Analysis

N = 288


def _series(scale: float = 1.0, n: int = N, seed: int = 5) -> MarketSeries:
    rng = np.random.default_rng(seed)
    close = scale * 100.0 * np.exp(np.cumsum(0.0004 + 0.002 * rng.standard_normal(n)))
    open_ = np.concatenate(([close[0]], close[:-1]))
    wick = scale * 0.1 * rng.random(n)
    volume = np.full(n, 1_000.0)
    return MarketSeries(
        timestamps=np.arange(n, dtype=np.int64) * 300_000 + 1_700_000_000_000,
        open=open_,
        high=np.maximum(open_, close) + wick,
        low=np.minimum(open_, close) - wick,
        close=close,
        volume=volume,
        taker_buy_volume=0.75 * volume,
        open_interest=np.linspace(10_000.0, 20_000.0, n),
    )


def _snapshot(exchange: str = "binanceusdm", **kw: object) -> Snapshot:
    fields: dict[str, object] = {
        "exchange": exchange,
        "symbol": "BTC/USDT:USDT",
        "timeframe": "5m",
        "series": _series(),
        "fetched_at": 0,
    }
    fields.update(kw)
    return Snapshot(**fields)  # type: ignore[arg-type]


FAST = AnalysisParams(bins=200, columns=60)


@pytest.fixture(scope="module")
def single() -> Analysis:
    return analyze([_snapshot()], FAST)


def test_single_venue_structure(single: Analysis) -> None:
    a = single
    series = _series()
    assert (a.symbol, a.exchanges, a.exchange_label, a.timeframe) == (
        "BTC/USDT:USDT",
        ("binanceusdm",),
        "binanceusdm",
        "5m",
    )
    assert a.as_of == int(series.timestamps[-1])
    assert a.price == pytest.approx(series.last_price)
    assert np.array_equal(a.candle_close, series.close)
    assert len(a.candle_times) == len(a.candle_open) == len(a.candle_high) == N
    assert a.heatmap.long.shape == (60, 200)
    assert a.map.grid is a.heatmap.grid
    assert np.array_equal(a.realized.timestamps, series.timestamps)
    assert not a.map.is_empty


def test_taker_buying_stacks_longs_below(single: Analysis) -> None:
    imb = single.imbalance
    assert imb.window == FAST.window
    assert imb.long_below > imb.short_above
    assert imb.heavy_side is Side.LONG
    assert single.clusters, "a rising, long-heavy market has long clusters below"
    assert len(single.clusters) <= FAST.top_clusters
    for c in single.clusters:
        assert (c.price < single.price) if c.side is Side.LONG else (c.price >= single.price)
    notionals = [c.notional for c in single.clusters]
    assert notionals == sorted(notionals, reverse=True)
    assert any(z.side is Side.LONG for z in single.zones)


def test_cascades_go_both_ways(single: Analysis) -> None:
    up, down = single.cascade_up, single.cascade_down
    assert up is not None and down is not None
    assert (up.direction, down.direction) == (1, -1)
    assert up.push_price > single.price > down.push_price
    assert down.final_price <= down.push_price
    assert up.final_price >= up.push_price
    assert down.depth_source == up.depth_source == "model"  # no book fetched
    longs = [c.price for c in single.clusters if c.side is Side.LONG]
    near = [p for p in longs if p >= single.price * (1 - FAST.window)]
    expected = max(near) if near else single.price * 0.98
    assert down.push_price == pytest.approx(expected)
    no_cascade = analyze([_snapshot()], AnalysisParams(bins=100, columns=10, cascade=False))
    assert no_cascade.cascade_up is None and no_cascade.cascade_down is None


def test_book_depth_is_used_when_fetched() -> None:
    mid = _series().last_price
    steps: FloatArray = 1.0 + np.arange(1, 201, dtype=np.float64) / 1000  # 0.1 % apart, to 20 %
    book = OrderBook(
        timestamp=0,
        bid_prices=mid * (2.0 - steps),
        bid_sizes=np.full(200, 1e9),  # absurdly deep: the forced flow barely moves price
        ask_prices=mid * steps,
        ask_sizes=np.full(200, 1e9),
    )
    a = analyze([_snapshot(book=book)], FAST)
    assert a.cascade_down is not None
    assert a.cascade_down.depth_source == "book"
    assert a.cascade_down.final_price == pytest.approx(a.cascade_down.push_price, rel=1e-4)


def test_two_venues_sum_on_one_grid() -> None:
    binance = _snapshot()
    bybit = _snapshot("bybit", series=_series(scale=1.001, n=N - 20, seed=6))
    a = analyze([bybit, binance], FAST)
    assert a.exchanges == ("bybit", "binanceusdm")
    assert a.exchange_label == "aggregated"
    # the venue with more candles is primary: its candles are drawn
    assert np.array_equal(a.candle_close, binance.series.close)
    assert a.price == pytest.approx(np.median([binance.series.last_price, bybit.series.last_price]))
    singles = [run_engine(s.series, a.map.grid, FAST.engine).map for s in (binance, bybit)]
    assert a.map.long.sum() == pytest.approx(sum(m.long.sum() for m in singles), rel=1e-9)
    assert a.map.short.sum() == pytest.approx(sum(m.short.sum() for m in singles), rel=1e-9)
    assert a.as_of == int(binance.series.timestamps[-1])


def _scaled_brackets(factor: float) -> Brackets:
    """The BTCUSDT table with every maintenance-margin rate and amount ``factor`` × higher."""
    b = DEFAULT_BTCUSDT_BRACKETS
    return Brackets(
        b.floors, b.caps, np.minimum(b.mmr * factor, 0.9), b.cum * factor, b.max_leverage
    )


def test_each_venue_is_estimated_with_its_own_brackets() -> None:
    binance = _snapshot()
    bybit = _snapshot("bybit", series=_series(scale=1.001, n=N - 20, seed=6))
    okx = _snapshot("okx", series=_series(scale=0.999, n=N - 40, seed=7))
    own = {"bybit": _scaled_brackets(10.0), "binanceusdm": _scaled_brackets(3.0)}
    a = analyze([binance, bybit, okx], FAST, brackets=own)
    grid = a.map.grid

    def venue_map(s: Snapshot, engine: EngineParams) -> tuple[FloatArray, FloatArray]:
        m = run_engine(s.series, grid, engine, columns=FAST.columns).map
        return m.long, m.short

    expected = [
        venue_map(binance, EngineParams(brackets=own["binanceusdm"])),
        venue_map(bybit, EngineParams(brackets=own["bybit"])),
        venue_map(okx, FAST.engine),  # no entry: the default table
    ]
    np.testing.assert_allclose(a.map.long, sum(e[0] for e in expected), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(a.map.short, sum(e[1] for e in expected), rtol=1e-12, atol=1e-9)
    # the brackets really mattered: the default everywhere gives another map
    default = analyze([binance, bybit, okx], FAST)
    assert np.array_equal(default.map.grid.edges, grid.edges)
    assert not np.allclose(default.map.long, a.map.long)
    # entries for venues not analysed, or none at all, leave the default in place
    unrelated = analyze([binance, bybit, okx], FAST, brackets={"kraken": own["bybit"]})
    assert np.array_equal(unrelated.map.long, default.map.long)
    assert np.array_equal(analyze([okx], FAST, brackets={}).map.long, analyze([okx], FAST).map.long)


def test_mismatched_snapshots_raise() -> None:
    with pytest.raises(ModelError, match="symbol"):
        analyze([_snapshot(), _snapshot("okx", symbol="ETH/USDT:USDT")], FAST)
    with pytest.raises(ModelError, match="timeframe"):
        analyze([_snapshot(), _snapshot("okx", timeframe="1h")], FAST)
    with pytest.raises(ModelError):
        analyze([], FAST)
    with pytest.raises(ModelError):
        AnalysisParams(window=0.0)
