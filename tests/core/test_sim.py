"""The synthetic market: determinism, exact open interest, honest forced closes, cascades."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.brackets import DEFAULT_BTCUSDT_BRACKETS
from core.models import MarketSeries, ModelError
from core.results import PriceGrid
from core.sim import SCENARIOS, Scenario, SimMarket, simulate
from core.sim_scenarios import DEFAULT_LEVERAGE_TIERS, DEFAULT_LEVERAGE_WEIGHTS, SIM_LEVERAGED_SHARE
from tests.core.sim_fixtures import (
    SHORT_RUN,
    accounts,
    arrays,
    balanced,
    check_invariants,
    filled,
    high_leverage,
    seed_week,
)

__all__ = ["balanced", "high_leverage", "seed_week"]  # the fixtures, used by name


def test_same_seed_same_market_different_seed_different() -> None:
    a, b = simulate("chop", seed=11, candles=300), simulate("chop", seed=11, candles=300)
    c = simulate("chop", seed=12, candles=300)
    for name, arr in arrays(a).items():
        np.testing.assert_array_equal(arr, arrays(b)[name], err_msg=name)
    assert not np.array_equal(a.series.close, c.series.close)
    assert len(a.ledger) != len(c.ledger) or not np.array_equal(
        a.ledger.notionals, c.ledger.notionals
    )


def test_invariants_on_the_default_seed_week(seed_week: SimMarket) -> None:
    assert len(seed_week.series) == 2016
    check_invariants(seed_week)


def test_invariants_on_a_cascading_market(high_leverage: SimMarket) -> None:
    check_invariants(high_leverage)


@settings(max_examples=12)
@given(
    seed=st.integers(0, 2**32 - 1),
    scenario=st.sampled_from(sorted(SCENARIOS)),
    timeframe=st.sampled_from(["1m", "5m", "1h"]),
)
def test_invariants_hold_for_any_seed(seed: int, scenario: str, timeframe: str) -> None:
    check_invariants(simulate(scenario, seed=seed, candles=120, timeframe=timeframe))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_emits_a_full_snapshot(name: str) -> None:
    m = simulate(name, seed=1, candles=200, symbol="ETH/USDT:USDT", start_price=3_000.0)
    snap, s = m.snapshot, m.series
    assert (snap.exchange, snap.symbol, snap.timeframe) == ("sim", "ETH/USDT:USDT", "5m")
    assert SCENARIOS[name].description and m.scenario.name == name
    for field in ("taker_buy_volume", "open_interest", "funding_rate", "long_short_ratio"):
        arr = getattr(s, field)
        assert arr is not None and np.all(np.isfinite(arr)), field
    MarketSeries(**{f.name: getattr(s, f.name) for f in dataclasses.fields(s)})  # re-validates
    assert s.timestamps[0] == 1_767_225_600_000
    assert np.all(np.diff(s.timestamps) == 300_000)
    np.testing.assert_array_equal(s.open[1:], s.close[:-1])
    assert snap.fetched_at == s.timestamps[-1] + 300_000
    assert snap.book is not None
    assert snap.book.mid == pytest.approx(s.close[-1], rel=1e-3)
    assert np.all(np.abs(filled(s.funding_rate)) <= 0.003)


def test_series_derivatives_are_the_positions(balanced: SimMarket) -> None:
    s, lg = balanced.series, balanced.ledger
    for i in (0, 150, len(s) - 1):
        pos = balanced.positions_at(i)
        longs, shorts = np.sum(pos.sides > 0), np.sum(pos.sides < 0)
        assert filled(s.long_short_ratio)[i] == pytest.approx(longs / shorts)
        oi = accounts(balanced, s.open_interest)[i]
        assert oi == pytest.approx(pos.quantities.sum(), rel=1e-10)
    # New positions enter inside their candle's range.
    new = lg.opened_at >= 0
    assert np.all(lg.entries[new] >= s.low[lg.opened_at[new]])
    assert np.all(lg.entries[new] <= s.high[lg.opened_at[new]])
    # Taker-buy volume is part of volume and carries the opening flow.
    taker_buy = filled(s.taker_buy_volume)
    assert np.all(taker_buy <= s.volume)
    assert 0.3 < taker_buy.sum() / s.volume.sum() < 0.7


def test_taker_side_follows_the_scenario_bias() -> None:
    seed = simulate("seed", seed=2, candles=SHORT_RUN).series
    heavy = simulate("long-heavy", seed=2, candles=SHORT_RUN).series
    assert filled(seed.taker_buy_volume).sum() / seed.volume.sum() < 0.5
    assert filled(heavy.taker_buy_volume).sum() / heavy.volume.sum() > 0.5
    assert filled(seed.long_short_ratio)[-1] < 1 < filled(heavy.long_short_ratio)[-1]


def test_leverage_mix_is_the_scenarios() -> None:
    m = simulate("balanced", seed=4, candles=SHORT_RUN)
    lg = m.ledger
    # New accounts in tier 1 (which allows every default tier, so nothing is capped); the
    # positions open before the series are survivors, skewed to low leverage on purpose.
    small = (lg.notionals < 300_000) & (lg.opened_at >= 0)
    levs = lg.leverages[small]
    share = np.array([np.mean(levs == tier) for tier in DEFAULT_LEVERAGE_TIERS])
    np.testing.assert_allclose(share, DEFAULT_LEVERAGE_WEIGHTS, atol=0.02)
    hl = simulate("high-leverage", seed=4, candles=SHORT_RUN).ledger
    assert np.mean(hl.leverages >= 50) > np.mean(lg.leverages >= 50) + 0.2
    # no account exceeds what the exchange allows at its notional
    idx = np.searchsorted(DEFAULT_BTCUSDT_BRACKETS.floors, lg.notionals, side="right") - 1
    assert np.all(lg.leverages <= DEFAULT_BTCUSDT_BRACKETS.max_leverage[idx])


def test_seed_scenario_has_a_short_wall_and_thin_longs(seed_week: SimMarket) -> None:
    price = float(seed_week.series.close[-1])
    grid = PriceGrid.around(price * 0.7, price * 1.3, 600)
    truth = seed_week.true_map(grid)
    assert truth.price == price and truth.time == seed_week.series.timestamps[-1]
    c = grid.centers
    short_above = truth.short[(c > price) & (c <= price * 1.1)].sum()
    long_below = truth.long[(c < price) & (c >= price * 0.9)].sum()
    assert short_above > 5 * long_below > 0
    wall = truth.short[(c > price * 1.05) & (c <= price * 1.15)].sum()
    assert wall > 0.3 * truth.short[c > price].sum()  # a dense wall 5-15 % above
    # OI in the tens of billions of USDT, as for BTC across the market
    assert 2e10 < filled(seed_week.series.open_interest)[-1] * price < 2e11
    assert len(seed_week.ledger) <= 150_000


PLAIN = ("seed", "balanced", "long-heavy", "chop")


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_week_of_prints_is_a_fraction_of_open_interest(name: str) -> None:
    """Issue 14: 7 days of prints exceeded open interest (ETH: $9.5B against $5.2B). On
    real exchanges a day liquidates a few percent of open interest at most."""
    m = simulate(name, seed=11, candles=2016)
    s = m.series
    oi_usd = filled(s.open_interest) * s.close
    per_day = float(m.snapshot.prints.notionals.sum()) / 7 / float(oi_usd.mean())
    assert per_day < 0.12, f"{name}: {per_day:.1%} of open interest liquidated a day"
    if name in PLAIN:  # a plain week: 1-3 % a day
        assert 0.003 < per_day < 0.035, f"{name}: {per_day:.1%} a day"
    # volume stays a market's: once to a few times open interest a day (the churning
    # scenarios turn their book over several times a day)
    volume_per_day = float((s.volume * s.close).sum()) / 7 / float(oi_usd.mean())
    assert 0.5 < volume_per_day < (4 if name in PLAIN else 15)


def test_the_leveraged_share_scales_what_is_published_only() -> None:
    whole = dataclasses.replace(SCENARIOS["balanced"], leveraged_share=1.0)
    a = simulate(whole, seed=3, candles=SHORT_RUN)
    b = simulate("balanced", seed=3, candles=SHORT_RUN)
    assert b.scenario.leveraged_share == SIM_LEVERAGED_SHARE == 0.1
    for name in ("open", "high", "low", "close"):  # the same market ...
        np.testing.assert_array_equal(getattr(a.series, name), getattr(b.series, name))
    np.testing.assert_array_equal(a.snapshot.prints.notionals, b.snapshot.prints.notionals)
    np.testing.assert_array_equal(a.ledger.notionals, b.ledger.notionals)
    for field in ("open_interest", "volume", "taker_buy_volume"):  # ... ten times the size
        ratio = filled(getattr(b.series, field)) / filled(getattr(a.series, field))
        np.testing.assert_allclose(ratio[np.isfinite(ratio)], 10.0, rtol=1e-12)
    for field in ("funding_rate", "long_short_ratio"):  # proportions are the accounts'
        np.testing.assert_array_equal(getattr(a.series, field), getattr(b.series, field))
    with pytest.raises(ModelError, match="leveraged_share"):
        Scenario("bad", "x", leveraged_share=0.0)


def test_true_map_bins_the_open_positions(balanced: SimMarket) -> None:
    i = 200
    pos = balanced.positions_at(i)
    grid = PriceGrid.around(60_000, 130_000, 300, log=False)
    truth = balanced.true_map(grid, i)
    inside = (pos.liquidation_prices >= grid.edges[0]) & (pos.liquidation_prices <= grid.edges[-1])
    longs = pos.sides > 0
    assert truth.long.sum() == pytest.approx(pos.notionals[inside & longs].sum())
    assert truth.short.sum() == pytest.approx(pos.notionals[inside & ~longs].sum())
    assert truth.price == balanced.series.close[i]
    assert truth.long[grid.centers > truth.price].sum() == 0
    assert truth.short[grid.centers < truth.price].sum() == 0


def test_a_cascade_really_happens(high_leverage: SimMarket) -> None:
    m, s, lg = high_leverage, high_leverage.series, high_leverage.ledger
    cascades = np.flatnonzero(m.cascade_rounds >= 2)
    assert cascades.size > 0
    later = lg.forced & (lg.forced_round >= 2)
    t = lg.closed_at[later]
    liq = lg.liquidation_prices[later]
    shorts = lg.sides[later] < 0
    # Levels of round >= 2 lay beyond the exogenous range: only forced flow reached them.
    assert np.all(liq[shorts] > m.exogenous_high[t[shorts]])
    assert np.all(liq[~shorts] < m.exogenous_low[t[~shorts]])
    # ... and that flow moved the candle's extreme further.
    assert np.all(s.high[t[shorts]] > m.exogenous_high[t[shorts]])
    assert np.all(s.low[t[~shorts]] < m.exogenous_low[t[~shorts]])
    # A big one: forced flow alone extended some candle by more than 0.5 %.
    extension = np.maximum(s.high / m.exogenous_high, m.exogenous_low / s.low) - 1
    assert extension.max() > 0.005


def test_positions_are_read_only_and_indexable(balanced: SimMarket) -> None:
    with pytest.raises(ValueError, match="read-only"):
        balanced.ledger.liquidation_prices[0] = 1.0
    assert len(balanced.positions_at(-1)) == len(balanced.positions_at(SHORT_RUN - 1))
    with pytest.raises(ModelError, match="outside"):
        balanced.positions_at(SHORT_RUN)


def test_unknown_scenario_lists_the_available_names() -> None:
    with pytest.raises(ModelError, match="unknown") as err:
        simulate("moon")
    for name in SCENARIOS:
        assert name in str(err.value)


def test_custom_scenario_and_validation() -> None:
    mine = Scenario("flat", "No jumps, tiny volatility.", vol_per_day=0.001, jumps_per_day=0.0)
    m = simulate(mine, seed=1, candles=100)
    assert m.scenario is mine
    assert abs(np.log(m.series.close[-1] / 90_000.0)) < 0.02
    with pytest.raises(ModelError, match="leverage_weights"):
        Scenario("bad", "x", leverage_weights=(0.5, 0.5, 0.0, 0.0, 0.1))
    with pytest.raises(ModelError, match="leverage_tiers"):
        Scenario("bad", "x", leverage_tiers=(1.0, 10.0, 25.0, 50.0, 200.0))
    with pytest.raises(ModelError, match="timeframe"):
        simulate("seed", timeframe="7m")
