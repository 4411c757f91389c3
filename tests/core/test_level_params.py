"""Unit tests of the level engine's settings: side split, churn, entry placement, the
default grid, leveraged share and input validation."""

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
    opened_quantity,
    run_engine,
)
from core.models import MarketSeries, ModelError
from core.results import PriceGrid
from tests.core.level_fixtures import PLAIN, SHARE, flow_share, make_series, random_market


def test_long_share_modes_and_fallbacks() -> None:
    nan = float("nan")
    series = make_series(
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
    no_taker = make_series([101.0, 99.0], open_=[100.0, 100.0], oi=[1.0, 1.0])
    np.testing.assert_allclose(long_shares(no_taker, "taker"), [up, down])


def test_flow_split_reads_net_taker_flow_against_oi_growth() -> None:
    # OI grows by 4, 4, 4 then falls; volume 10 each with taker buys 7, 3, 9.5, 7:
    # net flow +4 → x = +1/2 (linearly: all of the +4 OI long); −4 → x = −1/2; +9 → 9/8;
    # squashed by tanh they lean hard but never reach 0 or 1; a falling candle's growth
    # is not positive, so its share falls back to the taker share.
    series = make_series(
        [100.0] * 5,
        open_=[100.0] * 5,
        oi=[10.0, 14.0, 18.0, 22.0, 20.0],
        volume=[10.0] * 5,
        taker=[5.0, 7.0, 3.0, 9.5, 7.0],
    )
    flow = long_shares(series, "flow")
    np.testing.assert_allclose(
        flow, [0.5, flow_share(0.5), flow_share(-0.5), flow_share(9 / 8), 0.7]
    )
    assert 0.95 < flow[1] < flow[3] < 1.0 and 0.0 < flow[2] < 0.05
    balanced = make_series(
        [100.0] * 3,
        open_=[100.0] * 3,
        oi=[10.0, 12.0, 14.0],
        volume=[100.0] * 3,
        taker=[50.0, 50.5, 50.0],
    )
    # background volume cancels: +1 net on +2 OI, x = 1/4 (the plain taker share: 0.505)
    np.testing.assert_allclose(long_shares(balanced, "flow")[1:], [flow_share(0.25), 0.5])
    assert EngineParams().side_split == "flow"
    # near balance the squash is the linear estimate 1/2 + x
    tiny = make_series(
        [100.0] * 2, open_=[100.0] * 2, oi=[10.0, 110.0], volume=[100.0] * 2, taker=[50.0, 50.5]
    )
    x = 1.0 / 200.0
    assert long_shares(tiny, "flow", gain=2.0)[1] == pytest.approx(0.5 + x, rel=1e-4)


def test_side_lean_shrinks_every_split_towards_one_half() -> None:
    series = make_series(
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
    flat = make_series([100.0] * 3, oi=[1.0, 2.0, 3.0], volume=[10.0] * 3, taker=[8.0, 9.0, 9.0])
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
    series = make_series(
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
    series = random_market(50, seed=1)
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
    series = random_market(150, seed=3)
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
    series = random_market(10, seed=0)
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
