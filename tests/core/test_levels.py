"""Unit tests of the liquidation-level engine: formula results, conservation, columns,
churn, entry placement, side split, the default grid and input validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.brackets import liquidation_price
from core.levels import (
    CANDLE_LONG_SHARE,
    EngineParams,
    LeverageTiers,
    churn_shares,
    default_grid,
    keep_factors,
    liquidation_map_at,
    long_shares,
    open_interest_change,
    opened_quantity,
    run_engine,
)
from core.models import MarketSeries, ModelError
from core.reference import reference_engine
from core.results import PriceGrid

#: The mechanics tests pin the model without churn, all openings at the typical price,
#: all of open interest leveraged.
PLAIN = EngineParams(half_life_hours=math.inf, entry="typical", leveraged_share=1.0)
ONLY_100X = EngineParams(
    tiers=LeverageTiers((100.0,), (1.0,)),
    half_life_hours=math.inf,
    entry="typical",
    leveraged_share=1.0,
)
#: The default share of open interest at the tier mix: a pure scale of every notional.
SHARE = EngineParams().leveraged_share


def _flow(x: float) -> float:
    """The default flow split of a linear net-flow estimate ``x``."""
    return 0.5 + 0.5 * math.tanh(EngineParams().flow_gain * x)


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
    # ΔOI·price·flow share: net +4 on +10 OI, x = 0.2
    assert out.map.long[long_bin] == pytest.approx(10.0 * 100.0 * _flow(0.2))
    short_price = 100.0 * (1 + 1 / 100) / (1 + 0.004)
    (short_bin,) = np.flatnonzero(out.map.short)
    assert grid.edges[short_bin] <= short_price < grid.edges[short_bin + 1]
    assert out.map.short[short_bin] == pytest.approx(10.0 * 100.0 * (1.0 - _flow(0.2)))


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
    tiers = LeverageTiers()
    assert tiers.leverages == (5.0, 10.0, 25.0, 50.0, 100.0, 125.0)
    prices = liquidation_price(100.0, np.array(tiers.leverages), 1, 10_000.0)
    bins = default_grid(series, bins=4_000).index(prices)
    np.testing.assert_allclose(out.map.long[bins], SHARE * 100.0 * 0.5 * np.array(tiers.weights))


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
    out = run_engine(series, default_grid(series), PLAIN)
    total = out.map.long.sum() + out.map.short.sum()
    assert total == pytest.approx(10.0 * 100.0 * 0.6)


def test_conservation_opened_equals_active_plus_realised_plus_closed() -> None:
    series = _random_market(300, seed=11)
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
    # net flow +4 → x = +1/2 (linearly: all of the +4 OI long); −4 → x = −1/2; +9 → 9/8;
    # squashed by tanh they lean hard but never reach 0 or 1; a falling candle's growth
    # is not positive, so its share falls back to the taker share.
    series = _series(
        [100.0] * 5,
        open_=[100.0] * 5,
        oi=[10.0, 14.0, 18.0, 22.0, 20.0],
        volume=[10.0] * 5,
        taker=[5.0, 7.0, 3.0, 9.5, 7.0],
    )
    flow = long_shares(series, "flow")
    np.testing.assert_allclose(flow, [0.5, _flow(0.5), _flow(-0.5), _flow(9 / 8), 0.7])
    assert 0.95 < flow[1] < flow[3] < 1.0 and 0.0 < flow[2] < 0.05
    balanced = _series(
        [100.0] * 3,
        open_=[100.0] * 3,
        oi=[10.0, 12.0, 14.0],
        volume=[100.0] * 3,
        taker=[50.0, 50.5, 50.0],
    )
    # background volume cancels: +1 net on +2 OI, x = 1/4 (the plain taker share: 0.505)
    np.testing.assert_allclose(long_shares(balanced, "flow")[1:], [_flow(0.25), 0.5])
    assert EngineParams().side_split == "flow"
    # near balance the squash is the linear estimate 1/2 + x
    tiny = _series(
        [100.0] * 2, open_=[100.0] * 2, oi=[10.0, 110.0], volume=[100.0] * 2, taker=[50.0, 50.5]
    )
    x = 1.0 / 200.0
    assert long_shares(tiny, "flow", gain=2.0)[1] == pytest.approx(0.5 + x, rel=1e-4)


def test_side_lean_shrinks_every_split_towards_one_half() -> None:
    series = _series(
        [101.0, 99.0, 100.0],
        open_=[100.0] * 3,
        oi=[1.0, 2.0, 3.0],
        volume=[10.0] * 3,
        taker=[8.0, 1.0, 5.0],
    )
    for mode in ("flow", "taker", "candle"):
        full = long_shares(series, mode)
        np.testing.assert_allclose(long_shares(series, mode, lean=0.5), 0.5 + 0.5 * (full - 0.5))
        np.testing.assert_allclose(long_shares(series, mode, lean=0.0), 0.5)
    # 50/50 in the book: a flat price consumes nothing, so every level is on the map
    flat = _series([100.0] * 3, oi=[1.0, 2.0, 3.0], volume=[10.0] * 3, taker=[8.0, 9.0, 9.0])
    out = run_engine(flat, default_grid(flat), EngineParams(side_lean=0.0))
    assert out.map.long.sum() == pytest.approx(out.map.short.sum())
    skewed = run_engine(flat, default_grid(flat), EngineParams())
    assert skewed.map.long.sum() > 2 * skewed.map.short.sum()


# -- churn and entry placement -------------------------------------------------------


def test_churn_shares_follow_the_clock_and_skip_gaps() -> None:
    nan = float("nan")
    hour = 3_600_000
    series = MarketSeries(
        timestamps=np.array([0, hour, 2 * hour, 6 * hour, 7 * hour, 8 * hour], dtype=np.int64),
        open=np.full(6, 100.0),
        high=np.full(6, 100.0),
        low=np.full(6, 100.0),
        close=np.full(6, 100.0),
        volume=np.full(6, 10.0),
        open_interest=np.array([10.0, 10.0, 10.0, 10.0, nan, 10.0]),
    )
    c = churn_shares(series, 2.0)
    # first candle and both sides of the gap: nothing; 1 h → 1 − 2^(−1/2); 4 h → 3/4
    np.testing.assert_allclose(c, [0.0, 1 - 2**-0.5, 1 - 2**-0.5, 0.75, 0.0, 0.0])
    np.testing.assert_allclose(keep_factors(series, 2.0), 1.0 - c)
    np.testing.assert_allclose(opened_quantity(series, 2.0), 10.0 * c)  # flat OI: churn re-opened
    np.testing.assert_array_equal(churn_shares(series), np.zeros(6))  # no half-life: no churn


def test_keep_factor_is_the_churn_or_the_net_fall_whichever_is_larger() -> None:
    hour = 3_600_000
    oi = [100.0, 100.0, 99.0, 50.0, 60.0, 0.0, 5.0]
    series = MarketSeries(
        timestamps=np.arange(7, dtype=np.int64) * hour,
        open=np.full(7, 100.0),
        high=np.full(7, 100.0),
        low=np.full(7, 100.0),
        close=np.full(7, 100.0),
        volume=np.full(7, 10.0),
        open_interest=np.array(oi),
    )
    c = 1 - 2 ** (-1 / 24)  # ≈ 2.85 % an hour
    np.testing.assert_allclose(
        keep_factors(series, 24.0), [1.0, 1 - c, 1 - c, 50 / 99, 1 - c, 0.0, 1 - c]
    )
    # q = max(c·OI_{t−1} + ΔOI, 0): the churn plus growth, nothing when OI fell faster
    np.testing.assert_allclose(
        opened_quantity(series, 24.0), [0.0, 100 * c, 100 * c - 1, 0.0, 50 * c + 10, 0.0, 5.0]
    )


def test_churn_turns_a_flat_book_over_towards_open_interest() -> None:
    # flat OI of 10 BTC at a flat price for 10 days of hourly candles: the tracked book
    # fills up to 1 − 2^(−age/h) of open interest in every tier, none of it liquidated
    n = 240
    hour = 3_600_000
    series = MarketSeries(
        timestamps=np.arange(n, dtype=np.int64) * hour,
        open=np.full(n, 100.0),
        high=np.full(n, 100.0),
        low=np.full(n, 100.0),
        close=np.full(n, 100.0),
        volume=np.full(n, 10.0),
        open_interest=np.full(n, 10.0),
    )
    params = EngineParams()
    out = run_engine(series, default_grid(series), params)
    want = sum(
        SHARE * w * 10.0 * 100.0 * (1.0 - 0.5 ** ((n - 1) / params.tier_half_life(lev)))
        for lev, w in zip(params.tiers.leverages, params.tiers.weights, strict=True)
    )
    assert out.map.long.sum() + out.map.short.sum() == pytest.approx(want)
    assert not out.realized.long.any() and not out.realized.short.any()
    no_churn = run_engine(series, default_grid(series), PLAIN)
    assert no_churn.map.is_empty  # flat OI opens nothing without churn


def test_tier_half_life_scales_with_the_margin() -> None:
    params = EngineParams(half_life_hours=72.0, half_life_exponent=1.0)
    assert params.tier_half_life(10.0) == pytest.approx(72.0)
    assert params.tier_half_life(100.0) == pytest.approx(7.2)
    assert params.tier_half_life(5.0) == pytest.approx(144.0)
    default = EngineParams()
    assert default.tier_half_life(125.0) == pytest.approx(default.half_life_hours * 10 / 125)
    assert EngineParams(half_life_exponent=0.0).tier_half_life(125.0) == default.half_life_hours
    assert EngineParams(half_life_hours=1.0).tier_half_life(125.0) == 0.5  # the floor
    assert EngineParams(half_life_hours=math.inf).tier_half_life(125.0) == math.inf


def test_range_entry_opens_a_third_at_low_typical_and_high() -> None:
    series = _series(
        [100.0, 100.0], high=[100.0, 103.0], low=[100.0, 97.0], oi=[0.0, 3.0], taker=[5, 5]
    )
    one = LeverageTiers((10.0,), (1.0,))
    params = EngineParams(
        tiers=one, half_life_hours=math.inf, side_split="candle", leveraged_share=1.0
    )
    grid = PriceGrid.around(50.0, 150.0, 10_000, log=False)
    out = run_engine(series, grid, params)
    for entry in (97.0, 100.0, 103.0):
        for side, arr in ((1, out.map.long), (-1, out.map.short)):
            price = float(liquidation_price(entry, 10.0, side, 10_000.0))
            assert arr[grid.index(np.array([price]))[0]] == pytest.approx(0.5 * 1.0 * entry)
    assert out.map.long.sum() == pytest.approx(0.5 * 300.0)
    typical = run_engine(
        series,
        grid,
        EngineParams(tiers=one, half_life_hours=math.inf, entry="typical", side_split="candle"),
    )
    assert np.count_nonzero(typical.map.long) == 1


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
        (lambda: EngineParams(half_life_hours=0.1), r"half_life_hours: .*\(got 0.1\)"),
        (lambda: EngineParams(half_life_hours=float("nan")), "half_life_hours"),
        (lambda: EngineParams(half_life_exponent=-1.0), r"half_life_exponent: .*\(got -1.0\)"),
        (lambda: EngineParams(half_life_exponent=4.0), "half_life_exponent"),
        (lambda: EngineParams(entry="close"), r"entry: 'close' is not one of"),  # type: ignore[arg-type]
        (lambda: EngineParams(side_lean=1.5), r"side_lean: .*\(got 1.5\)"),
        (lambda: EngineParams(side_lean=-0.1), "side_lean"),
        (lambda: EngineParams(flow_gain=0.0), r"flow_gain: .*\(got 0.0\)"),
        (lambda: EngineParams(flow_gain=float("inf")), "flow_gain"),
        (lambda: EngineParams(leveraged_share=0.0), r"leveraged_share: .*\(got 0.0\)"),
        (lambda: EngineParams(leveraged_share=1.5), "leveraged_share"),
    ],
)
def test_bad_parameters_name_their_field(make: object, field: str) -> None:
    with pytest.raises(ModelError, match=field):
        make()  # type: ignore[operator]


def test_leveraged_share_scales_every_notional_and_nothing_else() -> None:
    series = _random_market(150, seed=3)
    grid = default_grid(series, bins=80)
    full = run_engine(series, grid, EngineParams(leveraged_share=1.0), columns=20)
    part = run_engine(series, grid, EngineParams(leveraged_share=0.1), columns=20)
    for got, want in (
        (part.map.long, full.map.long),
        (part.heatmap.short, full.heatmap.short),
        (part.realized.long, full.realized.long),
        (part.realized.short, full.realized.short),
    ):
        np.testing.assert_allclose(got, 0.1 * want, rtol=1e-9, atol=1e-9)


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
