"""The vectorised engine (core.levels) against the plain-Python reference (core.reference).

Random small markets — OHLC with wicks, irregular candle spacing, open interest that rises,
falls, has NaN gaps and drops to zero, random taker share and long/short ratio, random
tiers, brackets and grids, every side split, churn half-life (none to very fast), entry
placement and side lean — must give the same heatmap, map and realised series; so must
hand-made edge cases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.brackets import liquidation_price
from core.levels import (
    EngineOutput,
    EngineParams,
    LeverageTiers,
    default_grid,
    liquidation_map_at,
    opened_quantity,
    run_engine,
)
from core.models import MarketSeries
from core.reference import reference_engine
from core.results import LiquidationMap, PriceGrid

RTOL = 1e-9


@dataclass(frozen=True)
class Case:
    series: MarketSeries
    grid: PriceGrid
    params: EngineParams
    columns: int


def _atol(series: MarketSeries, params: EngineParams | None = None) -> float:
    """A tolerance far below anything visible: 1e-10 of all notional ever opened."""
    p = params or EngineParams()
    opened = sum(
        w * opened_quantity(series, p.tier_half_life(lev)) * series.high
        for lev, w in zip(p.tiers.leverages, p.tiers.weights, strict=True)
    )
    return 1e-10 * float(np.sum(opened)) + 1e-300


def _assert_same(engine: EngineOutput, ref: EngineOutput, atol: float) -> None:
    np.testing.assert_array_equal(engine.heatmap.column_times, ref.heatmap.column_times)
    pairs = {
        "heatmap.long": (engine.heatmap.long, ref.heatmap.long),
        "heatmap.short": (engine.heatmap.short, ref.heatmap.short),
        "map.long": (engine.map.long, ref.map.long),
        "map.short": (engine.map.short, ref.map.short),
        "realized.long": (engine.realized.long, ref.realized.long),
        "realized.short": (engine.realized.short, ref.realized.short),
    }
    for name, (got, want) in pairs.items():
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=atol, err_msg=name)
    assert engine.map.price == ref.map.price
    assert engine.map.time == ref.map.time


def _check(case: Case) -> None:
    engine = run_engine(case.series, case.grid, case.params, case.columns)
    ref, _ = reference_engine(case.series, case.grid, case.params, case.columns)
    _assert_same(engine, ref, _atol(case.series, case.params))


def _series(
    close: list[float],
    *,
    high: list[float] | None = None,
    low: list[float] | None = None,
    oi: list[float] | None = None,
    open_: list[float] | None = None,
    taker: list[float] | None = None,
) -> MarketSeries:
    c = np.asarray(close, dtype=np.float64)
    o = np.asarray(open_ if open_ is not None else np.r_[c[:1], c[:-1]], dtype=np.float64)
    n = len(c)
    return MarketSeries(
        timestamps=np.arange(n, dtype=np.int64) * 300_000,
        open=o,
        high=np.asarray(high if high is not None else np.maximum(o, c), dtype=np.float64),
        low=np.asarray(low if low is not None else np.minimum(o, c), dtype=np.float64),
        close=c,
        volume=np.full(n, 10.0),
        taker_buy_volume=np.asarray(taker) if taker is not None else np.full(n, 5.5),
        open_interest=np.asarray(oi) if oi is not None else None,
    )


@st.composite
def markets(draw: st.DrawFn) -> Case:
    n = draw(st.integers(3, 60))
    returns = draw(st.lists(st.floats(-0.06, 0.06), min_size=n, max_size=n))
    close = 100.0 * np.exp(np.cumsum(returns))
    gaps = draw(st.lists(st.floats(-0.01, 0.01), min_size=n, max_size=n))
    open_ = np.r_[100.0, close[:-1]] * np.exp(gaps)
    wick_up = np.asarray(draw(st.lists(st.floats(0.0, 0.08), min_size=n, max_size=n)))
    wick_dn = np.asarray(draw(st.lists(st.floats(0.0, 0.08), min_size=n, max_size=n)))
    # OI steps: rise, fall, unchanged, a NaN gap, a drop to zero.
    oi: list[float] = []
    level = float(draw(st.integers(0, 1_000)))
    for _ in range(n):
        move = draw(st.sampled_from(["up", "down", "down", "same", "nan", "zero", "up"]))
        if move == "up":
            level += draw(st.integers(1, 300))
        elif move == "down":
            level = max(0.0, level - draw(st.integers(1, 300)))
        elif move == "zero":
            level = 0.0
        oi.append(float("nan") if move == "nan" else level)
    volume = np.asarray(
        draw(st.lists(st.sampled_from([0.0, 1.0, 7.5, 40.0]), min_size=n, max_size=n))
    )
    share = np.asarray(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    with_taker = draw(st.booleans())
    ratio = None
    if draw(st.booleans()):
        ratio = np.asarray(
            draw(
                st.lists(
                    st.one_of(st.floats(0.0, 5.0), st.just(float("nan"))), min_size=n, max_size=n
                )
            )
        )
    steps = draw(
        st.lists(
            st.sampled_from([60_000, 300_000, 3_600_000, 4 * 3_600_000]), min_size=n, max_size=n
        )
    )
    series = MarketSeries(
        timestamps=1_700_000_000_000 + np.cumsum(np.asarray(steps, dtype=np.int64)),
        open=open_,
        high=np.maximum(open_, close) * (1.0 + wick_up),
        low=np.minimum(open_, close) * (1.0 - wick_dn),
        close=close,
        volume=volume,
        taker_buy_volume=volume * share if with_taker else None,
        open_interest=np.asarray(oi),
        long_short_ratio=ratio,
    )
    k = draw(st.integers(1, 5))
    tiers = LeverageTiers(
        tuple(draw(st.lists(st.floats(1.0, 150.0), min_size=k, max_size=k))),
        tuple(draw(st.lists(st.floats(0.05, 5.0), min_size=k, max_size=k))),
    )
    params = EngineParams(
        tiers=tiers,
        position_notional=draw(st.sampled_from([1_000.0, 10_000.0, 500_000.0, 5e6, 2e8])),
        side_split=draw(st.sampled_from(["flow", "taker", "candle", "ratio"])),
        half_life_hours=draw(st.sampled_from([math.inf, 0.5, 1.0, 3.0, 24.0, 1_000.0])),
        half_life_exponent=draw(st.sampled_from([0.0, 1.0, 0.5, 3.0])),
        entry=draw(st.sampled_from(["typical", "range"])),
        side_lean=draw(st.one_of(st.just(1.0), st.floats(0.0, 1.0))),
        flow_gain=draw(st.sampled_from([4.0, 2.0, 0.5, 50.0])),
        leveraged_share=draw(st.sampled_from([1.0, 0.025, 0.3])),
    )
    lo = float(series.low.min()) * draw(st.floats(0.5, 1.05))
    hi = float(series.high.max()) * draw(st.floats(0.95, 1.6))
    if hi <= lo:
        hi = lo * 1.5
    grid = PriceGrid.around(lo, hi, draw(st.integers(1, 30)), log=draw(st.booleans()))
    return Case(series, grid, params, draw(st.integers(1, 70)))


@settings(max_examples=150)
@given(markets())
def test_engine_matches_reference_on_random_markets(case: Case) -> None:
    _check(case)


@settings(max_examples=40)
@given(markets(), st.data())
def test_map_at_an_index_matches_reference_on_the_prefix(case: Case, data: st.DataObject) -> None:
    n = len(case.series)
    index = data.draw(st.integers(-n, n - 1))
    got = liquidation_map_at(case.series, case.grid, index, case.params)
    ref, _ = reference_engine(case.series.slice(0, index % n + 1), case.grid, case.params, 1)
    _assert_same_map(got, ref.map, _atol(case.series, case.params))


def _assert_same_map(got: LiquidationMap, want: LiquidationMap, atol: float) -> None:
    np.testing.assert_allclose(got.long, want.long, rtol=RTOL, atol=atol)
    np.testing.assert_allclose(got.short, want.short, rtol=RTOL, atol=atol)
    assert (got.price, got.time) == (want.price, want.time)


def _wide_grid(series: MarketSeries, bins: int = 40) -> PriceGrid:
    return default_grid(series, bins=bins, span=0.5)


def test_level_touched_exactly_is_liquidated() -> None:
    entry = 100.0
    level = float(liquidation_price(entry, 100.0, 1, 10_000.0))
    params = EngineParams(
        tiers=LeverageTiers((100.0,), (1.0,)),
        half_life_hours=math.inf,
        entry="typical",
        leveraged_share=1.0,
    )
    # candle 1 opens at typical price exactly 100; candle 2's low sits exactly on the level
    series = _series(
        [100.0, 100.0, 100.5],
        high=[100.0, 100.0, 101.0],
        low=[100.0, 100.0, level],
        oi=[10.0, 20.0, 20.0],
    )
    grid = _wide_grid(series)
    engine = run_engine(series, grid, params, columns=3)
    ref, _ = reference_engine(series, grid, params, columns=3)
    _assert_same(engine, ref, 1e-12)
    # flow split: net +1 on +10 OI, x = 0.05
    share = 0.5 + 0.5 * math.tanh(params.flow_gain * 0.05)
    assert engine.realized.long[2] == pytest.approx(10.0 * 100.0 * share)
    assert engine.map.long.sum() == 0.0


def test_open_interest_to_zero_then_rising_again() -> None:
    close = [100.0, 101.0, 100.5, 100.0, 99.0, 100.0, 101.0]
    series = _series(close, oi=[50.0, 80.0, 90.0, 0.0, 30.0, 10.0, 40.0])
    grid = _wide_grid(series)
    engine = run_engine(series, grid, columns=4)
    ref, ledger = reference_engine(series, grid, columns=4)
    _assert_same(engine, ref, 1e-9)
    assert ledger.active[3] == 0.0  # the drop to zero closed everything
    assert ledger.active[4] > 0.0


def test_nan_gap_opens_and_closes_nothing() -> None:
    nan = float("nan")
    close = [100.0, 100.2, 100.1, 100.3, 100.2, 100.4]
    series = _series(close, oi=[10.0, 20.0, nan, 5.0, 15.0, nan])
    grid = _wide_grid(series)
    engine = run_engine(series, grid, columns=6)
    ref, ledger = reference_engine(series, grid, columns=6)
    _assert_same(engine, ref, 1e-9)
    assert ledger.opened[2] == ledger.opened[3] == ledger.opened[5] == 0.0
    assert ledger.closed[2] == ledger.closed[3] == 0.0
    assert ledger.opened[4] > 0.0


def test_opening_candle_never_consumes_its_own_levels() -> None:
    # candle 1 has a huge range: its own 100x levels lie inside it but must survive it
    series = _series(
        [100.0, 100.0],
        high=[100.0, 130.0],
        low=[100.0, 70.0],
        oi=[0.0, 10.0],
    )
    grid = _wide_grid(series)
    engine = run_engine(series, grid, columns=2)
    ref, _ = reference_engine(series, grid, columns=2)
    _assert_same(engine, ref, 1e-12)
    assert engine.realized.long.sum() == engine.realized.short.sum() == 0.0
    share = EngineParams().leveraged_share  # the opened notional, scaled
    assert engine.map.long.sum() + engine.map.short.sum() == pytest.approx(share * 10.0 * 100.0)


def test_one_candle() -> None:
    series = _series([100.0], oi=[123.0])
    grid = _wide_grid(series)
    engine = run_engine(series, grid)
    ref, _ = reference_engine(series, grid)
    _assert_same(engine, ref, 0.0)
    assert engine.heatmap.long.shape == (1, grid.bins)
    assert engine.map.is_empty  # no earlier open interest: nothing was opened


def test_deep_open_interest_decay_across_many_columns() -> None:
    """OI repeatedly collapses to 1/20 and recovers: the close-out scale decays past e^-1000,
    forcing the engine to rebase its column blocks; values must still match."""
    n = 700
    rng = np.random.default_rng(3)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    oi = np.where(np.arange(n) % 2 == 0, 1_000.0, 50.0)
    series = _series(list(close), oi=list(oi))
    grid = _wide_grid(series, bins=25)
    for columns in (700, 37, 9):
        engine = run_engine(series, grid, columns=columns)
        ref, _ = reference_engine(series, grid, columns=columns)
        _assert_same(engine, ref, _atol(series))
