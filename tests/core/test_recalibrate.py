"""core.recalibrate: one grid step per setting, the proposal scored out of sample, the
verdict of each mode, and too little data."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.calibrate import LEVERAGE_MIXES, SEARCH_SPACE, describe
from core.levels import EngineParams
from core.models import MarketSeries
from core.pointintime import point_in_time
from core.recalibrate import MarketData, changes, from_description, grid_step, recalibrate
from core.scoring import RealLiquidations
from core.sim import simulate

H = 3_600_000
LOOKBACK = 72
TRUTH = dataclasses.replace(
    EngineParams(), half_life_hours=24.0, tiers=LEVERAGE_MIXES["retail-heavy"], entry="typical"
)

settings = st.fixed_dictionaries(
    {name: st.sampled_from(values) for name, values in SEARCH_SPACE.items()}
)


def params(values: dict[str, object]) -> EngineParams:
    return from_description(EngineParams(), values)


@pytest.fixture(scope="module")
def market() -> MarketData:
    """A market whose 'real' liquidations the TRUTH settings made (lognormal noise per hour)."""
    series: MarketSeries = simulate("churn", seed=5, candles=900, timeframe="1h").series
    long_usd, short_usd = point_in_time(series, TRUTH, LOOKBACK)
    rng = np.random.default_rng(0)
    keep = slice(LOOKBACK, None)
    n = len(series) - LOOKBACK
    real = RealLiquidations(
        series.timestamps[keep],
        series.timestamps[keep] + H,
        long_usd[keep] * rng.lognormal(0, 0.1, n),
        short_usd[keep] * rng.lognormal(0, 0.1, n),
    )
    return MarketData("BTC/USDT:USDT", series, real)


@given(settings, settings, st.sampled_from([12.0, 100.0, 30.0, math.inf]))
def test_a_grid_step_moves_each_setting_at_most_one_step_toward_the_target(
    start: dict[str, object], goal: dict[str, object], half_life: float
) -> None:
    current = dataclasses.replace(params(start), half_life_hours=half_life)
    target = params(goal)
    stepped = grid_step(current, target)
    grid = sorted(SEARCH_SPACE["half_life_hours"])
    for name in ("half_life_hours", "side_lean"):
        a, b, c = (getattr(p, name) for p in (current, stepped, target))
        lo, hi = min(a, c), max(a, c)
        assert lo <= b <= hi  # toward the target, never past it
        values = grid if name == "half_life_hours" else sorted(SEARCH_SPACE[name])
        between = [v for v in values if min(a, b) < v < max(a, b)]
        assert between == []  # no grid value skipped: one step at most
    for name in ("tiers", "entry"):
        assert getattr(stepped, name) == getattr(target, name)
    assert stepped.leveraged_share == current.leveraged_share
    assert grid_step(target, target) == target


def test_descriptions_round_trip() -> None:
    for mix in LEVERAGE_MIXES:
        p = dataclasses.replace(TRUTH, tiers=LEVERAGE_MIXES[mix], half_life_hours=math.inf)
        assert from_description(EngineParams(), describe(p)) == dataclasses.replace(
            p, leveraged_share=EngineParams().leveraged_share
        )
    assert changes(EngineParams(), EngineParams()) == {}


def test_suggest_proposes_the_search_result_and_scores_it_out_of_sample(market: MarketData) -> None:
    current = EngineParams()
    d = recalibrate([market], current, mode="suggest", lookback=LOOKBACK, candle_ms=H)
    assert d.kind == "suggest" and d.candidate == d.proposal and d.gain > 0
    moved = d.changes()
    assert moved["half_life_hours"][1] == TRUTH.half_life_hours  # the settings that made it
    assert moved["entry"] == ("range", "typical")
    (check,) = d.checks
    assert check.hours == len(market.real) - round(len(market.real) * 0.6)
    assert d.candidate is not None and d.candidate.leveraged_share == current.leveraged_share


def test_auto_adopts_one_step_only_when_it_wins_by_the_margin(market: MarketData) -> None:
    d = recalibrate([market], EngineParams(), mode="auto", lookback=LOOKBACK, candle_ms=H)
    assert d.kind == "adopt" and d.gain >= d.margin
    assert d.changes()["half_life_hours"] == (100.0, 72.0)  # one step of 100 → 24
    assert d.candidate == grid_step(EngineParams(), d.proposal)  # type: ignore[arg-type]
    strict = recalibrate(
        [market], EngineParams(), mode="auto", lookback=LOOKBACK, candle_ms=H, margin=1.0
    )
    assert strict.kind == "keep" and strict.gain < 1.0


def test_too_little_data_changes_nothing(market: MarketData) -> None:
    d = recalibrate(
        [market], EngineParams(), mode="auto", lookback=LOOKBACK, candle_ms=H, min_hours=10_000
    )
    assert d.kind == "too_little_data" and d.candidate is None and d.checks == ()
    assert d.hours == {market.symbol: len(market.real)}
    assert recalibrate([], EngineParams(), mode="suggest", lookback=1, candle_ms=H).kind == (
        "too_little_data"
    )
