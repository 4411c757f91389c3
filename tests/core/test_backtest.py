"""core.backtest: point-in-time estimates, cluster hits, the flat-OI placebo, the final map."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.backtest import cluster_hits, estimate, final_map, flat_open_interest
from core.clusters import find_clusters
from core.levels import EngineParams, default_grid, run_engine
from core.models import MarketSeries, ModelError, Side
from core.pointintime import point_in_time
from core.sim import simulate

LOOKBACK = 96


@pytest.fixture(scope="module")
def series() -> MarketSeries:
    return simulate("balanced", seed=3, candles=400).series


def _edited_after(series: MarketSeries, t: int) -> MarketSeries:
    """``series`` with every value from candle ``t + 1`` on changed (and OI at ``t``)."""
    rng = np.random.default_rng(1)

    def bump(a: np.ndarray, start: int) -> np.ndarray:
        out = a.copy()
        out[start:] *= rng.uniform(0.8, 1.25, len(out) - start)
        return out

    close = bump(series.close, t + 1)
    open_ = bump(series.open, t + 1)
    high = np.maximum(bump(series.high, t + 1), np.maximum(open_, close))
    low = np.minimum(bump(series.low, t + 1), np.minimum(open_, close))
    assert series.open_interest is not None
    volume = bump(series.volume, t)
    taker = None if series.taker_buy_volume is None else np.minimum(series.taker_buy_volume, volume)
    return MarketSeries(
        timestamps=series.timestamps,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        taker_buy_volume=taker,
        open_interest=bump(series.open_interest, t),
    )


def test_estimates_start_after_the_warm_up_and_match_point_in_time(series: MarketSeries) -> None:
    run = estimate(series, EngineParams(), lookback=LOOKBACK)
    long_usd, short_usd = point_in_time(series, EngineParams(), LOOKBACK)
    np.testing.assert_array_equal(run.estimates.open_ms, series.timestamps[LOOKBACK:])
    np.testing.assert_array_equal(run.estimates.long_usd, long_usd[LOOKBACK:])
    np.testing.assert_array_equal(run.estimates.short_usd, short_usd[LOOKBACK:])
    assert run.estimates.hit_long is None  # no map cadence given: no hits


def test_estimate_of_candle_t_ignores_everything_after_its_high_and_low(
    series: MarketSeries,
) -> None:
    t = 250
    params = EngineParams()
    before = estimate(series, params, lookback=LOOKBACK, map_every=4)
    after = estimate(_edited_after(series, t), params, lookback=LOOKBACK, map_every=4)
    k = t - LOOKBACK  # index of candle t among the estimates
    np.testing.assert_array_equal(
        before.estimates.long_usd[: k + 1], after.estimates.long_usd[: k + 1]
    )
    np.testing.assert_array_equal(
        before.estimates.short_usd[: k + 1], after.estimates.short_usd[: k + 1]
    )
    assert before.estimates.hit_long is not None and after.estimates.hit_long is not None
    # hits of candle t use maps made before t and t's own range only
    np.testing.assert_array_equal(
        before.estimates.hit_long[: k + 1], after.estimates.hit_long[: k + 1]
    )


def test_cluster_hits_are_first_touches_of_the_reported_clusters(series: MarketSeries) -> None:
    params = EngineParams()
    start, every = 200, 12
    hit_long, hit_short = cluster_hits(
        series, params, lookback=LOOKBACK, start=start, map_every=every
    )
    assert not hit_long[:start].any() and not hit_short[:start].any()
    # slow reference for one map: the clusters of the map before candle 212
    t0 = 212
    past = series.slice(t0 - LOOKBACK, t0)
    lmap = run_engine(past, default_grid(past), params, columns=1).map
    want_long = np.zeros(every, np.bool_)
    want_short = np.zeros(every, np.bool_)
    for c in find_clusters(lmap, top=5):
        for i in range(every):
            if c.side == Side.LONG and series.low[t0 + i] <= c.price:
                want_long[i] = True
                break
            if c.side == Side.SHORT and series.high[t0 + i] >= c.price:
                want_short[i] = True
                break
    np.testing.assert_array_equal(hit_long[t0 : t0 + every], want_long)
    np.testing.assert_array_equal(hit_short[t0 : t0 + every], want_short)


def test_progress_counts_every_map(series: MarketSeries) -> None:
    calls: list[tuple[int, int]] = []
    cluster_hits(
        series,
        EngineParams(),
        lookback=LOOKBACK,
        start=300,
        map_every=25,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls == [(i, 4) for i in range(1, 5)]


def test_placebo_keeps_gaps_and_removes_the_open_interest_signal(series: MarketSeries) -> None:
    assert series.open_interest is not None
    oi = series.open_interest.copy()
    oi[10:13] = np.nan
    gapped = dataclasses.replace(series, open_interest=oi)
    flat = flat_open_interest(gapped).open_interest
    assert flat is not None
    assert np.isnan(flat[10:13]).all()
    known = np.isfinite(flat)
    assert np.unique(flat[known]).size == 1
    assert flat[known][0] == pytest.approx(np.nanmean(oi))


def test_final_map_is_the_map_of_the_last_lookback(series: MarketSeries) -> None:
    m = final_map(series, EngineParams(), lookback=LOOKBACK)
    window = series.slice(len(series) - LOOKBACK)
    want = run_engine(window, default_grid(window), EngineParams(), columns=1).map
    np.testing.assert_array_equal(m.long, want.long)
    np.testing.assert_array_equal(m.short, want.short)
    assert m.price == series.close[-1]


def test_a_warm_up_longer_than_the_series_is_a_clear_error(series: MarketSeries) -> None:
    with pytest.raises(ModelError, match="warm-up: 400 candles leave nothing to score"):
        estimate(series, EngineParams(), lookback=400)
    with pytest.raises(ModelError, match="map_every: must be >= 1"):
        cluster_hits(series, EngineParams(), lookback=10, start=20, map_every=0)
