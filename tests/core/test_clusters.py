"""Clusters (prominence peaks) and danger zones on hand-made liquidation maps."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clusters import (
    find_clusters,
    find_danger_zones,
    peak_prominences,
    side_profile,
    smooth,
)
from core.models import FloatArray, ModelError, Side
from core.results import LiquidationMap, PriceGrid


def _slow_prominences(values: list[float]) -> list[float]:
    """Walk out from every bin to strictly higher ground (or the zero padding at the ends),
    noting the lowest point passed on each side; prominence = height − the higher base."""
    padded = [0.0, *values, 0.0]
    out = []
    for i in range(1, len(padded) - 1):
        h = padded[i]
        left = h
        j = i - 1
        while j >= 0 and padded[j] <= h:
            left = min(left, padded[j])
            j -= 1
        if j >= 0:
            left = min(left, h)
        right = h
        j = i + 1
        while j < len(padded) and padded[j] <= h:
            right = min(right, padded[j])
            j += 1
        out.append(h - max(left, right))
    return out


def test_prominence_of_a_small_profile() -> None:
    #            0    1    2    3    4    5    6
    profile = [0.0, 3.0, 1.0, 2.0, 0.5, 2.5, 0.0]
    prom = peak_prominences(np.array(profile))
    # 3 is the summit; 2 must descend to 1 before reaching 3; 2.5 to 0.5 before reaching 3
    assert prom.tolist() == pytest.approx([0, 3.0, 0, 1.0, 0, 2.0, 0])


def test_edge_bins_are_peaks_against_zero_padding() -> None:
    prom = peak_prominences(np.array([5.0, 1.0, 4.0]))
    assert prom.tolist() == pytest.approx([5.0, 0.0, 3.0])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(st.integers(0, 6).map(float), st.floats(0.0, 1e6)), min_size=1, max_size=40)
)
def test_prominence_matches_slow_reference(values: list[float]) -> None:
    fast = peak_prominences(np.array(values))
    assert fast.tolist() == pytest.approx(_slow_prominences(values), abs=1e-9)


def _bump(centers: FloatArray, at: float, width: float, total: float) -> FloatArray:
    shape = np.exp(-0.5 * ((centers / at - 1.0) / width) ** 2)
    out: FloatArray = total * shape / shape.sum()
    return out


def _two_sided_map() -> LiquidationMap:
    grid = PriceGrid.around(75.0, 125.0, 200)
    c = grid.centers
    short = _bump(c, 105.0, 0.01, 9e9) + _bump(c, 112.0, 0.006, 4e9)
    short += _bump(c, 120.0, 0.002, 3e7)  # a narrow bump ~2 % of the 105 peak's height
    short += _bump(c, 90.0, 0.01, 50e9)  # below price: already crossed, must be ignored
    long = _bump(c, 95.0, 0.008, 2e9)
    return LiquidationMap(grid, 100.0, 0, long, short)


def test_clusters_sit_on_their_own_side_sorted_by_notional() -> None:
    m = _two_sided_map()
    clusters = find_clusters(m, top=5, min_prominence=0.05)
    assert [c.side for c in clusters] == [Side.SHORT, Side.SHORT, Side.LONG]
    assert [c.notional for c in clusters] == sorted((c.notional for c in clusters), reverse=True)
    short_a, short_b, long_a = clusters
    assert short_a.price == pytest.approx(105.0, rel=0.005)
    assert short_b.price == pytest.approx(112.0, rel=0.005)
    assert long_a.price == pytest.approx(95.0, rel=0.005)
    for c in clusters:
        assert c.low < c.price < c.high
        assert c.peak_notional <= c.notional
        inside = (m.grid.centers > c.low) & (m.grid.centers < c.high)
        values = m.short if c.side is Side.SHORT else m.long
        assert c.notional == pytest.approx(float(values[inside].sum()))
        # width at half prominence of a Gaussian holds ~76 % of it
        assert 0.5 < c.notional / {105.0: 9e9, 112.0: 4e9, 95.0: 2e9}[round(c.price)] < 1.0
    assert short_a.distance_from(100.0) == pytest.approx(0.05, abs=0.005)
    # extents never overlap
    spans = sorted((c.low, c.high) for c in clusters)
    assert all(a[1] <= b[0] for a, b in pairwise(spans))


def test_min_prominence_and_top_filter() -> None:
    m = _two_sided_map()
    assert len(find_clusters(m, top=1)) == 1
    assert find_clusters(m, top=0) == ()
    # the narrow 120 bump is below the default 5 % prominence but shows up with 0
    assert all(abs(c.price - 120.0) > 1.0 for c in find_clusters(m, top=10))
    assert any(abs(c.price - 120.0) < 1.0 for c in find_clusters(m, top=10, min_prominence=0.0))
    loose = find_clusters(m, top=10, min_prominence=0.0, smooth_bins=0)
    strict = find_clusters(m, top=10, min_prominence=0.5, smooth_bins=0)
    assert len(loose) > len(strict)
    above = float(side_profile(m, Side.SHORT).max())  # the big bump at 90 is below price
    assert above < float(m.short.max())
    assert all(c.prominence >= 0.5 * above for c in strict if c.side is Side.SHORT)


def test_flat_top_peak_is_reported_at_its_middle() -> None:
    grid = PriceGrid.around(90.0, 110.0, 20, log=False)
    short = np.zeros(20)
    short[12:15] = 5.0  # 102-105, flat
    m = LiquidationMap(grid, 100.0, 0, np.zeros(20), short)
    (c,) = find_clusters(m, smooth_bins=0)
    assert c.price == pytest.approx(103.5)  # middle bin's centre
    assert (c.low, c.high, c.notional) == pytest.approx((102.0, 105.0, 15.0))


def test_empty_map_has_no_clusters_or_zones() -> None:
    grid = PriceGrid.around(90.0, 110.0, 20)
    m = LiquidationMap(grid, 100.0, 0, np.zeros(20), np.zeros(20))
    assert find_clusters(m) == ()
    assert find_danger_zones(m) == ()


def test_smooth_keeps_mass_away_from_the_ends() -> None:
    x = np.zeros(9)
    x[4] = 4.0
    assert smooth(x, 1)[3:6].tolist() == pytest.approx([1.0, 2.0, 1.0])
    assert smooth(x, 0).tolist() == x.tolist()
    with pytest.raises(ModelError):
        smooth(x, -1)


def _zone_map() -> LiquidationMap:
    """Shorts: a dense band 5-15 % above price with a one-bin hole; sparse elsewhere."""
    grid = PriceGrid.around(70.0, 130.0, 240)
    c = grid.centers
    rng = np.random.default_rng(3)
    short = np.where(c > 100, rng.uniform(0, 1e6, 240), 0.0)
    band = (c >= 105.0) & (c <= 115.0)
    short[band] = rng.uniform(4e7, 6e7, int(band.sum()))
    hole = int(np.flatnonzero(band)[10])
    short[hole] = 0.0
    long = np.where(c < 100, rng.uniform(0, 1e6, 240), 0.0)
    long[(c > 96.0) & (c < 97.0)] = 1e7  # a dense but small long patch
    return LiquidationMap(grid, 100.0, 0, long, short)


def test_danger_zone_covers_the_dense_band_across_a_one_bin_hole() -> None:
    m = _zone_map()
    zones = find_danger_zones(m, smooth_bins=0)
    shorts = [z for z in zones if z.side is Side.SHORT]
    assert len(shorts) == 1
    (z,) = shorts
    assert z.low == pytest.approx(105.0, rel=0.003)
    assert z.high == pytest.approx(115.0, rel=0.003)
    inside = (m.grid.centers > z.low) & (m.grid.centers < z.high)
    assert z.notional == pytest.approx(float(m.short[inside].sum()))
    assert z.low <= z.peak_price <= z.high
    assert all(a.notional >= b.notional for a, b in pairwise(zones))


def test_min_share_and_window_drop_zones() -> None:
    m = _zone_map()
    (patch,) = [z for z in find_danger_zones(m, smooth_bins=0) if z.side is Side.LONG]
    assert patch.low == pytest.approx(96.0, rel=0.005)
    assert patch.high == pytest.approx(97.0, rel=0.005)
    long_total = float(side_profile(m, Side.LONG, 0.25).sum())
    share = patch.notional / long_total
    assert 0.15 < share < 0.9
    stricter = find_danger_zones(m, min_share=share + 0.01, smooth_bins=0)
    assert all(z.side is Side.SHORT for z in stricter)
    for z in find_danger_zones(m, min_share=0.3):
        assert z.notional >= 0.3 * float(side_profile(m, z.side, 0.25).sum())
    # a ±4 % window sees none of the 5-15 % short band
    narrow = find_danger_zones(m, window=0.04, smooth_bins=0)
    assert all(z.high <= 104.5 for z in narrow if z.side is Side.SHORT)


@pytest.mark.parametrize(
    "kwargs",
    [{"density_quantile": 1.5}, {"min_share": -0.1}, {"window": 0.0}, {"window": 1.0}],
)
def test_zone_arguments_are_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(ModelError):
        find_danger_zones(_zone_map(), **kwargs)  # type: ignore[arg-type]


def test_cluster_arguments_are_validated() -> None:
    with pytest.raises(ModelError):
        find_clusters(_two_sided_map(), top=-1)
    with pytest.raises(ModelError):
        find_clusters(_two_sided_map(), min_prominence=2.0)


@settings(max_examples=80, deadline=None)
@given(
    long=st.lists(st.floats(0.0, 1e8), min_size=30, max_size=30),
    short=st.lists(st.floats(0.0, 1e8), min_size=30, max_size=30),
    price=st.floats(92.0, 108.0),
    smooth_bins=st.integers(0, 2),
)
def test_cluster_invariants_on_random_maps(
    long: list[float], short: list[float], price: float, smooth_bins: int
) -> None:
    grid = PriceGrid.around(90.0, 110.0, 30)
    m = LiquidationMap(grid, price, 0, np.array(long), np.array(short))
    clusters = find_clusters(m, top=30, smooth_bins=smooth_bins)
    spans = sorted((c.low, c.high) for c in clusters)
    assert all(a[1] <= b[0] * (1 + 1e-12) for a, b in pairwise(spans))
    for c in clusters:
        own = side_profile(m, c.side)
        inside = (grid.centers > c.low) & (grid.centers < c.high)
        assert c.notional == pytest.approx(float(own[inside].sum()))
        assert c.low <= c.price <= c.high
        assert (c.price >= price) if c.side is Side.SHORT else (c.price < price)
        assert c.prominence > 0
