"""Unit tests of the liquidation-level engine: formula results, conservation, columns,
side split, the default grid and input validation."""

from __future__ import annotations

import numpy as np
import pytest

from core.brackets import liquidation_price
from core.levels import (
    CANDLE_LONG_SHARE,
    EngineParams,
    LeverageTiers,
    default_grid,
    keep_factors,
    liquidation_map_at,
    long_shares,
    open_interest_change,
    run_engine,
)
from core.models import MarketSeries, ModelError
from core.reference import reference_engine
from core.results import PriceGrid

ONLY_100X = EngineParams(tiers=LeverageTiers((100.0,), (1.0,)))


def _series(
    close: list[float],
    *,
    oi: list[float] | None,
    high: list[float] | None = None,
    low: list[float] | None = None,
    open_: list[float] | None = None,
    volume: list[float] | None = None,
    taker: list[float] | None = None,
    ratio: list[float] | None = None,
) -> MarketSeries:
    c = np.asarray(close, dtype=np.float64)
    n = len(c)
    o = np.asarray(open_, dtype=np.float64) if open_ is not None else c.copy()
    return MarketSeries(
        timestamps=1_000 + np.arange(n, dtype=np.int64) * 300_000,
        open=o,
        high=np.asarray(high, dtype=np.float64) if high is not None else np.maximum(o, c),
        low=np.asarray(low, dtype=np.float64) if low is not None else np.minimum(o, c),
        close=c,
        volume=np.asarray(volume, dtype=np.float64) if volume is not None else np.full(n, 10.0),
        taker_buy_volume=np.asarray(taker, dtype=np.float64) if taker is not None else None,
        open_interest=np.asarray(oi, dtype=np.float64) if oi is not None else None,
        long_short_ratio=np.asarray(ratio, dtype=np.float64) if ratio is not None else None,
    )


def _random_market(n: int, seed: int) -> MarketSeries:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]]
    oi = 1_000.0 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    oi[rng.integers(0, n, 3)] = np.nan
    volume = rng.uniform(1, 50, n)
    return MarketSeries(
        timestamps=np.arange(n, dtype=np.int64) * 300_000,
        open=open_,
        high=np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n)),
        low=np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n)),
        close=close,
        volume=volume,
        taker_buy_volume=volume * rng.uniform(0, 1, n),
        open_interest=oi,
    )


# -- formula -------------------------------------------------------------------------


def test_100x_long_opened_at_100_sits_at_99_398() -> None:
    series = _series([100.0, 100.0], oi=[0.0, 10.0], taker=[5.0, 7.0])
    grid = PriceGrid.around(90.0, 110.0, 2_000, log=False)  # 0.01-wide bins
    out = run_engine(series, grid, ONLY_100X)
    expected_price = 100.0 * (1 - 1 / 100) / (1 - 0.004)  # tier 1: mmr 0.4 %, cum 0
    assert expected_price == pytest.approx(99.398, abs=5e-4)
    (long_bin,) = np.flatnonzero(out.map.long)
    assert grid.edges[long_bin] <= expected_price < grid.edges[long_bin + 1]
    assert out.map.long[long_bin] == pytest.approx(10.0 * 100.0 * 0.7)  # ΔOI·price·taker share
    short_price = 100.0 * (1 + 1 / 100) / (1 + 0.004)
    (short_bin,) = np.flatnonzero(out.map.short)
    assert grid.edges[short_bin] <= short_price < grid.edges[short_bin + 1]
    assert out.map.short[short_bin] == pytest.approx(10.0 * 100.0 * 0.3)


def test_touch_consumes_at_the_formula_price_and_not_a_cent_above() -> None:
    level = float(liquidation_price(100.0, 100.0, 1, 10_000.0))
    just_above = np.nextafter(level, np.inf)
    for low, liquidated in ((level, True), (just_above, False)):
        series = _series(
            [100.0, 100.0, 100.0], oi=[0.0, 10.0, 10.0], low=[100.0, 100.0, low], taker=[5, 5, 5]
        )
        out = run_engine(series, default_grid(series), ONLY_100X)
        assert bool(out.realized.long[2] > 0) is liquidated
        assert out.realized.long[2] == pytest.approx(500.0 if liquidated else 0.0)


