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
from core.sim_scenarios import (
    DEFAULT_LEVERAGE_TIERS,
    DEFAULT_LEVERAGE_WEIGHTS,
    SIM_LEVERAGED_SHARE,
)

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


def accounts(m: SimMarket, published: FloatArray | None) -> FloatArray:
    """A published quantity (open interest, volume) as the simulated accounts' own: the
    published series include the mirrored, never-liquidated rest of the market."""
    return filled(published) * m.scenario.leveraged_share


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
    # Open interest is the sum of open position quantities after every candle (divided by
    # the leveraged share: the rest of the market mirrors the accounts).
    direct = np.array([lg.quantities[lg.open_after(i)].sum() for i in range(n)])
    np.testing.assert_allclose(accounts(m, s.open_interest), direct, rtol=1e-10, atol=0)
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


# --- scenarios that break the model's assumptions -----------------------------------------

MODEL_WORLD = ("seed", "balanced", "long-heavy", "high-leverage", "chop")
NEW_SCENARIOS = tuple(name for name in SCENARIOS if name not in MODEL_WORLD)


def _opened(m: SimMarket) -> tuple[FloatArray, FloatArray]:
    """(base quantity opened, of which long) per candle, from the ledger."""
    lg, n = m.ledger, len(m.series)
    new = lg.opened_at >= 0
    qty = lg.quantities[new]
    total = np.bincount(lg.opened_at[new], qty, n).astype(np.float64)
    longs = np.bincount(lg.opened_at[new], qty * (lg.sides[new] > 0), n).astype(np.float64)
    return total, longs


def _voluntary_closes(m: SimMarket) -> tuple[FloatArray, FloatArray]:
    """(base quantity closed voluntarily, of which shorts) per candle, from the ledger."""
    lg, n = m.ledger, len(m.series)
    vol = ~lg.forced & (lg.closed_at < n)
    qty = lg.quantities[vol]
    total = np.bincount(lg.closed_at[vol], qty, n).astype(np.float64)
    shorts = np.bincount(lg.closed_at[vol], qty * (lg.sides[vol] < 0), n).astype(np.float64)
    return total, shorts


def _same_market(a: SimMarket, b: SimMarket) -> None:
    """Same prices, same positions (only the published volume may differ)."""
    for name in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(a.series, name), getattr(b.series, name))
    np.testing.assert_array_equal(filled(a.series.open_interest), filled(b.series.open_interest))
    np.testing.assert_array_equal(a.ledger.closed_at, b.ledger.closed_at)
    np.testing.assert_array_equal(a.ledger.notionals, b.ledger.notionals)


def test_the_models_world_is_reproduced_bit_for_bit(seed_week: SimMarket) -> None:
    # the demo's market (README numbers and reference PNGs depend on it)
    s = seed_week.series
    assert len(seed_week.ledger) == 105_909
    assert s.close[-1] == pytest.approx(92_740.55360343, rel=1e-12)
    # the accounts' open interest (published: / the leveraged share)
    assert accounts(seed_week, s.open_interest)[-1] == pytest.approx(72_945.19889559, rel=1e-12)
    # new fields at their defaults change nothing, at any candle length
    for name in MODEL_WORLD:
        plain = SCENARIOS[name]
        assert plain.background_lean == 0 and plain.close_taker_share == 1
        assert plain.oi_unit == "base" and not plain.background_exact
    explicit = dataclasses.replace(
        SCENARIOS["chop"], background_lean=0.0, close_taker_share=1.0, oi_unit="base"
    )
    for tf in ("5m", "1h"):
        a = simulate("chop", seed=9, candles=150, timeframe=tf)
        b = simulate(explicit, seed=9, candles=150, timeframe=tf)
        for name, arr in _arrays(a).items():
            np.testing.assert_array_equal(arr, _arrays(b)[name], err_msg=name)


@pytest.mark.parametrize("name", NEW_SCENARIOS)
def test_invariants_on_every_new_scenario(name: str) -> None:
    # open interest is the exact sum of the open positions at every candle, and the rest
    m = simulate(name, seed=21, candles=300)
    check_invariants(m)
    assert m.scenario.description


def test_churn_closes_old_positions_while_open_interest_stays_flat() -> None:
    n = SHORT_RUN
    churn, slow = (simulate(name, seed=3, candles=n) for name in ("churn", "balanced"))
    day = 288  # 5m candles
    i = n - 1 - day
    for m, low, high in ((churn, 0.0, 0.12), (slow, 0.5, 1.0)):
        lg = m.ledger
        hour = (lg.opened_at >= i - 12) & (lg.opened_at <= i)  # opened 24-25 h before the end
        alive = lg.notionals[hour & (lg.closed_at == n)].sum() / lg.notionals[hour].sum()
        assert low <= alive <= high, (m.scenario.name, alive)
    oi = filled(churn.series.open_interest)
    assert 0.8 < oi[-1] / oi[i] < 1.25  # ... even though open interest is flat
    assert oi.min() > 0.7 * oi.max()
    # the positions open before the series are almost all gone after a day, too
    start = churn.ledger.opened_at < 0
    gone = churn.ledger.notionals[start & (churn.ledger.closed_at <= day)].sum()
    assert gone > 0.9 * churn.ledger.notionals[start].sum()


