"""Synthetic market with known positions: liqwatch's offline data source and ground truth.

Aggregate trader accounts open and close leveraged positions (known leverage mix, known
taker side: opening a long is a taker buy, opening a short a taker sell), so open interest
is the exact sum of their positions. Positions whose Binance isolated liquidation price
(:func:`core.brackets.liquidation_price`, brackets by each position's own notional) is
crossed are force-closed at that price, and their forced market orders walk a power-law
depth model and move price — so liquidation cascades really happen. The loop lives in
:mod:`core._sim_engine`, the scenarios in :mod:`core.sim_scenarios`.

A run emits everything a real source gives — a :class:`~core.models.Snapshot` with OHLCV,
taker-buy volume, open interest (base units), funding rate, long/short account ratio, an
order book at the end and the liquidation prints — plus the truth: every position ever
open (:class:`PositionLedger`), the open ones at any candle (:meth:`SimMarket.positions_at`)
and their liquidation map (:meth:`SimMarket.true_map`).

The simulated accounts are the leveraged share of the market
(:attr:`~core.sim_scenarios.Scenario.leveraged_share`): the published open interest, volume
and taker-buy volume are theirs divided by it (the rest of the market mirrors them and is
never liquidated), so a week of prints is a plausible fraction of open interest.

Open interest in either unit: :attr:`SimMarket.snapshot` always holds it in base units, as
:class:`~core.models.MarketSeries` documents. :attr:`SimMarket.source_snapshot` is what the
scenario's *source* publishes: the same snapshot, except that with ``oi_unit="usd"`` its
open interest is the quote value ``base × close`` (:attr:`SimMarket.open_interest_usd`) —
wrong on purpose, and still a valid series (nothing in a series can tell the unit), so the
input layer's unit check can be tested on it. Feed ``source_snapshot`` to whatever is under
test; keep ``snapshot`` for the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final, TypeVar

import numpy as np
from numpy.typing import NDArray

from core import _sim_engine
from core.brackets import DEFAULT_BTCUSDT_BRACKETS
from core.models import (
    FloatArray,
    IntArray,
    LiquidationPrints,
    MarketSeries,
    ModelError,
    OrderBook,
    Snapshot,
    timeframe_ms,
)
from core.results import LiquidationMap, PriceGrid
from core.sim_scenarios import SCENARIOS, Scenario, resolve_scenario

__all__ = [
    "SCENARIOS",
    "PositionLedger",
    "Scenario",
    "SimMarket",
    "TruePositions",
    "simulate",
]

#: Base funding rate per 8 h when longs and shorts balance, its slope in the long/short
#: notional imbalance, and the exchange clamp.
FUNDING_BASE: Final = 0.0001
FUNDING_SLOPE: Final = 0.0005
FUNDING_CAP: Final = 0.003
_BOOK_LEVELS: Final = 400  # per side, log-spaced from 1 bp to 10 % away from mid


_Array = TypeVar("_Array", bound=NDArray[Any])


def _frozen(arr: _Array) -> _Array:
    """Make a run's array read-only: the truth must not be edited by its readers."""
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class TruePositions:
    """Positions open at one moment. ``sides`` +1 long / -1 short; notionals in USDT at entry.

    ``opened_at`` is the candle index the position was opened in (-1: before the series).
    """

    sides: NDArray[np.int8]
    entries: FloatArray
    leverages: FloatArray
    notionals: FloatArray
    liquidation_prices: FloatArray
    opened_at: IntArray

    def __len__(self) -> int:
        return len(self.sides)

    @property
    def quantities(self) -> FloatArray:
        """Base-asset size of each position (notional / entry): they sum to the leveraged
        share of open interest (``open_interest × scenario.leveraged_share``)."""
        out: FloatArray = self.notionals / self.entries
        return out


@dataclass(frozen=True, eq=False)
class PositionLedger:
    """Every position of a run, open or closed, with its fixed attributes and lifetime.

    A position is open after candle ``i`` iff ``opened_at <= i < closed_at``; ``closed_at``
    equals the number of candles for positions still open at the end. ``forced`` marks
    liquidations (closed at their liquidation price); ``forced_round`` is 1 for levels the
    exogenous move crossed and >= 2 for levels crossed only by earlier forced flow.
    """

    sides: NDArray[np.int8]
    entries: FloatArray
    leverages: FloatArray
    notionals: FloatArray
    quantities: FloatArray
    liquidation_prices: FloatArray
    opened_at: IntArray
    closed_at: IntArray
    forced: NDArray[np.bool_]
    forced_round: IntArray
    close_prices: FloatArray  # NaN while open

    def __len__(self) -> int:
        return len(self.sides)

    def open_after(self, index: int) -> NDArray[np.bool_]:
        """Mask of the positions open after candle ``index`` (non-negative)."""
        mask: NDArray[np.bool_] = (self.opened_at <= index) & (self.closed_at > index)
        return mask


