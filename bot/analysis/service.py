"""The one path from (symbol, range, exchanges) to an :class:`~core.results.Analysis` and PNGs.

Commands, alerts and threads all come through :class:`MarketService`:

1. **Fresh data.** For each exchange, the cached series in the store is used as is while
   its last candle is younger than the refresh interval; otherwise it is refreshed through
   the source first (concurrent refreshes of one market are coalesced). When the exchange
   is down, the last good data is served with a note: "data 14 min old — bybit unreachable",
   and the exchange is not asked again for one refresh interval.
2. **Brackets.** Each venue's maintenance-margin brackets for the market are asked for once
   (before its first analysis) and remembered — ``None`` too, so a venue without public
   brackets is not asked again; those venues, and one that is briefly unreachable (asked
   again next time), are estimated with the engine's default table
   (:class:`~bot.analysis.brackets.BracketBook`).
3. **Analysis** (numpy), **rendering** (matplotlib) and every store call (SQLite) run in
   worker threads (:func:`asyncio.to_thread`), never on the event loop.
4. **Coalescing cache.** Analyses and charts are keyed by what determines them — kind,
   symbol, range, exchanges, style, and the *data version* (last candle time per market) —
   so identical concurrent requests share one computation and repeated ones are served
   from a small LRU until a new candle arrives (:class:`~bot.analysis.render_cache.CoalescingCache`).

The heavy functions sit behind :class:`Engine` (default :class:`CoreEngine`: the real
``core.analysis`` and ``core.charts``) so the orchestration is testable on its own. What
the service returns (:class:`~bot.analysis.market_view.MarketView`,
:class:`~bot.analysis.market_view.Chart`) and reads is in :mod:`bot.analysis.market_view`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.analysis.brackets import BracketBook
from bot.analysis.engine import CoreEngine, Engine
from bot.analysis.market_view import (
    Chart,
    MarketView,
    NoMarketData,
    RefreshFn,
    SeriesStore,
    data_age_note,
)
from bot.analysis.render_cache import CoalescingCache
from bot.market.errors import MarketError, TemporaryMarketError, UnknownSymbol
from bot.market.port import MarketSource
from bot.reply import ChartKind, Range
from core.brackets import Brackets
from core.charts.format import human_duration
from core.models import Snapshot, timeframe_ms
from core.results import Analysis

__all__ = ["CoreEngine", "Engine", "MarketService"]

log = logging.getLogger(__name__)


#: a range less than this fraction covered by candles gets an "only … of data" note
_SHORT_HISTORY = 0.9


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class MarketService:
    """Fresh data → analysis → PNG, cached and coalesced (see the module docstring)."""

    def __init__(
        self,
        sources: Mapping[str, MarketSource],
        store: SeriesStore,
        *,
        timeframe: str = "5m",
        refresh_every_ms: int = 60_000,
        lookback_ms: int = 7 * 86_400_000,
        engine: Engine | None = None,
        refresh: RefreshFn | None = None,
        clock: Callable[[], int] = _wall_ms,
        style: str = "dark",
        size: tuple[int, int] = (1280, 720),
        cache_entries: int = 32,
    ) -> None:
        if not sources:
            raise ValueError("MarketService needs at least one market source")
        self.sources = dict(sources)
        self.store = store
        self.timeframe = timeframe
        self.candle_ms = timeframe_ms(timeframe)
        self.refresh_every_ms = refresh_every_ms
        self.lookback_ms = lookback_ms
        self.engine: Engine = engine if engine is not None else CoreEngine()
        #: how one market is brought up to date (candles, order book, liquidation prints);
        #: the scheduler refreshes through the same function
        self.refresh = refresh if refresh is not None else _default_refresh
        self.clock = clock
        self.style = style
        self.size = size
        self._refreshes: CoalescingCache[object] = CoalescingCache(max_entries=0)
        #: (exchange, symbol) → (retry not before, reason) after a failed refresh
        self._failed: dict[tuple[str, str], tuple[int, str]] = {}
        self._analyses: CoalescingCache[Analysis] = CoalescingCache(cache_entries)
        self._charts: CoalescingCache[tuple[Analysis, bytes]] = CoalescingCache(cache_entries)
        #: each market's brackets, asked for once before its first analysis
        self._brackets = BracketBook(
            self.sources, clock=lambda: self.clock(), retry_after_ms=refresh_every_ms
        )

    # --- counters (tests and bench read them) ------------------------------------------

    @property
    def renders(self) -> int:
        """Charts actually rendered (cache misses that were not coalesced)."""
        return self._charts.computed

    @property
    def analyses(self) -> int:
        """Analyses actually computed."""
        return self._analyses.computed

    @property
    def exchanges(self) -> tuple[str, ...]:
        """Configured exchange ids, in configuration order."""
        return tuple(self.sources)

    def select(self, choice: str) -> tuple[str, ...]:
        """``"all"`` → every exchange; an id → just that one."""
        return self.exchanges if choice == "all" else (choice,)

    async def market_status(self) -> Sequence[Any]:
        """Freshness per exchange and symbol, from the store (read in a worker thread)."""
        return await asyncio.to_thread(self.store.market_status)

    # --- symbols and data ------------------------------------------------------------------

    async def resolve(self, query: str, exchanges: Sequence[str]) -> tuple[str, tuple[str, ...]]:
        """User text → (unified symbol, the selected exchanges that list it).

        Raises :class:`UnknownSymbol` (with the first exchange's suggestions) when none does.
        """
        first_miss: UnknownSymbol | None = None
        symbol: str | None = None
        listed: list[str] = []
        for exchange in exchanges:
            source = self.sources[exchange]
            await source.load()
            try:
                found = source.resolve(query)
            except UnknownSymbol as exc:
                first_miss = first_miss or exc
                continue
            if symbol is None or found == symbol:
                symbol = found
                listed.append(exchange)
        if symbol is None:
            raise first_miss or UnknownSymbol(query)
        return symbol, tuple(listed)

    async def _fresh(self, exchange: str, symbol: str, range_ms: int) -> tuple[int, str | None]:
        """Make the stored series current if stale; (last candle time, freshness note)."""
        now = self.clock()
        last = await asyncio.to_thread(
            self.store.last_candle_time, exchange, symbol, self.timeframe
        )
        if last is not None and now - (last + self.candle_ms) < self.refresh_every_ms:
            return last, None
        failed = self._failed.get((exchange, symbol))
        if last is not None and failed is not None and now < failed[0]:
            # the exchange failed moments ago: do not make every request wait on it again
            return last, data_age_note(now - (last + self.candle_ms), exchange, failed[1])
        source = self.sources[exchange]
        lookback = max(self.lookback_ms, range_ms)
        try:
            await self._refreshes.get(
                ("refresh", exchange, symbol),
                lambda: self.refresh(source, self.store, symbol, self.timeframe, lookback, now),
            )
        except UnknownSymbol:
            raise
        except MarketError as exc:
            if last is None:
                raise
            reason = "unreachable" if isinstance(exc, TemporaryMarketError) else "refresh failed"
            self._failed[(exchange, symbol)] = (now + self.refresh_every_ms, reason)
            log.warning("serving cached %s %s: %s", exchange, symbol, exc)
            return last, data_age_note(now - (last + self.candle_ms), exchange, reason)
        self._failed.pop((exchange, symbol), None)
        refreshed = await asyncio.to_thread(
            self.store.last_candle_time, exchange, symbol, self.timeframe
        )
        if refreshed is None:
            raise NoMarketData(f"No data for {symbol} on {exchange} yet.")
        return refreshed, None

    def defer(self, exchange: str, symbol: str, *, until: int, reason: str) -> None:
        """Do not ask ``exchange`` to refresh ``symbol`` before ``until`` (Unix ms): the
        scheduler's backoff after a failed refresh; requests meanwhile get cached data."""
        self._failed[(exchange, symbol)] = (until, reason)

    async def view(self, query: str, range_: Range, choice: str) -> MarketView:
        """The analysis of ``query`` over ``range_`` on ``choice`` (an exchange id or "all").

        With several exchanges, one that has no data at all and cannot be reached is left
        out with a note (the others still answer); with none left, its error is raised.
        """
        symbol, exchanges = await self.resolve(query, self.select(choice))
        results, brackets = await asyncio.gather(
            asyncio.gather(
                *(self._fresh(ex, symbol, range_.ms) for ex in exchanges),
                return_exceptions=True,
            ),
            self.brackets(symbol, exchanges),
        )
        fresh: list[tuple[int, str | None]] = []
        kept: list[str] = []
        missing: list[str] = []
        for ex, result in zip(exchanges, results, strict=True):
            if isinstance(result, UnknownSymbol) or not isinstance(result, MarketError | tuple):
                raise result  # a bad query, or a bug: never hidden
            if isinstance(result, MarketError):
                if len(exchanges) == 1:
                    raise result
                log.warning("%s %s left out of the view: %s", ex, symbol, result)
                missing.append(ex)
                continue
            fresh.append(result)
            kept.append(ex)
        if not kept:
            raise next(r for r in results if isinstance(r, MarketError))
        exchanges = tuple(kept)
        version = tuple((ex, last) for ex, (last, _) in zip(exchanges, fresh, strict=True))
        notes = tuple(note for _, note in fresh if note) + tuple(
            f"{ex}: no data yet (unreachable)" for ex in missing
        )
        pending = tuple(ex for ex in exchanges if not self._brackets.known(ex, symbol))
        key = ("analysis", symbol, range_.label, exchanges, version, pending)
        analysis = await self._analyses.get(
            key, lambda: self._analyze(symbol, range_, version, brackets)
        )
        covered = self._coverage_ms(analysis)
        if covered < range_.ms * _SHORT_HISTORY:
            notes = (*notes, f"only {human_duration(covered)} of data so far")
        return MarketView(analysis, symbol, exchanges, range_, notes, version, pending)

    async def brackets(self, symbol: str, exchanges: Sequence[str]) -> dict[str, Brackets]:
        """Each exchange's maintenance-margin brackets for ``symbol``, where it reports them.

        Each market is asked once (concurrent first requests share the question) and the
        answer is remembered, ``None`` included. Never raises: an exchange that is briefly
        unreachable is left out now and asked again after a refresh interval; one that fails
        otherwise is left out for good. Left-out exchanges are estimated with the default table.
        """
        return await self._brackets.get(symbol, exchanges)

    def _coverage_ms(self, analysis: Analysis) -> int:
        """Time spanned by the analysed candles (their count × the candle length)."""
        times = analysis.candle_times
        if len(times) == 0:
            return 0
        return int(times[-1] - times[0]) + self.candle_ms

    def _snapshot(self, exchange: str, symbol: str, last: int, range_ms: int) -> Snapshot:
        """The stored market over ``range_ms`` up to ``last`` (runs in a worker thread)."""
        since = last - range_ms + self.candle_ms
        series = self.store.load_series(exchange, symbol, self.timeframe, since=since)
        if series is None or len(series) == 0:
            raise NoMarketData(f"No data for {symbol} on {exchange} yet.")
        book = self.store.load_book(exchange, symbol)
        prints = self.store.load_prints(exchange, symbol, since=int(series.timestamps[0]))
        return Snapshot(
            exchange, symbol, self.timeframe, series, fetched_at=last, book=book, prints=prints
        )

    async def _analyze(
        self,
        symbol: str,
        range_: Range,
        version: tuple[tuple[str, int], ...],
        brackets: Mapping[str, Brackets],
    ) -> Analysis:
        def work() -> Analysis:
            snapshots = [self._snapshot(ex, symbol, last, range_.ms) for ex, last in version]
            return self.engine.analyze(snapshots, brackets=brackets)

        return await asyncio.to_thread(work)

    # --- charts ------------------------------------------------------------------------------

    async def chart(
        self,
        kind: ChartKind,
        query: str,
        range_: Range,
        choice: str,
        *,
        style: str | None = None,
        window: float | None = None,
        push_price: float | None = None,
    ) -> Chart:
        """A PNG of ``kind`` for the market, from the cache when the data has not changed.

        ``window`` re-measures the imbalance (card); ``push_price`` simulates the cascade of
        a push there (cascade; default: the analysis's own up-cascade).
        """
        view = await self.view(query, range_, choice)
        style = style or self.style

        def draw() -> tuple[Analysis, bytes]:
            analysis = view.analysis
            if window is not None:
                analysis = self.engine.with_window(analysis, window)
            if push_price is not None:
                book = self.store.load_book(view.exchanges[0], view.symbol)
                analysis = self.engine.with_cascade(analysis, push_price, book)
            return analysis, self.engine.render(kind, analysis, style=style, size=self.size)

        key = (
            kind,
            view.symbol,
            range_.label,
            view.exchanges,
            style,
            view.version,
            view.brackets_pending,
            window,
            push_price,
        )
        analysis, png = await self._charts.get(key, lambda: asyncio.to_thread(draw))
        view = dataclasses.replace(view, analysis=analysis)
        return Chart(kind, png, view)


async def _default_refresh(
    source: MarketSource, store: Any, symbol: str, timeframe: str, lookback_ms: int, now_ms: int
) -> object:
    from bot.market.refresh import refresh_market

    return await refresh_market(source, store, symbol, timeframe, lookback_ms, now_ms)