def test_default_tiers_spread_notional_by_weight() -> None:
    series = _series([100.0, 100.0], oi=[0.0, 1.0], taker=[5.0, 5.0])
    out = run_engine(series, default_grid(series, bins=4_000))
    prices = liquidation_price(100.0, np.array([5.0, 10.0, 25.0, 50.0, 100.0]), 1, 10_000.0)
    bins = default_grid(series, bins=4_000).index(prices)
    np.testing.assert_allclose(out.map.long[bins], 100.0 * 0.5 * np.array(LeverageTiers().weights))


# -- open interest: change, closes, conservation -------------------------------------


def test_open_interest_change_and_keep_factors() -> None:
    nan = float("nan")
    series = _series([1.0] * 6, oi=[10.0, 12.0, 9.0, nan, 4.0, 0.0])
    np.testing.assert_array_equal(open_interest_change(series), [0.0, 2.0, -3.0, 0.0, 0.0, -4.0])
    np.testing.assert_allclose(keep_factors(series), [1.0, 1.0, 0.75, 1.0, 1.0, 0.0])
    no_oi = _series([1.0] * 3, oi=None)
    np.testing.assert_array_equal(open_interest_change(no_oi), np.zeros(3))
    assert run_engine(no_oi, default_grid(no_oi)).map.is_empty


def test_proportional_close_shrinks_every_level_by_the_oi_share() -> None:
    series = _series([100.0, 100.0, 100.0], oi=[0.0, 10.0, 6.0], taker=[5, 5, 5])
    out = run_engine(series, default_grid(series))
    total = out.map.long.sum() + out.map.short.sum()
    assert total == pytest.approx(10.0 * 100.0 * 0.6)


def test_conservation_opened_equals_active_plus_realised_plus_closed() -> None:
    series = _random_market(300, seed=11)
    grid = default_grid(series)  # span 0.25 holds every default-tier level
    out = run_engine(series, grid, columns=50)
    _, ledger = reference_engine(series, grid, columns=50)
    oi = series.open_interest
    assert oi is not None
    rises = np.nan_to_num(np.diff(oi), nan=0.0).clip(min=0)
    opened = float((rises * series.typical_price[1:]).sum())
    active = float(out.map.long.sum() + out.map.short.sum())
    realised = float(out.realized.long.sum() + out.realized.short.sum())
    closed = sum(ledger.closed)
    assert realised > 0 and closed > 0 and active > 0
    assert active + realised + closed == pytest.approx(opened, rel=1e-10)


# -- heatmap columns -----------------------------------------------------------------


def test_columns_are_means_of_per_candle_snapshots() -> None:
    series = _random_market(23, seed=5)
    grid = default_grid(series, bins=30)
    per_candle = run_engine(series, grid, columns=10_000)
    assert per_candle.heatmap.long.shape == (23, 30)  # min(columns, candles)
    np.testing.assert_allclose(
        per_candle.heatmap.long[-1], per_candle.map.long, rtol=1e-12, atol=1e-9
    )
    out = run_engine(series, grid, columns=5)
    starts = np.searchsorted(series.timestamps, out.heatmap.column_times)
    edges = np.r_[starts, len(series)]
    sizes = np.diff(edges)
    assert starts[0] == 0 and len(sizes) == 5
    assert sizes.min() >= 1 and sizes.max() - sizes.min() <= 1
    for c in range(5):
        rows = slice(edges[c], edges[c + 1])
        np.testing.assert_allclose(out.heatmap.long[c], per_candle.heatmap.long[rows].mean(0))
        np.testing.assert_allclose(out.heatmap.short[c], per_candle.heatmap.short[rows].mean(0))


def test_levels_outside_the_grid_are_tracked_but_not_drawn() -> None:
    series = _random_market(120, seed=2)
    wide = run_engine(series, default_grid(series, bins=50), columns=12)
    narrow_grid = PriceGrid.around(float(series.close[0]) * 0.995, float(series.close[0]), 5)
    narrow = run_engine(series, narrow_grid, columns=12)
    np.testing.assert_allclose(narrow.realized.long, wide.realized.long)
    np.testing.assert_allclose(narrow.realized.short, wide.realized.short)
    assert narrow.map.long.sum() < wide.map.long.sum()


def test_map_at_last_index_is_the_engine_map() -> None:
    series = _random_market(80, seed=9)
    grid = default_grid(series, bins=60)
    out = run_engine(series, grid)
    at = liquidation_map_at(series, grid, -1)
    np.testing.assert_allclose(at.long, out.map.long)
    np.testing.assert_allclose(at.short, out.map.short)
    mid = liquidation_map_at(series, grid, 40)
    assert mid.time == series.timestamps[40]
    assert mid.price == series.close[40]


# -- side split ----------------------------------------------------------------------