@dataclass(frozen=True, eq=False)
class SimMarket:
    """One simulated run: what a source would see (``snapshot``) and the truth behind it.

    ``exogenous_high`` / ``exogenous_low`` are the candle extremes before forced flow;
    ``cascade_rounds[t]`` the number of forced-close rounds in candle ``t`` (>= 2: cascade).
    """

    scenario: Scenario
    seed: int
    snapshot: Snapshot
    ledger: PositionLedger
    exogenous_high: FloatArray
    exogenous_low: FloatArray
    cascade_rounds: IntArray

    @property
    def series(self) -> MarketSeries:
        return self.snapshot.series

    @property
    def open_interest_usd(self) -> FloatArray:
        """Open interest as its quote value at each candle's close: base units × close."""
        oi = self.series.open_interest
        assert oi is not None  # the sim always fills it
        out: FloatArray = oi * self.series.close
        return out

    @property
    def source_snapshot(self) -> Snapshot:
        """The snapshot as the scenario's source publishes it (open interest in ``oi_unit``).

        ``snapshot`` itself when ``oi_unit`` is ``"base"``; with ``"usd"`` a copy whose
        ``open_interest`` is :attr:`open_interest_usd` (see the module docstring).
        """
        if self.scenario.oi_unit == "base":
            return self.snapshot
        series = replace(self.series, open_interest=self.open_interest_usd)
        return replace(self.snapshot, series=series)

    def _index(self, index: int) -> int:
        n = len(self.series)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise ModelError(f"index: {index} is outside the {n} simulated candles")
        return i

    def positions_at(self, index: int = -1) -> TruePositions:
        """Positions open after candle ``index`` (negative counts from the end)."""
        lg = self.ledger
        mask = lg.open_after(self._index(index))
        return TruePositions(
            sides=lg.sides[mask],
            entries=lg.entries[mask],
            leverages=lg.leverages[mask],
            notionals=lg.notionals[mask],
            liquidation_prices=lg.liquidation_prices[mask],
            opened_at=lg.opened_at[mask],
        )

    def true_map(self, grid: PriceGrid, index: int = -1) -> LiquidationMap:
        """The truth binned: open long / short notional by liquidation price after ``index``.

        Positions whose liquidation price falls outside ``grid`` are left out.
        """
        i = self._index(index)
        pos = self.positions_at(i)
        bins = grid.index(pos.liquidation_prices)
        inside = (bins >= 0) & (bins < grid.bins)
        is_long = pos.sides > 0
        long = np.bincount(bins[inside & is_long], pos.notionals[inside & is_long], grid.bins)
        short = np.bincount(bins[inside & ~is_long], pos.notionals[inside & ~is_long], grid.bins)
        series = self.series
        return LiquidationMap(
            grid=grid,
            price=float(series.close[i]),
            time=int(series.timestamps[i]),
            long=long.astype(np.float64),
            short=short.astype(np.float64),
        )


def _count_open(
    opened_at: IntArray, closed_at: IntArray, weights: FloatArray, n: int
) -> FloatArray:
    """Sum of ``weights`` over positions open after each candle (difference array)."""
    opened = np.bincount(opened_at + 1, weights, n + 2)[: n + 1]
    closed = np.bincount(closed_at + 1, weights, n + 2)[: n + 1]
    out: FloatArray = np.cumsum(opened - closed, dtype=np.float64)[
        1:
    ]  # delta[0]: positions open before candle 0
    return out


