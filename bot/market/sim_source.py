"""The synthetic market (:func:`core.sim.simulate`) behind the market-source port.

The embedded default: ``liqwatch demo`` and the tests run with no network and no keys.
Each (symbol, timeframe) is simulated once — off the event loop — and cached; windows of
it are served by :meth:`SimSource.fetch_series`. The markets are fixed and deterministic
(scenario and seed per symbol): BTC from 90,000, ETH from 3,000, SOL from 200. The sim
computes liquidation prices with the Binance BTCUSDT brackets, so that is what
:meth:`SimSource.fetch_brackets` returns for every symbol.

**Live.** Given a ``clock`` (a :class:`~bot.market.sim_live.SimClock` that starts at
:attr:`SimSource.end_ms`), the market goes on after its first run: every read shows the
candles closed by the clock's "now" and the prints before it, and whenever the clock passes
the last generated candle the next ``segment_candles`` are simulated
(:func:`~bot.market.sim_live.next_segment`) — the first run stays exactly what it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from bot.market.port import SymbolIndex
from bot.market.sim_live import concat, next_segment, until
from core.brackets import DEFAULT_BTCUSDT_BRACKETS, Brackets
from core.models import LiquidationPrints, MarketSeries, OrderBook, Snapshot, timeframe_ms
from core.sim import simulate

__all__ = ["SIM_MARKETS", "SimMarketSpec", "SimSource"]


@dataclass(frozen=True)
class SimMarketSpec:
    """How one simulated perpetual is generated."""

    seed: int
    start_price: float


SIM_MARKETS: Mapping[str, SimMarketSpec] = MappingProxyType(
    {
        "BTC/USDT:USDT": SimMarketSpec(seed=7, start_price=90_000.0),
        "ETH/USDT:USDT": SimMarketSpec(seed=11, start_price=3_000.0),
        "SOL/USDT:USDT": SimMarketSpec(seed=13, start_price=200.0),
    }
)
#: 2026-01-01 00:00 UTC, the simulator's default start.
DEFAULT_START_MS = 1_767_225_600_000


class SimSource:
    """A :class:`~bot.market.port.MarketSource` over simulated markets."""

    name = "sim"

    def __init__(
        self,
        *,
        scenario: str = "seed",
        candles: int = 2016,
        start_ms: int = DEFAULT_START_MS,
        markets: Mapping[str, SimMarketSpec] = SIM_MARKETS,
        clock: Callable[[], int] | None = None,
        segment_candles: int = 288,
    ) -> None:
        if segment_candles < 1:
            raise ValueError(f"segment_candles must be >= 1, got {segment_candles}")
        self.scenario = scenario
        self.candles = candles
        self.start_ms = start_ms
        #: the market's "now" (None: the market stands at the end of its first run)
        self.clock = clock
        self.segment_candles = segment_candles
        #: (symbol, timeframe) → how many segments were chained after the first run
        self._segments: dict[tuple[str, str], int] = {}
        self._markets = dict(markets)
        self._index = SymbolIndex(self._markets)
        self._cache: dict[tuple[str, str], Snapshot] = {}
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """Nothing to load: the market list is fixed."""

    @property
    def end_ms(self) -> int:
        """When the first run's last 5m candle closes (where a live clock starts)."""
        return self.start_ms + self.candles * 300_000

    def symbols(self) -> list[str]:
        return list(self._index.symbols)

    def resolve(self, query: str) -> str:
        return self._index.resolve(query)

    async def snapshot(self, symbol: str, timeframe: str = "5m") -> Snapshot:
        """The simulated run of ``symbol`` (simulated on first use, then cached); with a
        clock, what it shows at the clock's now (extended as the clock moves on)."""
        symbol = self.resolve(symbol)
        candle_ms = timeframe_ms(timeframe)
        key = (symbol, timeframe)
        snap = await self._first_run(symbol, timeframe)
        if self.clock is None:
            return snap
        now = self.clock()
        async with self._lock:
            snap = self._cache[key]
            while int(snap.series.timestamps[-1]) + candle_ms <= now:
                k = self._segments.get(key, 0) + 1
                seed = self._markets[symbol].seed * 1_000 + k
                segment = await asyncio.to_thread(
                    next_segment, snap, self.scenario, seed=seed, candles=self.segment_candles
                )
                snap = self._cache[key] = concat(snap, segment)
                self._segments[key] = k
        return until(snap, now)

    async def _first_run(self, symbol: str, timeframe: str) -> Snapshot:
        key = (symbol, timeframe)
        async with self._lock:
            if key not in self._cache:
                spec = self._markets[symbol]
                market = await asyncio.to_thread(
                    simulate,
                    self.scenario,
                    seed=spec.seed,
                    candles=self.candles,
                    timeframe=timeframe,
                    start_ms=self.start_ms,
                    symbol=symbol,
                    start_price=spec.start_price,
                )
                self._cache[key] = market.snapshot
            return self._cache[key]

    async def fetch_series(
        self, symbol: str, timeframe: str, since: int, until: int | None = None
    ) -> MarketSeries:
        series = (await self.snapshot(symbol, timeframe)).series
        ts = series.timestamps
        start = int(np.searchsorted(ts, since, side="left"))
        stop = len(ts) if until is None else int(np.searchsorted(ts, until, side="left"))
        return series.slice(start, max(start, stop))

    async def fetch_book(self, symbol: str, limit: int = 1000) -> OrderBook | None:
        book = (await self.snapshot(symbol)).book
        if book is None:
            return None
        return OrderBook(
            timestamp=book.timestamp,
            bid_prices=book.bid_prices[:limit],
            bid_sizes=book.bid_sizes[:limit],
            ask_prices=book.ask_prices[:limit],
            ask_sizes=book.ask_sizes[:limit],
        )

    async def fetch_prints(self, symbol: str, since: int) -> LiquidationPrints:
        prints = (await self.snapshot(symbol)).prints
        keep = prints.times >= since
        return LiquidationPrints(
            times=prints.times[keep],
            sides=prints.sides[keep],
            prices=prints.prices[keep],
            notionals=prints.notionals[keep],
        )

    async def fetch_brackets(self, symbol: str) -> Brackets | None:
        self.resolve(symbol)
        return DEFAULT_BTCUSDT_BRACKETS

    async def close(self) -> None:
        self._cache.clear()
        self._segments.clear()

    def __repr__(self) -> str:
        live = "" if self.clock is None else ", live"
        return f"SimSource(scenario={self.scenario!r}, candles={self.candles}{live})"
