"""Unit tests of the liquidation-level engine: formula results, conservation, columns
and the map at an index."""

from __future__ import annotations

import numpy as np
import pytest

from core.brackets import liquidation_price
from core.levels import (
    EngineParams,
    LeverageTiers,
    default_grid,
    keep_factors,
    liquidation_map_at,
    open_interest_change,
    opened_quantity,
    run_engine,
)
from core.reference import reference_engine
from core.results import PriceGrid
from tests.core.level_fixtures import (
    ONLY_100X,
    PLAIN,
    SHARE,
    flow_share,
    make_series,
    random_market,
)

# -- formula -------------------------------------------------------------------------


def test_100x_long_opened_at_100_sits_at_99_398() -> None:
    series = make_series([100.0, 100.0], oi=[0.0, 10.0], taker=[5.0, 7.0])
    grid = PriceGrid.around(90.0, 110.0, 2_000, log=False)  # 0.01-wide bins
    out = run_engine(series, grid, ONLY_100X)
    expected_price = 100.0 * (1 - 1 / 100) / (1 - 0.004)  # tier 1: mmr 0.4 %, cum 0
    assert expected_price == pytest.approx(99.398, abs=5e-4)
    (long_bin,) = np.flatnonzero(out.map.long)
    assert grid.edges[long_bin] <= expected_price < grid.edges[long_bin + 1]
    # ΔOI·price·flow share: net +4 on +10 OI, x = 0.2
    assert out.map.long[long_bin] == pytest.approx(10.0 * 100.0 * flow_share(0.2))
    short_price = 100.0 * (1 + 1 / 100) / (1 + 0.004)
    (short_bin,) = np.flatnonzero(out.map.short)
    assert grid.edges[short_bin] <= short_price < grid.edges[short_bin + 1]
    assert out.map.short[short_bin] == pytest.approx(10.0 * 100.0 * (1.0 - flow_share(0.2)))


def test_touch_consumes_at_the_formula_price_and_not_a_cent_above() -> None:
    level = float(liquidation_price(100.0, 100.0, 1, 10_000.0))
    just_above = np.nextafter(level, np.inf)
    for low, liquidated in ((level, True), (just_above, False)):
        series = make_series(
            [100.0, 100.0, 100.0], oi=[0.0, 10.0, 10.0], low=[100.0, 100.0, low], taker=[5, 5, 5]
        )
        out = run_engine(series, default_grid(series), ONLY_100X)
        assert bool(out.realized.long[2] > 0) is liquidated
        assert out.realized.long[2] == pytest.approx(500.0 if liquidated else 0.0)


def test_default_tiers_spread_notional_by_weight() -> None:
    series = make_series([100.0, 100.0], oi=[0.0, 1.0], taker=[5.0, 5.0])
    out = run_engine(series, default_grid(series, bins=4_000))
    tiers = LeverageTiers()
    assert tiers.leverages == (5.0, 10.0, 25.0, 50.0, 100.0, 125.0)
    prices = liquidation_price(100.0, np.array(tiers.leverages), 1, 10_000.0)
    bins = default_grid(series, bins=4_000).index(prices)
    np.testing.assert_allclose(out.map.long[bins], SHARE * 100.0 * 0.5 * np.array(tiers.weights))


# -- open interest: change, closes, conservation -------------------------------------


def test_open_interest_change_and_keep_factors() -> None:
    nan = float("nan")
    series = make_series([1.0] * 6, oi=[10.0, 12.0, 9.0, nan, 4.0, 0.0])
    np.testing.assert_array_equal(open_interest_change(series), [0.0, 2.0, -3.0, 0.0, 0.0, -4.0])
    np.testing.assert_allclose(keep_factors(series), [1.0, 1.0, 0.75, 1.0, 1.0, 0.0])
    no_oi = make_series([1.0] * 3, oi=None)
    np.testing.assert_array_equal(open_interest_change(no_oi), np.zeros(3))
    assert run_engine(no_oi, default_grid(no_oi)).map.is_empty


def test_proportional_close_shrinks_every_level_by_the_oi_share() -> None:
    series = make_series([100.0, 100.0, 100.0], oi=[0.0, 10.0, 6.0], taker=[5, 5, 5])
    out = run_engine(series, default_grid(series), PLAIN)
    total = out.map.long.sum() + out.map.short.sum()
    assert total == pytest.approx(10.0 * 100.0 * 0.6)


def test_conservation_opened_equals_active_plus_realised_plus_closed() -> None:
    series = random_market(300, seed=11)
    grid = default_grid(series)  # span 0.25 holds every default-tier level
    params = EngineParams()
    out = run_engine(series, grid, params, columns=50)
    _, ledger = reference_engine(series, grid, params, columns=50)
    # each tier opens w·q_t, a third each at the low, typical price and high
    mean_entry = (series.low + series.typical_price + series.high) / 3.0
    opened = sum(
        SHARE * w * float((opened_quantity(series, params.tier_half_life(lev)) * mean_entry).sum())
        for lev, w in zip(params.tiers.leverages, params.tiers.weights, strict=True)
    )
    active = float(out.map.long.sum() + out.map.short.sum())
    realised = float(out.realized.long.sum() + out.realized.short.sum())
    closed = sum(ledger.closed)
    assert realised > 0 and closed > 0 and active > 0
    assert active + realised + closed == pytest.approx(opened, rel=1e-10)


# -- heatmap columns -----------------------------------------------------------------


def test_columns_are_means_of_per_candle_snapshots() -> None:
    series = random_market(23, seed=5)
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
    series = random_market(120, seed=2)
    wide = run_engine(series, default_grid(series, bins=50), columns=12)
    narrow_grid = PriceGrid.around(float(series.close[0]) * 0.995, float(series.close[0]), 5)
    narrow = run_engine(series, narrow_grid, columns=12)
    np.testing.assert_allclose(narrow.realized.long, wide.realized.long)
    np.testing.assert_allclose(narrow.realized.short, wide.realized.short)
    assert narrow.map.long.sum() < wide.map.long.sum()


def test_map_at_last_index_is_the_engine_map() -> None:
    series = random_market(80, seed=9)
    grid = default_grid(series, bins=60)
    out = run_engine(series, grid)
    at = liquidation_map_at(series, grid, -1)
    np.testing.assert_allclose(at.long, out.map.long)
    np.testing.assert_allclose(at.short, out.map.short)
    mid = liquidation_map_at(series, grid, 40)
    assert mid.time == series.timestamps[40]
    assert mid.price == series.close[40]


# -- side split ----------------------------------------------------------------------