def _book(scenario: Scenario, mid: float, timestamp: int, seed: int) -> OrderBook:
    """Order book from the depth model: cumulative USDT depth A·(v / 1 %)^β per side."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xB00C]))
    dist = np.geomspace(1e-4, 0.1, _BOOK_LEVELS)
    cum = scenario.depth_1pct * (dist / 0.01) ** scenario.depth_exponent
    quote = np.diff(cum, prepend=0.0)

    def side(sign: float) -> tuple[FloatArray, FloatArray]:
        prices = mid * np.exp(sign * dist)
        noise = np.exp(0.3 * rng.standard_normal(len(dist)) - 0.045)
        return prices, quote * noise / prices

    bid_prices, bid_sizes = side(-1.0)
    ask_prices, ask_sizes = side(1.0)
    return OrderBook(timestamp, bid_prices, bid_sizes, ask_prices, ask_sizes)


def simulate(
    scenario: str | Scenario = "seed",
    *,
    seed: int = 7,
    candles: int = 2016,
    timeframe: str = "5m",
    start_ms: int = 1_767_225_600_000,
    symbol: str = "BTC/USDT:USDT",
    start_price: float = 90_000.0,
) -> SimMarket:
    """Simulate ``candles`` candles of a named (or given) scenario, deterministically by seed."""
    scn = resolve_scenario(scenario)
    if candles < 1:
        raise ModelError(f"candles: need at least one (got {candles})")
    if not start_price > 0:
        raise ModelError(f"start_price: must be > 0 (got {start_price})")
    candle_ms = timeframe_ms(timeframe)
    brackets = DEFAULT_BTCUSDT_BRACKETS
    raw = _sim_engine.run(scn, seed, candles, candle_ms, start_price, brackets)
    n = candles
    timestamps = start_ms + candle_ms * np.arange(n, dtype=np.int64)

    is_long = (raw.sides > 0).astype(np.float64)
    # the accounts are the leveraged share; the mirrored rest of the market is published too
    share = scn.leveraged_share
    oi = _count_open(raw.opened_at, raw.closed_at, raw.quantities, n) / share
    longs = _count_open(raw.opened_at, raw.closed_at, is_long, n)
    shorts = _count_open(raw.opened_at, raw.closed_at, 1.0 - is_long, n)
    long_notional = _count_open(raw.opened_at, raw.closed_at, raw.notionals * is_long, n)
    short_notional = _count_open(raw.opened_at, raw.closed_at, raw.notionals * (1 - is_long), n)
    # Funding in force during candle t follows the imbalance left by candle t - 1.
    total = long_notional + short_notional
    imbalance = np.divide(long_notional - short_notional, total, out=np.zeros(n), where=total > 0)
    init_imbalance = _initial_imbalance(raw)
    prior = np.concatenate([[init_imbalance], imbalance[:-1]])
    funding = np.clip(FUNDING_BASE + FUNDING_SLOPE * prior, -FUNDING_CAP, FUNDING_CAP)
    ratio = np.divide(longs, shorts, out=np.full(n, np.nan), where=shorts > 0)

    series = MarketSeries(
        timestamps=timestamps,
        open=raw.open,
        high=raw.high,
        low=raw.low,
        close=raw.close,
        volume=raw.volume / share,
        taker_buy_volume=raw.taker_buy_volume / share,
        open_interest=oi,
        funding_rate=funding,
        long_short_ratio=ratio,
    )
    fired = np.flatnonzero(raw.forced)
    times = timestamps[raw.closed_at[fired]] + (raw.forced_times[fired] * (candle_ms - 1)).astype(
        np.int64
    )
    order = np.argsort(times, kind="stable")
    fired = fired[order]
    prints = LiquidationPrints(
        times=times[order],
        sides=raw.sides[fired],
        prices=raw.liquidation_prices[fired],
        notionals=raw.quantities[fired] * raw.liquidation_prices[fired],
    )
    end = int(timestamps[-1]) + candle_ms
    snapshot = Snapshot(
        exchange="sim",
        symbol=symbol,
        timeframe=timeframe,
        series=series,
        fetched_at=end,
        book=_book(scn, float(raw.close[-1]), end, seed),
        prints=prints,
    )
    ledger = PositionLedger(
        sides=_frozen(raw.sides),
        entries=_frozen(raw.entries),
        leverages=_frozen(raw.leverages),
        notionals=_frozen(raw.notionals),
        quantities=_frozen(raw.quantities),
        liquidation_prices=_frozen(raw.liquidation_prices),
        opened_at=_frozen(raw.opened_at),
        closed_at=_frozen(raw.closed_at),
        forced=_frozen(raw.forced),
        forced_round=_frozen(raw.forced_round),
        close_prices=_frozen(raw.close_prices),
    )
    return SimMarket(
        scenario=scn,
        seed=seed,
        snapshot=snapshot,
        ledger=ledger,
        exogenous_high=_frozen(raw.exogenous_high),
        exogenous_low=_frozen(raw.exogenous_low),
        cascade_rounds=_frozen(raw.cascade_rounds),
    )


def _initial_imbalance(raw: _sim_engine.RawRun) -> float:
    before = raw.opened_at < 0
    signed = float(raw.notionals[before] @ raw.sides[before].astype(np.float64))
    total = float(raw.notionals[before].sum())
    return signed / total if total > 0 else 0.0
