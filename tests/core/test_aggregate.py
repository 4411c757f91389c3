"""Grid overlap fractions, conservative re-binning and multi-exchange sums."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.aggregate import (
    aggregate_heatmaps,
    aggregate_maps,
    bin_fractions,
    common_grid,
    merge_books,
    rebin,
    union_grid,
)
from core.models import FloatArray, ModelError, OrderBook
from core.results import Heatmap, LiquidationMap, PriceGrid


def test_bin_fractions_linear_and_log() -> None:
    lin = PriceGrid.around(0.5, 4.5, 4, log=False)  # 0.5 1.5 2.5 3.5 4.5
    assert bin_fractions(lin, 1.0, 3.0).tolist() == pytest.approx([0.5, 1.0, 0.5, 0.0])
    assert bin_fractions(lin, 0.0, 10.0).tolist() == [1.0, 1.0, 1.0, 1.0]
    assert bin_fractions(lin, 3.0, 3.0).tolist() == [0.0] * 4
    log = PriceGrid(edges=np.array([1.0, 4.0, 16.0]))
    assert bin_fractions(log, 2.0, 8.0).tolist() == pytest.approx([0.5, 0.5])


def test_rebin_onto_a_finer_aligned_grid_halves_each_bin() -> None:
    src = PriceGrid.around(10.0, 20.0, 5, log=False)
    dst = PriceGrid.around(10.0, 20.0, 10, log=False)
    out = rebin(np.array([2.0, 4.0, 6.0, 8.0, 10.0]), src, dst)
    assert out.tolist() == pytest.approx([1, 1, 2, 2, 3, 3, 4, 4, 5, 5])


def test_rebin_drops_notional_outside_the_target() -> None:
    src = PriceGrid.around(10.0, 20.0, 5, log=False)
    dst = PriceGrid.around(14.0, 30.0, 8, log=False)
    out = rebin(np.ones(5), src, dst)
    assert out.sum() == pytest.approx(3.0)  # 14-20 of 10-20
    with pytest.raises(ModelError):
        rebin(np.ones(4), src, dst)


@st.composite
def _grid(draw: st.DrawFn) -> PriceGrid:
    low = draw(st.floats(50.0, 100.0))
    high = low * draw(st.floats(1.05, 1.8))
    return PriceGrid.around(low, high, draw(st.integers(1, 40)), log=draw(st.booleans()))


@settings(max_examples=100, deadline=None)
@given(
    grids=st.lists(_grid(), min_size=1, max_size=4),
    data=st.data(),
    bins=st.integers(1, 60),
)
def test_aggregation_conserves_notional(
    grids: list[PriceGrid], data: st.DataObject, bins: int
) -> None:
    maps = []
    for g in grids:
        values = st.lists(st.floats(0.0, 1e9), min_size=g.bins, max_size=g.bins)
        long, short = np.array(data.draw(values)), np.array(data.draw(values))
        maps.append(LiquidationMap(g, float(g.centers[g.bins // 2]), 0, long, short))
    target = common_grid(maps, bins)
    assert target.bins == bins
    agg = aggregate_maps(maps, target)
    total_long = sum(float(m.long.sum()) for m in maps)
    total_short = sum(float(m.short.sum()) for m in maps)
    assert agg.long.sum() == pytest.approx(total_long, rel=1e-9, abs=1e-3)
    assert agg.short.sum() == pytest.approx(total_short, rel=1e-9, abs=1e-3)
    assert agg.price == pytest.approx(float(np.median([m.price for m in maps])))


def test_identical_grids_sum_exactly() -> None:
    rng = np.random.default_rng(11)
    grid = PriceGrid.around(90.0, 110.0, 50)
    maps = [
        LiquidationMap(grid, p, t, rng.random(50) * 1e8, rng.random(50) * 1e8)
        for p, t in ((100.0, 5), (100.2, 9), (99.9, 7))
    ]
    agg = aggregate_maps(maps)
    assert agg.grid is grid
    assert np.array_equal(agg.long, maps[0].long + maps[1].long + maps[2].long)
    assert np.array_equal(agg.short, maps[0].short + maps[1].short + maps[2].short)
    assert agg.price == 100.0  # median
    assert agg.time == 9  # latest


def test_single_map_is_returned_unchanged_and_empty_input_raises() -> None:
    grid = PriceGrid.around(90.0, 110.0, 10)
    m = LiquidationMap(grid, 100.0, 0, np.ones(10), np.ones(10))
    assert aggregate_maps([m]) is m
    with pytest.raises(ModelError):
        aggregate_maps([])
    with pytest.raises(ModelError):
        union_grid([])


def test_union_grid_covers_all_inputs() -> None:
    a = PriceGrid.around(90.0, 110.0, 100)
    b = PriceGrid.around(95.0, 120.0, 80, log=False)
    u = union_grid([a, b])
    assert (u.edges[0], u.edges[-1], u.bins, u.log) == pytest.approx((90.0, 120.0, 100, False))


def _heatmap(times: list[int], grid: PriceGrid, fill: float) -> Heatmap:
    shape = (len(times), grid.bins)
    return Heatmap(
        column_times=np.array(times, dtype=np.int64),
        grid=grid,
        long=np.full(shape, fill),
        short=np.full(shape, 2 * fill),
    )


def test_heatmaps_sum_on_the_first_heatmaps_columns() -> None:
    grid = PriceGrid.around(90.0, 110.0, 8)
    a = _heatmap([0, 10, 20, 30], grid, 1.0)
    b = _heatmap([0, 10, 20, 30], grid, 3.0)
    late = _heatmap([15, 25], grid, 100.0)  # starts later: held from its first column on
    out = aggregate_heatmaps([a, b, late])
    assert out.grid is grid
    assert out.long[:, 0].tolist() == [4.0, 4.0, 104.0, 104.0]
    assert out.short[:, 0].tolist() == [8.0, 8.0, 208.0, 208.0]
    other = PriceGrid.around(90.0, 110.0, 4)
    rebinned = aggregate_heatmaps([a, _heatmap([0, 10, 20, 30], other, 2.0)], grid)
    assert rebinned.long.sum(axis=1) == pytest.approx(np.full(4, 8 * 1.0 + 4 * 2.0))
    with pytest.raises(ModelError):
        aggregate_heatmaps([])


def test_merged_books_keep_each_levels_notional_and_distance() -> None:
    a = OrderBook(
        1, np.array([99.0, 98.0]), np.array([1.0, 2.0]), np.array([101.0]), np.array([3.0])
    )
    b = OrderBook(
        5, np.array([201.0]), np.array([1.0]), np.array([203.0, 204.0]), np.array([1.0, 1.0])
    )
    merged = merge_books([a, b])
    ref = float(np.median([a.mid, b.mid]))  # 151
    assert merged.timestamp == 5
    assert merged.mid == pytest.approx(ref, rel=0.01)

    def total(prices: FloatArray, sizes: FloatArray) -> float:
        return float((prices * sizes).sum())

    assert total(merged.bid_prices, merged.bid_sizes) == pytest.approx(
        total(a.bid_prices, a.bid_sizes) + total(b.bid_prices, b.bid_sizes)
    )
    assert total(merged.ask_prices, merged.ask_sizes) == pytest.approx(
        total(a.ask_prices, a.ask_sizes) + total(b.ask_prices, b.ask_sizes)
    )
    distances = sorted(merged.ask_prices / ref - 1)
    expected = sorted([101 / a.mid - 1, 203 / b.mid - 1, 204 / b.mid - 1])
    assert distances == pytest.approx(expected)
    assert merge_books([a]) is a
    with pytest.raises(ModelError):
        merge_books([])
