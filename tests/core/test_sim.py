"""The synthetic market: determinism, exact open interest, honest forced closes, cascades."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.brackets import DEFAULT_BTCUSDT_BRACKETS, liquidation_price
from core.models import FloatArray, MarketSeries, ModelError, Side
from core.results import PriceGrid
from core.sim import SCENARIOS, Scenario, SimMarket, simulate
from core.sim_scenarios import DEFAULT_LEVERAGE_TIERS, DEFAULT_LEVERAGE_WEIGHTS

SHORT_RUN = 400  # candles: enough for liquidations and cascades, fast enough for every test


def filled(arr: FloatArray | None) -> FloatArray:
    """A series field the sim always fills."""
    assert arr is not None
    return arr


@pytest.fixture(scope="module")
def seed_week() -> SimMarket:
    return simulate("seed")  # the default run `liqwatch demo` shows


@pytest.fixture(scope="module")
def balanced() -> SimMarket:
    return simulate("balanced", seed=3, candles=SHORT_RUN)


@pytest.fixture(scope="module")
def high_leverage() -> SimMarket:
    return simulate("high-leverage", seed=5, candles=SHORT_RUN)


def _arrays(m: SimMarket) -> dict[str, np.ndarray]:
    s = m.series
    out = {f: getattr(s, f) for f in ("open", "high", "low", "close", "volume")}
    out |= {
        "taker_buy": s.taker_buy_volume,
        "oi": s.open_interest,
        "funding": s.funding_rate,
        "ratio": s.long_short_ratio,
        "print_times": m.snapshot.prints.times,
        "print_notionals": m.snapshot.prints.notionals,
        "liq": m.ledger.liquidation_prices,
        "closed_at": m.ledger.closed_at,
    }
    return out


def check_invariants(m: SimMarket) -> None:
    """Every rule the issue states, checked on one run."""
    s, lg = m.series, m.ledger
    n = len(s)
    # Open interest is the sum of open position quantities after every candle.
    direct = np.array([lg.quantities[lg.open_after(i)].sum() for i in range(n)])
    assert s.open_interest is not None
    np.testing.assert_allclose(s.open_interest, direct, rtol=1e-10, atol=0)
    # Liquidation prices are Binance isolated prices with brackets by each position's notional.
    expected = liquidation_price(
        lg.entries, lg.leverages, lg.sides.astype(float), lg.notionals, DEFAULT_BTCUSDT_BRACKETS
    )
    np.testing.assert_allclose(lg.liquidation_prices, expected, rtol=1e-12)
    # Every forced close happened in a candle whose range contains its liquidation price,
    # after the candle it was opened in, and closed it.
    f = np.flatnonzero(lg.forced)
    t = lg.closed_at[f]
    assert np.all(s.low[t] <= lg.liquidation_prices[f])
    assert np.all(lg.liquidation_prices[f] <= s.high[t])
    assert np.all(lg.opened_at[f] < t)
    for candle in np.unique(t)[:: max(1, len(np.unique(t)) // 20)]:
        gone = lg.liquidation_prices[f[t == candle]]
        assert not np.isin(gone, m.positions_at(int(candle)).liquidation_prices).any()
    np.testing.assert_array_equal(lg.close_prices[f], lg.liquidation_prices[f])
    # Positions that live through a candle were never crossed by it: check a spread of candles.
    for i in [*range(0, n, max(1, n // 25)), n - 1]:
        through = (lg.opened_at < i) & (lg.closed_at > i)
        is_long = lg.sides > 0
        assert np.all(lg.liquidation_prices[through & is_long] < s.low[i])
        assert np.all(lg.liquidation_prices[through & ~is_long] > s.high[i])
        # and positions open after a candle sit on their own side of its close
        pos = m.positions_at(i)
        assert np.all(pos.liquidation_prices[pos.sides > 0] < s.close[i])
        assert np.all(pos.liquidation_prices[pos.sides < 0] > s.close[i])
    # Liquidation prints are exactly the forced closes.
    prints = m.snapshot.prints
    assert len(prints) == f.size
    np.testing.assert_allclose(
        prints.notionals.sum(), (lg.quantities[f] * lg.liquidation_prices[f]).sum(), rtol=1e-12
    )
    for side in (Side.LONG, Side.SHORT):
        assert np.sum(prints.sides == side) == np.sum(lg.sides[f] == side)
    longs, shorts = prints.per_candle(s.timestamps, s.timestamps[1] - s.timestamps[0])
    forced_short = np.bincount(t, (lg.quantities * lg.liquidation_prices)[f] * (lg.sides[f] < 0), n)
    np.testing.assert_allclose(shorts, forced_short, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(longs.sum() + shorts.sum(), prints.notionals.sum(), rtol=1e-12)
    # Cascade bookkeeping: rounds per candle agree with the ledger.
    per_candle = np.zeros(n, np.int64)
    np.maximum.at(per_candle, t, lg.forced_round[f])
    np.testing.assert_array_equal(per_candle, m.cascade_rounds)


def test_same_seed_same_market_different_seed_different() -> None:
    a, b = simulate("chop", seed=11, candles=300), simulate("chop", seed=11, candles=300)
    c = simulate("chop", seed=12, candles=300)
    for name, arr in _arrays(a).items():
        np.testing.assert_array_equal(arr, _arrays(b)[name], err_msg=name)
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
        assert filled(s.open_interest)[i] == pytest.approx(pos.quantities.sum(), rel=1e-10)
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
    # OI in the billions of USDT, as for BTC
    assert 2e9 < filled(seed_week.series.open_interest)[-1] * price < 2e10
    assert len(seed_week.ledger) <= 150_000


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
