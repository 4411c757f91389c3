"""Short-above vs long-below imbalance: hand-made maps and a slow per-bin reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.imbalance import compute_imbalance
from core.models import ModelError, Side
from core.results import LiquidationMap, PriceGrid


def _linear_map(price: float, long: list[float], short: list[float]) -> LiquidationMap:
    """20 bins of width 1 from 90 to 110."""
    grid = PriceGrid.around(90.0, 110.0, 20, log=False)
    return LiquidationMap(grid, price, 0, np.array(long), np.array(short))


def _slow_side(grid: PriceGrid, values: list[float], low: float, high: float) -> float:
    """Per bin: the overlapped share of the bin in the grid's coordinate, times its notional."""
    total = 0.0
    for i, value in enumerate(values):
        a, b = float(grid.edges[i]), float(grid.edges[i + 1])
        lo, hi = max(a, low), min(b, high)
        if hi <= lo:
            continue
        share = math.log(hi / lo) / math.log(b / a) if grid.log else (hi - lo) / (b - a)
        total += value * share
    return total


def test_bin_aligned_window_counts_whole_bins() -> None:
    ones = [1.0] * 20
    imb = compute_imbalance(_linear_map(100.0, ones, ones), window=0.05)
    assert imb.short_above == pytest.approx(5.0)  # bins 100..105
    assert imb.long_below == pytest.approx(5.0)  # bins 95..100
    assert imb.ratio == pytest.approx(1.0)


def test_straddling_bins_count_by_overlap() -> None:
    ones = [1.0] * 20
    imb = compute_imbalance(_linear_map(100.5, ones, ones), window=0.05)
    # shorts 100.5 → 105.525: half a bin, four whole bins, 0.525 of a bin
    assert imb.short_above == pytest.approx(0.5 + 4 + 0.525)
    # longs 95.475 → 100.5: 0.525 of a bin, four whole bins, half a bin
    assert imb.long_below == pytest.approx(0.525 + 4 + 0.5)


def test_wrong_side_notional_is_ignored_and_ratio_reads_14_to_1() -> None:
    long = [0.0] * 20
    short = [0.0] * 20
    short[12] = 14.0  # 102-103: above price
    short[5] = 1_000.0  # 95-96: shorts below price were already crossed
    long[7] = 1.0  # 97-98: below price
    long[15] = 500.0  # 105-106: longs above price were already crossed
    imb = compute_imbalance(_linear_map(100.0, long, short))
    assert imb.short_above == pytest.approx(14.0)
    assert imb.long_below == pytest.approx(1.0)
    assert imb.ratio == pytest.approx(14.0)
    assert imb.heavy_side is Side.SHORT
    assert imb.signed_ratio == pytest.approx(14.0)


def test_bands_partition_the_window() -> None:
    rng = np.random.default_rng(7)
    grid = PriceGrid.around(80.0, 125.0, 60)
    m = LiquidationMap(grid, 101.3, 0, rng.random(60), rng.random(60))
    imb = compute_imbalance(m, window=0.10)
    assert [(b.lo, b.hi) for b in imb.bands] == [(0, 0.01), (0.01, 0.02), (0.02, 0.05), (0.05, 0.1)]
    assert sum(b.short_above for b in imb.bands) == pytest.approx(imb.short_above)
    assert sum(b.long_below for b in imb.bands) == pytest.approx(imb.long_below)


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (0.05, [(0, 0.01), (0.01, 0.02), (0.02, 0.05)]),
        (0.03, [(0, 0.01), (0.01, 0.02), (0.02, 0.03)]),
        (0.005, [(0, 0.005)]),
    ],
)
def test_bands_stay_inside_the_window_asked(
    window: float, expected: list[tuple[float, float]]
) -> None:
    rng = np.random.default_rng(7)
    grid = PriceGrid.around(80.0, 125.0, 60)
    m = LiquidationMap(grid, 101.3, 0, rng.random(60), rng.random(60))
    imb = compute_imbalance(m, window=window)
    assert [(b.lo, b.hi) for b in imb.bands] == expected  # no 5%–10% band in a ±5 % window
    assert sum(b.short_above for b in imb.bands) == pytest.approx(imb.short_above)
    assert sum(b.long_below for b in imb.bands) == pytest.approx(imb.long_below)


def test_log_grid_splits_by_log_price() -> None:
    grid = PriceGrid(edges=np.array([90.0, 100.0, 121.0]))
    m = LiquidationMap(grid, 100.0, 0, np.zeros(2), np.array([0.0, 8.0]))
    imb = compute_imbalance(m, window=0.10, bands=(0.10,))
    # 100 → 110 is exactly half of 100 → 121 in log-price
    assert imb.short_above == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("window", "bands"),
    [(0.0, (0.01,)), (1.0, (0.01,)), (0.1, (0.02, 0.01)), (0.1, (0.0, 0.01)), (0.1, (0.5, 1.0))],
)
def test_invalid_window_or_bands_raise(window: float, bands: tuple[float, ...]) -> None:
    m = _linear_map(100.0, [1.0] * 20, [1.0] * 20)
    with pytest.raises(ModelError):
        compute_imbalance(m, window=window, bands=bands)


@st.composite
def _maps(draw: st.DrawFn) -> LiquidationMap:
    bins = draw(st.integers(1, 25))
    log = draw(st.booleans())
    low = draw(st.floats(10.0, 100.0))
    high = low * draw(st.floats(1.01, 2.0))
    notional = st.one_of(st.just(0.0), st.floats(0.0, 1e9))
    long = draw(st.lists(notional, min_size=bins, max_size=bins))
    short = draw(st.lists(notional, min_size=bins, max_size=bins))
    price = draw(st.floats(low * 0.8, high * 1.2))
    grid = PriceGrid.around(low, high, bins, log=log)
    return LiquidationMap(grid, price, 0, np.array(long), np.array(short))


@settings(max_examples=120, deadline=None)
@given(
    m=_maps(),
    window=st.floats(0.005, 0.9),
    cuts=st.lists(st.floats(0.001, 0.95), min_size=1, max_size=4, unique=True),
)
def test_matches_slow_reference(m: LiquidationMap, window: float, cuts: list[float]) -> None:
    bands = tuple(sorted(cuts))
    imb = compute_imbalance(m, window=window, bands=bands)
    p = m.price
    scale = 1e-9 * (float(m.short.sum()) + float(m.long.sum())) + 1e-6
    short_ref = _slow_side(m.grid, m.short.tolist(), p, p * (1 + window))
    long_ref = _slow_side(m.grid, m.long.tolist(), p * (1 - window), p)
    assert imb.short_above == pytest.approx(short_ref, abs=scale)
    assert imb.long_below == pytest.approx(long_ref, abs=scale)
    for band in imb.bands:
        ref_s = _slow_side(m.grid, m.short.tolist(), p * (1 + band.lo), p * (1 + band.hi))
        ref_l = _slow_side(m.grid, m.long.tolist(), p * (1 - band.hi), p * (1 - band.lo))
        assert band.short_above == pytest.approx(ref_s, abs=scale)
        assert band.long_below == pytest.approx(ref_l, abs=scale)
