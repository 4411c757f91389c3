"""Incremental refresh: fetch only the candles after the newest cached one.

The newest cached candle is fetched again (it may have been still forming when it was
stored — its close, volume and the open interest at its close change until it closes);
the store's upsert replaces it. With an empty cache the whole ``lookback_ms`` window is
fetched. The store is synchronous SQLite, so it is called through ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

from bot.market.errors import MarketError
from bot.market.port import MarketSource
from core.models import LiquidationPrints, MarketSeries, OrderBook, timeframe_ms

__all__ = ["MarketStore", "RefreshResult", "SeriesStore", "refresh_market", "refresh_series"]

log = logging.getLogger(__name__)


class SeriesStore(Protocol):
    """The part of :class:`bot.state.store.Store` a refresh needs."""

    def last_candle_time(self, exchange: str, symbol: str, timeframe: str) -> int | None: ...

    def save_series(
        self, exchange: str, symbol: str, timeframe: str, series: MarketSeries
    ) -> int: ...


class MarketStore(SeriesStore, Protocol):
    """The part of :class:`bot.state.store.Store` a whole-market refresh needs."""

    def save_book(self, exchange: str, symbol: str, book: OrderBook) -> None: ...

    def save_prints(self, exchange: str, symbol: str, prints: LiquidationPrints) -> int: ...


@dataclass(frozen=True)
class RefreshResult:
    """What one refresh did: the window asked for and the candles received and saved."""

    exchange: str
    symbol: str
    timeframe: str
    since: int
    until: int
    fetched: int
    saved: int
    last_candle_at: int | None
    incremental: bool  # the cache already held candles: only newer ones were asked for


async def refresh_series(
    source: MarketSource,
    store: SeriesStore,
    symbol: str,
    timeframe: str,
    lookback_ms: int,
    now_ms: int,
) -> RefreshResult:
    """Bring the cached ``symbol`` candles up to ``now_ms`` from ``source``."""
    await source.load()
    symbol = source.resolve(symbol)
    tf_ms = timeframe_ms(timeframe)
    last = await asyncio.to_thread(store.last_candle_time, source.name, symbol, timeframe)
    first = now_ms - lookback_ms
    since = (first // tf_ms) * tf_ms if last is None else max(last, first)
    until = now_ms + 1  # the candle opening at ``now_ms`` is included
    series = await source.fetch_series(symbol, timeframe, since, until)
    saved = await asyncio.to_thread(store.save_series, source.name, symbol, timeframe, series)
    newest = int(series.timestamps[-1]) if len(series) else last
    return RefreshResult(
        exchange=source.name,
        symbol=symbol,
        timeframe=timeframe,
        since=since,
        until=until,
        fetched=len(series),
        saved=saved,
        last_candle_at=newest,
        incremental=last is not None,
    )


async def refresh_market(
    source: MarketSource,
    store: MarketStore,
    symbol: str,
    timeframe: str,
    lookback_ms: int,
    now_ms: int,
) -> RefreshResult:
    """Candles (as :func:`refresh_series`), then the order book and liquidation prints.

    Candles are what the analysis cannot do without, so their errors propagate. The book
    (the cascade's depth) and the prints (the reality check) are extras: a failure to
    fetch them is logged and the previous ones stay in the store.
    """
    result = await refresh_series(source, store, symbol, timeframe, lookback_ms, now_ms)
    symbol = result.symbol
    try:
        book = await source.fetch_book(symbol)
        if book is not None:
            await asyncio.to_thread(store.save_book, source.name, symbol, book)
    except MarketError as err:
        log.warning("order book of %s on %s not refreshed: %s", symbol, source.name, err)
    try:
        prints = await source.fetch_prints(symbol, now_ms - lookback_ms)
        if len(prints):
            await asyncio.to_thread(store.save_prints, source.name, symbol, prints)
    except MarketError as err:
        log.warning("liquidation prints of %s on %s not refreshed: %s", symbol, source.name, err)
    return result
