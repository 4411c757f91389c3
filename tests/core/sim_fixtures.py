"""Simulated markets and the invariant checks shared by the synthetic-market tests."""

from __future__ import annotations

import numpy as np
import pytest

from core.brackets import DEFAULT_BTCUSDT_BRACKETS, liquidation_price
from core.models import FloatArray, Side
from core.sim import SimMarket, simulate

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


def arrays(m: SimMarket) -> dict[str, np.ndarray]:
    """Every array of a run by name, for bit-for-bit comparisons."""
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
