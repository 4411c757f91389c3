"""The candle loop of the synthetic market: traders, forced closes and cascades.

Everything random that does not depend on the realised price is drawn up front, from
two independent streams of one seed (market shocks, traders), so the run is deterministic
and a change to the trader mix leaves the exogenous shocks alone. A third stream, drawn only
when a scenario asks for passive closes, picks which closes make no taker trade, so the
scenarios without them reproduce their runs bit for bit.

Per candle ``t`` (open = previous close):

1. **Exogenous move.** Log return = drift + noise + jump (− mean reversion toward the start
   price); high and low are sampled exactly as the extremes of a Brownian bridge.
2. **Voluntary closes.** Positions whose pre-drawn holding time ends at ``t`` close
   (memoryless: a geometric number of candles with mean ``*_hold_days``). A share
   ``close_taker_share`` of them are taker trades; the others add no volume.
3. **Forced closes.** Open shorts whose liquidation price is <= high and longs whose
   liquidation price is >= low are force-closed at their liquidation price. Their market
   orders (shorts buy, longs sell) walk the depth ``D(v) = depth_1pct · (v / 1 %)^β`` and
   extend the high (low) by ``v``, which crosses more levels: iterate to the fixed point.
   Round 1 is what the exogenous range crossed; round >= 2 exists only because of forced
   flow — a cascade. A share of the impact stays in the close.
4. **Opens.** New positions enter near the close (within ``ENTRY_BAND`` and the candle
   range), so every new long's liquidation price is below the close and every short's
   above; they are at risk from the next candle on (the engine's convention too).
5. **Volume.** Taker volume is the voluntary closes that are taker trades, the forced
   closes, the opens and background volume that opens nothing; the background's taker-buy
   share is ``1/2 + background_lean · (s − 1/2) + noise`` (``s``: the long share of the
   candle's opened quantity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from core.brackets import Brackets, liquidation_price
from core.models import FloatArray, IntArray
from core.sim_scenarios import Scenario

__all__ = ["ENTRY_BAND", "MAX_ACCOUNTS_PER_CANDLE", "RawRun", "impact", "run"]

#: New positions enter within this log distance of the candle's close (< 0.40 %, the
#: closest a 125x position's liquidation price can be to its entry).
ENTRY_BAND: Final = 0.0025
#: Resolution cap: above this many accounts per candle, accounts are merged (bigger notionals).
MAX_ACCOUNTS_PER_CANDLE: Final = 60.0
_MAX_ROUNDS: Final = 10_000


def impact(forced_notional: float, scenario: Scenario) -> float:
    """Log price move ``v`` that eats ``forced_notional`` USDT of one side of the book."""
    if forced_notional <= 0:
        return 0.0
    return float(0.01 * (forced_notional / scenario.depth_1pct) ** (1.0 / scenario.depth_exponent))


@dataclass(frozen=True, eq=False)
class RawRun:
    """Arrays of one run: candles, and every position that was ever open (the ledger)."""

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    exogenous_high: FloatArray
    exogenous_low: FloatArray
    cascade_rounds: IntArray  # per candle: max forced round on either side (0 = none)
    volume: FloatArray  # base units
    taker_buy_volume: FloatArray  # base units
    sides: NDArray[np.int8]
    entries: FloatArray
    leverages: FloatArray
    notionals: FloatArray
    quantities: FloatArray
    liquidation_prices: FloatArray
    opened_at: IntArray  # -1: open before the first candle
    closed_at: IntArray  # == number of candles: still open at the end
    forced: NDArray[np.bool_]
    forced_round: IntArray  # 0 unless forced
    close_prices: FloatArray  # nan while open; liquidation price when forced
    forced_times: FloatArray  # fraction of the candle at which a forced close printed


def _draw_accounts(
    rng: np.random.Generator, scenario: Scenario, count: int, notional_scale: float
) -> tuple[NDArray[np.int8], FloatArray, FloatArray]:
    """Sides, notionals and leverages of ``count`` new accounts (leverage unchecked)."""
    sides = np.where(rng.random(count) < scenario.long_share, 1, -1).astype(np.int8)
    notionals = (
        notional_scale
        * scenario.notional_median
        * np.exp(scenario.notional_sigma * rng.standard_normal(count))
    )
    tiers = np.asarray(scenario.leverage_tiers, dtype=np.float64)
    leverages = tiers[rng.choice(len(tiers), size=count, p=scenario.leverage_weights)]
    return sides, notionals, leverages


def _cap_leverage(leverages: FloatArray, notionals: FloatArray, brackets: Brackets) -> FloatArray:
    """No account can exceed the bracket's maximum leverage for its notional."""
    idx = np.clip(np.searchsorted(brackets.floors, notionals, side="right") - 1, 0, None)
    capped: FloatArray = np.minimum(leverages, brackets.max_leverage[idx])
    return capped