def test_long_share_modes_and_fallbacks() -> None:
    nan = float("nan")
    series = _series(
        [101.0, 99.0, 100.0, 100.0],
        open_=[100.0, 100.0, 100.0, 100.0],
        oi=[1.0] * 4,
        volume=[10.0, 0.0, 10.0, 10.0],
        taker=[8.0, 0.0, 2.0, 5.0],
        ratio=[3.0, nan, 1.0, nan],
    )
    up, down, flat = CANDLE_LONG_SHARE
    np.testing.assert_allclose(long_shares(series, "candle"), [up, down, flat, flat])
    np.testing.assert_allclose(long_shares(series, "taker"), [0.8, down, 0.2, 0.5])
    np.testing.assert_allclose(long_shares(series, "ratio"), [0.75, down, 0.5, 0.5])
    no_taker = _series([101.0, 99.0], open_=[100.0, 100.0], oi=[1.0, 1.0])
    np.testing.assert_allclose(long_shares(no_taker, "taker"), [up, down])


def test_flow_split_reads_net_taker_flow_against_oi_growth() -> None:
    # OI grows by 4, 4, 4 then falls; volume 10 each with taker buys 7, 3, 9.5, 7:
    # net flow +4 → all of the +4 OI is long; −4 → all short; +9 → clipped to all long;
    # a falling candle opens nothing, so its share falls back to the taker share.
    series = _series(
        [100.0] * 5,
        open_=[100.0] * 5,
        oi=[10.0, 14.0, 18.0, 22.0, 20.0],
        volume=[10.0] * 5,
        taker=[5.0, 7.0, 3.0, 9.5, 7.0],
    )
    np.testing.assert_allclose(long_shares(series, "flow"), [0.5, 1.0, 0.0, 1.0, 0.7])
    balanced = _series(
        [100.0] * 3,
        open_=[100.0] * 3,
        oi=[10.0, 12.0, 14.0],
        volume=[100.0] * 3,
        taker=[50.0, 50.5, 50.0],
    )
    # background volume cancels: +1 net on +2 OI → 3/4 long (the plain taker share: 0.505)
    np.testing.assert_allclose(long_shares(balanced, "flow")[1:], [0.75, 0.5])
    assert EngineParams().side_split == "flow"


# -- default grid and validation -----------------------------------------------------


def test_default_grid_is_log_spaced_around_the_range() -> None:
    series = _random_market(50, seed=1)
    grid = default_grid(series, bins=400, span=0.25)
    assert grid.bins == 400 and grid.log
    assert grid.edges[0] == pytest.approx(series.low.min() * 0.75)
    assert grid.edges[-1] == pytest.approx(series.high.max() * 1.25)
    ratios = grid.edges[1:] / grid.edges[:-1]
    np.testing.assert_allclose(ratios, ratios[0])


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: LeverageTiers((5.0, 10.0), (1.0,)), "tiers.weights"),
        (lambda: LeverageTiers((), ()), "tiers.leverages"),
        (lambda: LeverageTiers((0.5,), (1.0,)), "tiers.leverages"),
        (lambda: LeverageTiers((5.0,), (0.0,)), "tiers.weights"),
        (lambda: EngineParams(position_notional=0.0), "position_notional"),
        (lambda: EngineParams(side_split="coin"), "side_split"),  # type: ignore[arg-type]
    ],
)
def test_bad_parameters_name_their_field(make: object, field: str) -> None:
    with pytest.raises(ModelError, match=field):
        make()  # type: ignore[operator]


def test_tier_weights_are_normalised() -> None:
    tiers = LeverageTiers((10.0, 20.0), (1.0, 3.0))
    assert tiers.weights == pytest.approx((0.25, 0.75))


def test_bad_engine_inputs_raise() -> None:
    series = _random_market(10, seed=0)
    grid = default_grid(series)
    with pytest.raises(ModelError, match="columns"):
        run_engine(series, grid, columns=0)
    with pytest.raises(ModelError, match="index"):
        liquidation_map_at(series, grid, 10)
    with pytest.raises(ModelError, match="index"):
        liquidation_map_at(series, grid, -11)
    empty = series.slice(0, 0)
    with pytest.raises(ModelError, match="series"):
        run_engine(empty, grid)
    with pytest.raises(ModelError, match="series"):
        default_grid(empty)
    with pytest.raises(ModelError, match="span"):
        default_grid(series, span=1.0)
    with pytest.raises(ModelError, match="bins"):
        default_grid(series, bins=0)
