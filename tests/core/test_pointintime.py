"""Point-in-time estimates (core.pointintime): one run equals a fresh run per window, and
nothing after candle t (nor t's own open interest, volume or close) changes estimate t."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.levels import EngineParams, LeverageTiers, default_grid, run_engine
from core.models import MarketSeries, ModelError
from core.pointintime import point_in_time

PARAMS = (
    EngineParams(),
    EngineParams(half_life_hours=math.inf, entry="typical"),
    EngineParams(half_life_hours=2.0, side_split="taker", side_lean=0.5),
    EngineParams(tiers=LeverageTiers((20.0, 125.0), (1.0, 1.0)), side_split="candle"),
)


def _market(n: int, seed: int, *, hourly: bool = True) -> MarketSeries:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.008, n)))
    open_ = np.r_[100.0, close[:-1]]
    oi = 1_000.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    oi[rng.integers(0, n, 2)] = np.nan
    volume = rng.uniform(1, 50, n)
    step = 3_600_000 if hourly else 300_000
    return MarketSeries(
        timestamps=1_700_000_000_000 + step * np.arange(n, dtype=np.int64),
        open=open_,
        high=np.maximum(open_, close) * (1 + rng.uniform(0, 0.006, n)),
        low=np.minimum(open_, close) * (1 - rng.uniform(0, 0.006, n)),
        close=close,
        volume=volume,
        taker_buy_volume=volume * rng.uniform(0, 1, n),
        open_interest=oi,
    )


def _fresh(
    series: MarketSeries, params: EngineParams, t: int, lookback: int
) -> tuple[float, float]:
    window = series.slice(max(0, t - lookback - 1), t + 1)
    out = run_engine(window, default_grid(window, bins=8), params, columns=1).realized
    return float(out.long[-1]), float(out.short[-1])


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("lookback", [1, 2, 7, 40, 500])
def test_equals_a_fresh_engine_run_over_each_window(params: EngineParams, lookback: int) -> None:
    series = _market(160, seed=lookback)
    est_long, est_short = point_in_time(series, params, lookback)
    assert est_long.shape == est_short.shape == (160,)
    for t in (0, 1, 5, lookback - 1, lookback, lookback + 1, lookback + 2, 80, 159):
        if not 0 <= t < 160:
            continue
        want_long, want_short = _fresh(series, params, t, lookback)
        assert est_long[t] == pytest.approx(want_long, rel=1e-9, abs=1e-9)
        assert est_short[t] == pytest.approx(want_short, rel=1e-9, abs=1e-9)
    assert est_long.sum() + est_short.sum() > 0


def test_whole_series_lookback_is_the_engine_realised_series() -> None:
    series = _market(120, seed=4, hourly=False)
    est_long, est_short = point_in_time(series, EngineParams(), 119)
    realised = run_engine(series, default_grid(series), EngineParams()).realized
    np.testing.assert_allclose(est_long, realised.long, rtol=1e-12)
    np.testing.assert_allclose(est_short, realised.short, rtol=1e-12)


def _perturbed(series: MarketSeries, t: int, seed: int) -> MarketSeries:
    """``series`` with every value after candle ``t`` redrawn, and candle ``t``'s open
    interest, volume, taker volume, open and close changed (its high and low kept)."""
    rng = np.random.default_rng(seed)
    n = len(series)
    after = slice(t + 1, n)

    def redraw(values: np.ndarray, scale: float) -> np.ndarray:
        out = np.array(values, dtype=np.float64)
        out[after] = out[after] * rng.uniform(1 - scale, 1 + scale, n - t - 1)
        return out

    close = redraw(series.close, 0.05)
    open_ = redraw(series.open, 0.05)
    high = redraw(series.high, 0.05)
    low = redraw(series.low, 0.05)
    hi, lo = float(series.high[t]), float(series.low[t])
    open_[t], close[t] = lo + 0.9 * (hi - lo), lo + 0.1 * (hi - lo)
    high = np.maximum(high, np.maximum(open_, close))
    low = np.minimum(low, np.minimum(open_, close))
    volume = redraw(series.volume, 0.9)
    volume[t] *= 7.0
    oi = series.open_interest
    assert oi is not None
    new_oi = redraw(oi, 0.5)
    new_oi[t] = 3.0 * np.nan_to_num(oi[t], nan=500.0)
    taker = volume * rng.uniform(0, 1, n)
    taker[:t] = np.asarray(series.taker_buy_volume)[:t]
    return MarketSeries(
        timestamps=series.timestamps,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        taker_buy_volume=taker,
        open_interest=new_oi,
    )


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 89),
    st.integers(1, 60),
    st.integers(0, 2**32 - 1),
    st.sampled_from(PARAMS),
)
def test_data_after_candle_t_never_changes_estimate_t(
    t: int, lookback: int, seed: int, params: EngineParams
) -> None:
    series = _market(90, seed=seed % 1000)
    before_long, before_short = point_in_time(series, params, lookback)
    changed = _perturbed(series, t, seed)
    after_long, after_short = point_in_time(changed, params, lookback)
    np.testing.assert_allclose(after_long[: t + 1], before_long[: t + 1], rtol=1e-12, atol=0)
    np.testing.assert_allclose(after_short[: t + 1], before_short[: t + 1], rtol=1e-12, atol=0)


def test_flat_market_without_open_interest_estimates_nothing() -> None:
    series = replace(_market(30, seed=1), open_interest=None)
    est_long, est_short = point_in_time(series, EngineParams(), 10)
    assert not est_long.any() and not est_short.any()
    empty_long, empty_short = point_in_time(series.slice(0, 0), EngineParams(), 10)
    assert len(empty_long) == len(empty_short) == 0


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_lookback_must_be_a_positive_integer(bad: object) -> None:
    with pytest.raises(ModelError, match="lookback_candles"):
        point_in_time(_market(10, seed=0), EngineParams(), bad)  # type: ignore[arg-type]