def _initial_population(
    rng: np.random.Generator,
    scenario: Scenario,
    start_price: float,
    notional_scale: float,
    brackets: Brackets,
) -> tuple[NDArray[np.int8], FloatArray, FloatArray, FloatArray, FloatArray]:
    """Positions already open at the start (entries scattered around the start price).

    Only survivors are kept — none is beyond its liquidation price — so this population is
    skewed to low leverage, as old positions in a real market are.
    """
    if scenario.initial_open_interest <= 0:
        empty = np.empty(0)
        return np.empty(0, np.int8), empty, empty, empty, empty
    mean = notional_scale * scenario.notional_median * math.exp(scenario.notional_sigma**2 / 2)
    draw = int(2 * scenario.initial_open_interest / mean) + 16
    sides = np.where(rng.random(draw) < scenario.initial_long_share, 1, -1).astype(np.int8)
    _, notionals, leverages = _draw_accounts(rng, scenario, draw, notional_scale)
    leverages = _cap_leverage(leverages, notionals, brackets)
    entries = start_price * np.exp(scenario.initial_spread * rng.standard_normal(draw))
    liq = liquidation_price(entries, leverages, sides.astype(np.float64), notionals, brackets)
    alive = np.where(sides > 0, liq < start_price, liq > start_price)
    keep = np.flatnonzero(alive)
    keep = keep[
        : int(np.searchsorted(np.cumsum(notionals[keep]), scenario.initial_open_interest)) + 1
    ]
    return sides[keep], notionals[keep], leverages[keep], entries[keep], liq[keep]


class _Book:
    """Mutable state of every position during a run (ids: initial ones first, then by candle).

    A long is at risk while ``low <= long_trigger``, a short while ``high >= short_trigger``;
    closed, unopened and other-side positions carry an infinite trigger, so one comparison
    over the live id range finds every crossed level.
    """

    def __init__(
        self, sides: NDArray[np.int8], notionals: FloatArray, leverages: FloatArray, n: int
    ) -> None:
        total = len(sides)
        self.sides, self.notionals, self.leverages = sides, notionals, leverages
        self.entries = np.zeros(total)
        self.liq = np.zeros(total)
        self.long_trigger = np.full(total, -np.inf)
        self.short_trigger = np.full(total, np.inf)
        self.is_open = np.zeros(total, dtype=bool)
        self.closed_at = np.full(total, n, dtype=np.int64)
        self.forced_round = np.zeros(total, dtype=np.int64)
        self.close_prices = np.full(total, np.nan)
        self.first_open = 0  # every id below this is closed

    def open(self, ids: slice, entries: FloatArray, brackets: Brackets) -> FloatArray:
        """Open positions ``ids`` at ``entries``; returns their base quantities."""
        self.entries[ids] = entries
        side = self.sides[ids]
        liq = liquidation_price(
            entries, self.leverages[ids], side.astype(np.float64), self.notionals[ids], brackets
        )
        self.liq[ids] = liq
        is_long = side > 0
        self.long_trigger[ids] = np.where(is_long, liq, -np.inf)
        self.short_trigger[ids] = np.where(is_long, np.inf, liq)
        self.is_open[ids] = True
        qty: FloatArray = self.notionals[ids] / entries
        return qty

    def close(self, ids: IntArray, t: int, prices: FloatArray | float) -> FloatArray:
        """Close open positions ``ids`` in candle ``t``; returns their base quantities."""
        self.is_open[ids] = False
        self.closed_at[ids] = t
        self.close_prices[ids] = prices
        self.long_trigger[ids] = -np.inf
        self.short_trigger[ids] = np.inf
        qty: FloatArray = self.notionals[ids] / self.entries[ids]
        return qty

    def force(
        self, t: int, extreme: float, side: int, live_end: int, scenario: Scenario
    ) -> tuple[float, float, int, float]:
        """Liquidate ``side`` positions crossed by ``extreme``, following the forced flow.

        Returns (final extreme, log impact, rounds, base quantity liquidated).
        """
        while self.first_open < live_end and not self.is_open[self.first_open]:
            self.first_open += 1
        start, move, rounds, flow, base = extreme, 0.0, 0, 0.0, 0.0
        while rounds < _MAX_ROUNDS:
            if side < 0:
                crossed = self.short_trigger[self.first_open : live_end] <= extreme
            else:
                crossed = self.long_trigger[self.first_open : live_end] >= extreme
            hit = self.first_open + np.flatnonzero(crossed)
            if hit.size == 0:
                break
            rounds += 1
            self.forced_round[hit] = rounds
            qty = self.close(hit, t, self.liq[hit])
            flow += float(qty @ self.liq[hit])
            base += float(qty.sum())
            move = impact(flow, scenario)
            extreme = start * math.exp(-side * move)
        return extreme, move, rounds, base


