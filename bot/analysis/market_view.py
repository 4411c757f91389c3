"""What :class:`~bot.analysis.service.MarketService` hands out and reads: its data types.

:class:`MarketView` (an analysis with its freshness caveats and data version) and
:class:`Chart` (a PNG and the view it was drawn from) are what callers get;
:class:`SeriesStore` is the part of the store the service reads and :data:`RefreshFn` the
hook that brings one market up to date; :class:`NoMarketData` is raised when a market has
nothing stored and cannot be fetched; :func:`data_age_note` words a stale-data caveat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.market.errors import PermanentMarketError
from bot.market.port import MarketSource
from bot.reply import ChartKind, Range
from core.charts.format import human_duration
from core.models import LiquidationPrints, MarketSeries, OrderBook
from core.results import Analysis

__all__ = [
    "Chart",
    "MarketView",
    "NoMarketData",
    "RefreshFn",
    "SeriesStore",
    "data_age_note",
]


class NoMarketData(PermanentMarketError):
    """Nothing is stored for the market yet and it could not be fetched."""


class SeriesStore(Protocol):
    """The part of :class:`bot.state.store.Store` the service reads."""

    def last_candle_time(self, exchange: str, symbol: str, timeframe: str) -> int | None: ...

    def load_series(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        since: int | None = None,
        until: int | None = None,
    ) -> MarketSeries | None: ...

    def load_book(self, exchange: str, symbol: str) -> OrderBook | None: ...

    def load_prints(
        self, exchange: str, symbol: str, since: int | None = None, until: int | None = None
    ) -> LiquidationPrints: ...

    def market_status(self) -> Sequence[Any]: ...


#: ``refresh_series(source, store, symbol, timeframe, lookback_ms, now_ms)``
RefreshFn = Callable[[MarketSource, Any, str, str, int, int], Awaitable[object]]


@dataclass(frozen=True, eq=False)
class MarketView:
    """An analysis with what the reader must know about its data."""

    analysis: Analysis
    symbol: str
    exchanges: tuple[str, ...]
    range: Range
    #: freshness caveats, e.g. "data 14 min old — bybit unreachable"
    notes: tuple[str, ...]
    #: (exchange, last candle time) per market: the cache's data version
    version: tuple[tuple[str, int], ...]
    #: exchanges whose brackets could not be fetched yet (estimated with the default table;
    #: part of the cache keys, so the analysis is redone once they are known)
    brackets_pending: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Chart:
    """A rendered PNG and the view it was drawn from."""

    kind: ChartKind
    png: bytes
    view: MarketView


def data_age_note(age_ms: int, exchange: str, reason: str = "unreachable") -> str:
    """``"data 14 min old — bybit unreachable"``."""
    minutes = max(0, age_ms) // 60_000
    age = f"{minutes} min" if minutes < 120 else human_duration(age_ms)
    return f"data {age} old — {exchange} {reason}"