def test_leaning_background_volume_overstates_the_opened_side() -> None:
    scn = SCENARIOS["leaning-volume"]
    lean = simulate(scn, seed=3, candles=SHORT_RUN)
    flat = simulate(dataclasses.replace(scn, background_lean=0.0), seed=3, candles=SHORT_RUN)
    _same_market(lean, flat)
    opened, longs = _opened(lean)
    opened_share = longs.sum() / opened.sum()
    assert 0.55 < opened_share < 0.65
    share = {
        m.scenario.background_lean: filled(m.series.taker_buy_volume).sum() / m.series.volume.sum()
        for m in (lean, flat)
    }
    assert share[2.0] > opened_share + 0.03  # leaning: the taker share overstates the openers
    assert share[0.0] < opened_share - 0.03  # balanced background dilutes it towards 1/2
    # Background volume is 3x the opened quantity, and the net taker flow per candle runs
    # several times the net opened flow.
    net_opened = 2 * longs - opened
    for m, lo, hi in ((lean, 4.0, 10.0), (flat, 0.5, 2.0)):
        s = m.series
        net = 2 * accounts(m, s.taker_buy_volume) - accounts(m, s.volume)
        slope = float(net @ net_opened / (net_opened @ net_opened))
        assert lo < slope < hi, (m.scenario.background_lean, slope)
    closes, _ = _voluntary_closes(lean)
    forced = lean.ledger.quantities[lean.ledger.forced].sum()
    background = accounts(lean, lean.series.volume).sum() - opened.sum() - closes.sum() - forced
    assert 2.5 < background / opened.sum() < 3.5


def test_passive_closes_make_no_taker_trade() -> None:
    scn = SCENARIOS["passive-closes"]
    runs = {
        c: simulate(dataclasses.replace(scn, close_taker_share=c), seed=3, candles=SHORT_RUN)
        for c in (0.0, scn.close_taker_share, 1.0)
    }
    for m in runs.values():
        _same_market(m, runs[1.0])
    closes, short_closes = _voluntary_closes(runs[1.0])
    assert closes.sum() > 0.2 * _opened(runs[1.0])[0].sum()
    none, some, every = (
        accounts(runs[c], runs[c].series.volume) for c in (0.0, scn.close_taker_share, 1.0)
    )
    # with no taker closes, closes add nothing to volume or taker buys ...
    np.testing.assert_allclose(every - none, closes, rtol=1e-9, atol=1e-9)
    taker_gap = accounts(runs[1.0], runs[1.0].series.taker_buy_volume) - accounts(
        runs[0.0], runs[0.0].series.taker_buy_volume
    )
    np.testing.assert_allclose(taker_gap, short_closes, rtol=1e-9, atol=1e-9)
    # ... and the scenario's mix has about its share of closes as taker trades
    extra = (some - none).sum() / closes.sum()
    assert extra == pytest.approx(scn.close_taker_share, abs=0.05)
    assert np.all(some <= every + 1e-9) and np.all(some >= none - 1e-9)


@pytest.mark.parametrize("name", ["light-leverage", "heavy-leverage", "mid-leverage"])
def test_the_ledgers_leverage_mix_is_the_scenarios(name: str) -> None:
    scn = SCENARIOS[name]
    lg = simulate(name, seed=4, candles=SHORT_RUN).ledger
    small = (lg.notionals < 300_000) & (lg.opened_at >= 0)  # bracket 1 allows every tier
    levs = lg.leverages[small]
    share = np.array([np.mean(levs == tier) for tier in scn.leverage_tiers])
    np.testing.assert_allclose(share, scn.leverage_weights, atol=0.02)
    mean_default = float(np.dot(DEFAULT_LEVERAGE_TIERS, DEFAULT_LEVERAGE_WEIGHTS))
    mean = float(levs.mean())
    if name == "light-leverage":
        assert mean < 0.5 * mean_default
    elif name == "heavy-leverage":
        assert mean > 1.5 * mean_default
    else:
        assert np.mean((levs >= 20) & (levs <= 50)) > 0.85


def test_open_interest_in_usd_at_the_source(seed_week: SimMarket) -> None:
    usd = simulate("oi-usd")
    # the market is the seed market bit for bit; only what the source publishes differs
    for name, arr in _arrays(usd).items():
        np.testing.assert_array_equal(arr, _arrays(seed_week)[name], err_msg=name)
    assert seed_week.source_snapshot is seed_week.snapshot
    source = usd.source_snapshot.series
    base = filled(usd.series.open_interest)
    np.testing.assert_allclose(filled(source.open_interest), base * usd.series.close, rtol=1e-15)
    np.testing.assert_array_equal(usd.open_interest_usd, filled(source.open_interest))
    assert filled(source.open_interest)[-1] / base[-1] > 50_000  # about the price
    for field in ("close", "volume", "taker_buy_volume", "funding_rate"):
        np.testing.assert_array_equal(getattr(source, field), getattr(usd.series, field))
    assert usd.source_snapshot.prints is usd.snapshot.prints
    MarketSeries(**{f.name: getattr(source, f.name) for f in dataclasses.fields(source)})


def test_new_scenario_fields_are_validated() -> None:
    with pytest.raises(ModelError, match="close_taker_share"):
        Scenario("bad", "x", close_taker_share=1.5)
    with pytest.raises(ModelError, match="background_lean"):
        Scenario("bad", "x", background_lean=-1.0)
    with pytest.raises(ModelError, match="oi_unit"):
        Scenario("bad", "x", oi_unit="eur")  # type: ignore[arg-type]