def run(
    scenario: Scenario,
    seed: int,
    candles: int,
    candle_ms: int,
    start_price: float,
    brackets: Brackets,
) -> RawRun:
    """Simulate ``candles`` candles of ``scenario``; see the module docstring."""
    market_rng, trader_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)
    )
    n = candles
    days = candle_ms / 86_400_000
    # -- exogenous shocks --
    sigma = scenario.vol_per_day * math.sqrt(days)
    late = np.arange(n) >= n * (1.0 - scenario.late_share)
    drift = np.where(late, scenario.late_drift_per_day, scenario.drift_per_day) * days
    reversion = 1.0 - math.exp(-scenario.reversion_per_day * days)
    shocks = market_rng.standard_normal(n)
    jumps = (market_rng.random(n) < scenario.jumps_per_day * days) * (
        scenario.jump_size * market_rng.standard_normal(n)
    )
    log_u_high = np.log1p(-market_rng.random(n))  # ln U, U in (0, 1]
    log_u_low = np.log1p(-market_rng.random(n))
    background_noise = market_rng.standard_normal(n)
    lean = scenario.background_lean

    # -- accounts: who opens when, on which side, how big, how levered, for how long --
    expected = scenario.accounts_per_hour * days * 24
    notional_scale = max(1.0, expected / MAX_ACCOUNTS_PER_CANDLE)
    counts = trader_rng.poisson(expected / notional_scale, n)
    init_sides, init_notional, init_lev, init_entry, _ = _initial_population(
        trader_rng, scenario, start_price, notional_scale, brackets
    )
    k0 = len(init_sides)
    new_sides, new_notional, new_lev = _draw_accounts(
        trader_rng, scenario, int(counts.sum()), notional_scale
    )
    entry_u = trader_rng.random(len(new_sides))
    sides = np.concatenate([init_sides, new_sides])
    notionals = np.concatenate([init_notional, new_notional])
    leverages = np.concatenate([init_lev, _cap_leverage(new_lev, new_notional, brackets)])
    opened_at = np.concatenate([np.full(k0, -1, np.int64), np.repeat(np.arange(n), counts)])
    hold_days = np.where(sides > 0, scenario.long_hold_days, scenario.short_hold_days)
    planned_close = opened_at + trader_rng.geometric(-np.expm1(-days / hold_days))
    by_plan = np.argsort(planned_close, kind="stable")
    plan_bounds = np.searchsorted(planned_close[by_plan], np.arange(n + 1))
    new_start = k0 + np.concatenate([[0], np.cumsum(counts)])
    mean_notional = (
        notional_scale * scenario.notional_median * math.exp(scenario.notional_sigma**2 / 2)
    )
    # Per candle: ratio x the expected opened notional. Legacy runs (background_exact off)
    # count the account-merge factor twice when accounts are merged; kept bit for bit.
    per_account = mean_notional / notional_scale if scenario.background_exact else mean_notional
    background_notional = scenario.background_volume_ratio * expected * per_account

    # Voluntary closes that are taker trades (all of them unless the scenario says otherwise).
    taker_close: NDArray[np.bool_] | None = None
    if scenario.close_taker_share < 1.0:
        close_rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC105E]))
        taker_close = close_rng.random(len(sides)) < scenario.close_taker_share

    book = _Book(sides, notionals, leverages, n)
    book.open(slice(0, k0), init_entry, brackets)
    o_arr, h_arr, l_arr, c_arr, exo_h, exo_l = (np.empty(n) for _ in range(6))
    rounds = np.zeros(n, dtype=np.int64)
    volume, taker_buy = np.zeros(n), np.zeros(n)
    price, log_anchor = start_price, math.log(start_price)
    for t in range(n):
        # 1. exogenous move: Brownian-bridge extremes around the log return r
        o = price
        var = sigma**2 + jumps[t] ** 2
        r = drift[t] + sigma * shocks[t] + jumps[t] - reversion * (math.log(o) - log_anchor)
        exo_h[t] = o * math.exp((r + math.sqrt(r * r - 2 * var * log_u_high[t])) / 2)
        exo_l[t] = o * math.exp((r - math.sqrt(r * r - 2 * var * log_u_low[t])) / 2)
        live_end = int(new_start[t])
        # 2. voluntary closes (before the forced ones; priced at the typical price below)
        planned = by_plan[plan_bounds[t] : plan_bounds[t + 1]]
        voluntary = planned[book.is_open[planned]]
        vq = book.close(voluntary, t, np.nan)
        # 3. forced closes and cascades: shorts buy up, longs sell down
        high, up, rounds_up, short_base = book.force(t, exo_h[t], -1, live_end, scenario)
        low, down, rounds_down, long_base = book.force(t, exo_l[t], 1, live_end, scenario)
        close = o * math.exp(r + scenario.impact_persistence * (up - down))
        o_arr[t], h_arr[t], l_arr[t], c_arr[t] = o, high, low, close
        rounds[t] = max(rounds_up, rounds_down)
        typical = (high + low + close) / 3.0
        book.close_prices[voluntary] = typical
        # 4. opens near the close, at risk from the next candle
        ids = slice(live_end, int(new_start[t + 1]))
        lo_e = max(low, close * math.exp(-ENTRY_BAND))
        hi_e = min(high, close * math.exp(ENTRY_BAND))
        nq = book.open(
            ids, lo_e + entry_u[ids.start - k0 : ids.stop - k0] * (hi_e - lo_e), brackets
        )
        # Taker flow: opening a long, closing a short and a short's liquidation buy.
        background = background_notional * math.exp(0.4 * background_noise[t]) / typical
        closer_sides = sides[voluntary]
        if taker_close is not None:
            taker = taker_close[voluntary]
            vq, closer_sides = vq[taker], closer_sides[taker]
        opened_long = nq[sides[ids] > 0].sum()
        buy_share = 0.5 + 0.08 * math.tanh(shocks[t])
        if lean != 0.0:
            opened = nq.sum()
            lean_of = opened_long / opened - 0.5 if opened > 0 else 0.0
            buy_share = min(1.0, max(0.0, buy_share + lean * lean_of))
        volume[t] = vq.sum() + short_base + long_base + nq.sum() + background
        taker_buy[t] = (
            vq[closer_sides < 0].sum() + short_base + opened_long + background * buy_share
        )
        price = close

    # Forced closes print at the fraction of the candle's move where their level sits.
    forced = book.forced_round > 0
    fired = np.flatnonzero(forced)
    t_f = book.closed_at[fired]
    reach = np.where(
        sides[fired] < 0, np.log(h_arr[t_f] / o_arr[t_f]), np.log(o_arr[t_f] / l_arr[t_f])
    )
    dist = np.abs(np.log(book.liq[fired] / o_arr[t_f]))
    forced_times = np.zeros(len(sides))
    forced_times[fired] = np.clip(dist / np.where(reach > 0, reach, 1.0), 0.0, 1.0)

    return RawRun(
        open=o_arr,
        high=h_arr,
        low=l_arr,
        close=c_arr,
        exogenous_high=exo_h,
        exogenous_low=exo_l,
        cascade_rounds=rounds,
        volume=volume,
        taker_buy_volume=np.minimum(taker_buy, volume),
        sides=sides,
        entries=book.entries,
        leverages=leverages,
        notionals=notionals,
        quantities=notionals / book.entries,
        liquidation_prices=book.liq,
        opened_at=opened_at,
        closed_at=book.closed_at,
        forced=forced,
        forced_round=book.forced_round,
        close_prices=book.close_prices,
        forced_times=forced_times,
    )
