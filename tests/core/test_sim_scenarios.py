"""Synthetic scenarios that break the model's assumptions: churn, leaning volume, USD OI."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.models import FloatArray, MarketSeries, ModelError
from core.sim import SCENARIOS, Scenario, SimMarket, simulate
from core.sim_scenarios import DEFAULT_LEVERAGE_TIERS, DEFAULT_LEVERAGE_WEIGHTS
from tests.core.sim_fixtures import SHORT_RUN, accounts, arrays, check_invariants, filled, seed_week

__all__ = ["seed_week"]  # the fixture, used by name


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
        for name, arr in arrays(a).items():
            np.testing.assert_array_equal(arr, arrays(b)[name], err_msg=name)


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
    for name, arr in arrays(usd).items():
        np.testing.assert_array_equal(arr, arrays(seed_week)[name], err_msg=name)
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
