"""Market data from real exchanges through ``ccxt.async_support``.

One :class:`CcxtSource` per exchange id (``binanceusdm``, ``bybit``, ``okx``; their public
endpoints are tabled in :mod:`bot.market.exchanges`). Everything vendor-specific stays
here: ccxt exceptions become :mod:`bot.market.errors` at the edge, every request goes
through :func:`bot.market.retry.retry`, and payloads are normalised into frozen core types
the moment they arrive. Units: sizes and open interest in base currency (OKX counts
contracts; they are multiplied by the market's ``contractSize``).

``api_base_url`` points every REST host of the exchange at another origin (a loopback
fake in tests): each URL in ``exchange.urls['api']`` — a flat dict of strings for all
three (Binance: one entry per API family on several hosts; Bybit ``https://api.{hostname}``;
OKX ``https://{hostname}``) — keeps its path and gets the new scheme and host.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import ccxt.async_support as ccxt_async
import numpy as np

from bot.market.ccxt_errors import translate_ccxt
from bot.market.errors import BadExchangeResponse, NotSupported, PermanentMarketError
from bot.market.exchanges import ExchangeProfile, HistoryEndpoint, profile_for
from bot.market.history import Row, align_at_close, fill_funding, walk_pages
from bot.market.port import IndexedSymbols, SymbolIndex
from bot.market.retry import RetryPolicy, retry
from core.brackets import Brackets
from core.models import (
    LiquidationPrints,
    MarketSeries,
    ModelError,
    OrderBook,
    Side,
    timeframe_ms,
)

__all__ = ["CcxtSource", "rewrite_api_urls"]

log = logging.getLogger(__name__)

T = TypeVar("T")
HOUR_MS = 3_600_000
#: Funding is settled every 1-8 h; look this far before ``since`` for the rate in force.
FUNDING_LOOKBACK_MS = 8 * HOUR_MS
_ORIGIN = re.compile(r"^https?://[^/]+")
_MARKET_TYPES = {"binanceusdm": ["linear"], "bybit": ["linear"], "okx": ["swap"]}


def rewrite_api_urls(api: Any, base_url: str) -> Any:
    """``urls['api']`` with every ``http(s)://host`` prefix replaced by ``base_url``."""
    base = base_url.rstrip("/")
    if isinstance(api, str):
        return _ORIGIN.sub(base, api, count=1)
    if isinstance(api, Mapping):
        return {key: rewrite_api_urls(value, base) for key, value in api.items()}
    return api


class CcxtSource(IndexedSymbols):
    """A :class:`~bot.market.port.MarketSource` backed by one ccxt exchange."""

    def __init__(
        self,
        exchange_id: str,
        *,
        api_base_url: str | None = None,
        timeout_ms: int = 10_000,
        enable_rate_limit: bool = True,
        retry_policy: RetryPolicy | None = None,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.profile: ExchangeProfile = profile_for(exchange_id)
        self.name = exchange_id
        self._retry = retry_policy or RetryPolicy()
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        exchange_class = getattr(ccxt_async, exchange_id)
        self._exchange: Any = exchange_class(
            {
                "timeout": timeout_ms,
                "enableRateLimit": enable_rate_limit,
                "options": {"fetchMarkets": {"types": _MARKET_TYPES[exchange_id]}},
            }
        )
        if api_base_url is not None:
            self._exchange.urls["api"] = rewrite_api_urls(self._exchange.urls["api"], api_base_url)
        self._index: SymbolIndex | None = None

    # -- plumbing -------------------------------------------------------------------

    async def _call(
        self,
        what: str,
        fn: Callable[[], Awaitable[Any]],
        parse: Callable[[Any], T] = lambda raw: raw,
    ) -> T:
        """One request: translated errors, parsed inside the attempt, retried if temporary."""

        async def attempt() -> T:
            raw = await translate_ccxt(fn(), self._exchange, f"{self.name} {what}")
            try:
                return parse(raw)
            except (KeyError, IndexError, TypeError, ValueError) as error:
                raise BadExchangeResponse(f"{self.name} {what}: {error!r}") from error

        return await retry(attempt, self._retry, f"{self.name} {what}")

    def _market(self, symbol: str) -> Mapping[str, Any]:
        market: Mapping[str, Any] = self._exchange.market(self.resolve(symbol))
        return market

    def _contract_size(self, symbol: str) -> float:
        size = self._market(symbol).get("contractSize")
        return float(size) if size else 1.0

    # -- port -----------------------------------------------------------------------

    async def load(self) -> None:
        if self._index is not None:
            return
        markets: Mapping[str, Any] = await self._call(
            "load_markets", lambda: self._exchange.load_markets()
        )
        perps = [
            m["symbol"]
            for m in markets.values()
            if m.get("swap") and m.get("linear") and m.get("active") is not False
        ]
        self._index = SymbolIndex(perps)

    async def fetch_series(
        self, symbol: str, timeframe: str, since: int, until: int | None = None
    ) -> MarketSeries:
        await self.load()
        symbol = self.resolve(symbol)
        if not self.profile.supports_timeframe(timeframe):
            raise NotSupported(f"{self.name}: timeframe {timeframe} is not offered")
        tf_ms = timeframe_ms(timeframe)
        end = self._clock_ms() if until is None else until
        rows = await self._candles(symbol, timeframe, tf_ms, since, end)
        ts = np.array(list(rows), dtype=np.int64)
        table = np.array([list(r)[1:7] for r in rows.values()], dtype=np.float64).reshape(-1, 6)
        closes_end = end + tf_ms
        oi = await self._side_series(
            "open interest", self._oi_rows, symbol, timeframe, since + tf_ms, closes_end
        )
        ls = await self._side_series(
            "long/short ratio", self._ls_rows, symbol, timeframe, since + tf_ms, closes_end
        )
        funding = await self._side_series(
            "funding", self._funding_rows, symbol, timeframe, since - FUNDING_LOOKBACK_MS, end
        )
        try:
            return MarketSeries(
                timestamps=ts,
                open=table[:, 0],
                high=table[:, 1],
                low=table[:, 2],
                close=table[:, 3],
                volume=table[:, 4],
                taker_buy_volume=table[:, 5] if self.profile.taker_buy_from_raw_klines else None,
                open_interest=_aligned(ts, tf_ms, oi, at_close=True),
                funding_rate=_aligned(ts, tf_ms, funding, at_close=False),
                long_short_ratio=_aligned(ts, tf_ms, ls, at_close=True),
            )
        except ModelError as error:
            raise BadExchangeResponse(f"{self.name} {symbol} candles: {error}") from error

    async def fetch_book(self, symbol: str, limit: int = 1000) -> OrderBook | None:
        await self.load()
        symbol = self.resolve(symbol)
        depth = min(limit, self.profile.book_limit)
        raw: Any = await self._call(
            "order book", lambda: self._exchange.fetch_order_book(symbol, depth)
        )
        size = self._contract_size(symbol)
        try:
            bids = np.array([lvl[:2] for lvl in raw["bids"]], dtype=np.float64).reshape(-1, 2)
            asks = np.array([lvl[:2] for lvl in raw["asks"]], dtype=np.float64).reshape(-1, 2)
            return OrderBook(
                timestamp=int(raw.get("timestamp") or self._clock_ms()),
                bid_prices=bids[:, 0],
                bid_sizes=bids[:, 1] * size,
                ask_prices=asks[:, 0],
                ask_sizes=asks[:, 1] * size,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BadExchangeResponse(f"{self.name} {symbol} order book: {error}") from error

    async def fetch_prints(self, symbol: str, since: int) -> LiquidationPrints:
        """Reported liquidations; empty where the exchange only streams them (all three)."""
        await self.load()
        symbol = self.resolve(symbol)
        if not self._exchange.has.get("fetchLiquidations"):
            return LiquidationPrints.empty()
        raw: Any = await self._call(
            "liquidations", lambda: self._exchange.fetch_liquidations(symbol, since)
        )
        items = sorted(raw, key=lambda x: x["timestamp"])
        return LiquidationPrints(
            times=np.array([int(x["timestamp"]) for x in items], dtype=np.int64),
            sides=np.array(
                [Side.LONG if x.get("side") == "long" else Side.SHORT for x in items], dtype=np.int8
            ),
            prices=np.array([float(x["price"]) for x in items]),
            notionals=np.array([float(x["quoteValue"]) for x in items]),
        )

    async def fetch_brackets(self, symbol: str) -> Brackets | None:
        """Leverage tiers where public (bybit, okx); Binance needs a key → ``None``."""
        await self.load()
        symbol = self.resolve(symbol)
        if not self.profile.brackets_public:
            return None
        tiers: Any = await self._call(
            "leverage tiers", lambda: self._exchange.fetch_market_leverage_tiers(symbol)
        )
        try:
            return Brackets.from_ccxt_tiers(tiers)
        except (KeyError, TypeError, ValueError) as error:
            raise BadExchangeResponse(f"{self.name} {symbol} leverage tiers: {error}") from error

    async def close(self) -> None:
        await self._exchange.close()

    async def __aenter__(self) -> CcxtSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- histories ------------------------------------------------------------------

    async def _candles(
        self, symbol: str, timeframe: str, tf_ms: int, since: int, until: int
    ) -> dict[int, Row]:
        endpoint = self.profile.candles
        market_id = self._market(symbol)["id"]

        async def page(start: int, end: int, limit: int) -> Sequence[Row]:
            if self.profile.taker_buy_from_raw_klines:
                request = {
                    "symbol": market_id,
                    "interval": timeframe,
                    "startTime": start,
                    "endTime": end,
                    "limit": limit,
                }
                return await self._call(
                    "klines",
                    lambda: self._exchange.fapiPublicGetKlines(request),
                    lambda raw: [_kline_row(r) for r in raw],
                )
            return await self._call(
                "ohlcv",
                lambda: self._exchange.fetch_ohlcv(symbol, timeframe, start, limit, {"until": end}),
                lambda raw: [_ohlcv_row(r) for r in raw],
            )

        return await walk_pages(page, since, until, tf_ms, endpoint.page, endpoint.walk)

    async def _oi_rows(self, symbol: str, period: str, since: int, until: int) -> dict[int, Row]:
        size = self._contract_size(symbol)

        async def page(start: int, end: int, limit: int) -> Sequence[Row]:
            return await self._call(
                "open interest",
                lambda: self._exchange.fetch_open_interest_history(
                    symbol, period, start, limit, {"until": end}
                ),
                lambda got: [
                    (int(x["timestamp"]), float(x["openInterestAmount"]) * size)
                    for x in got
                    if x.get("openInterestAmount") is not None
                ],
            )

        endpoint = self.profile.open_interest
        return await walk_pages(
            page, since, until, timeframe_ms(period), endpoint.page, endpoint.walk
        )

    async def _ls_rows(self, symbol: str, period: str, since: int, until: int) -> dict[int, Row]:
        endpoint = self.profile.long_short
        wire_period = endpoint.periods[period]

        async def page(start: int, end: int, limit: int) -> Sequence[Row]:
            return await self._call(
                "long/short ratio",
                lambda: self._exchange.fetch_long_short_ratio_history(
                    symbol, wire_period, start, limit, _window(endpoint, start, end)
                ),
                lambda got: [
                    (int(x["timestamp"]), float(x["longShortRatio"]))
                    for x in got
                    if x.get("longShortRatio") is not None
                ],
            )

        return await walk_pages(
            page, since, until, timeframe_ms(period), endpoint.page, endpoint.walk
        )

    async def _funding_rows(
        self, symbol: str, _period: str, since: int, until: int
    ) -> dict[int, Row]:
        endpoint = self.profile.funding

        async def page(start: int, end: int, limit: int) -> Sequence[Row]:
            return await self._call(
                "funding history",
                lambda: self._exchange.fetch_funding_rate_history(
                    symbol, start, limit, _window(endpoint, start, end)
                ),
                lambda got: [
                    (int(x["timestamp"]), float(x["fundingRate"]))
                    for x in got
                    if x.get("fundingRate") is not None
                ],
            )

        # funding settles at most hourly: one-hour periods bound the rows per window
        return await walk_pages(page, since, until, HOUR_MS, endpoint.page, endpoint.walk)

    async def _side_series(
        self,
        what: str,
        fetch: Callable[[str, str, int, int], Awaitable[dict[int, Row]]],
        symbol: str,
        timeframe: str,
        since: int,
        until: int,
    ) -> dict[int, Row] | None:
        """A side series, or ``None`` (→ all NaN) when the exchange refuses it for good."""
        period = _stats_period(self.profile, what, timeframe)
        if period is None:
            return None
        try:
            return await fetch(symbol, period, since, until)
        except PermanentMarketError as error:
            log.warning("%s %s %s unavailable: %s", self.name, symbol, what, error)
            return None


def _stats_period(profile: ExchangeProfile, what: str, timeframe: str) -> str | None:
    """The statistics period to sample at: the candle's own, else one dividing it."""
    endpoint: HistoryEndpoint
    if what == "funding":
        return timeframe
    endpoint = profile.open_interest if what == "open interest" else profile.long_short
    if timeframe in endpoint.periods:
        return timeframe
    tf_ms = timeframe_ms(timeframe)
    divisors = [p for p in endpoint.periods if tf_ms % timeframe_ms(p) == 0]
    if divisors:
        return max(divisors, key=timeframe_ms)
    return min(endpoint.periods, key=timeframe_ms) if endpoint.periods else None


def _window(endpoint: HistoryEndpoint, start: int, end: int) -> dict[str, int]:
    if endpoint.raw_window is None:
        return {"until": end}
    lo, hi = endpoint.raw_window
    if endpoint.raw_window_exclusive:
        return {lo: start - 1, hi: end + 1}
    return {lo: start, hi: end}


def _aligned(
    ts: np.ndarray[Any, np.dtype[np.int64]],
    tf_ms: int,
    rows: dict[int, Row] | None,
    *,
    at_close: bool,
) -> np.ndarray[Any, np.dtype[np.float64]]:
    if rows is None:
        return np.full(len(ts), np.nan)
    times = np.array(list(rows), dtype=np.int64)
    values = np.array([r[1] for r in rows.values()], dtype=np.float64)
    if at_close:
        return align_at_close(ts, tf_ms, times, values)
    return fill_funding(ts, times, values)


def _kline_row(raw: Sequence[Any]) -> Row:
    """Binance kline ``[open_time, o, h, l, c, volume, close_time, quote_volume, trades,
    taker_buy_base, taker_buy_quote, ignore]`` → ``(t, o, h, l, c, v, taker_buy_base)``."""
    return (int(raw[0]), *(float(raw[i]) for i in (1, 2, 3, 4, 5, 9)))


def _ohlcv_row(raw: Sequence[Any]) -> Row:
    """ccxt's unified ``[t, o, h, l, c, v]`` (taker-buy unknown → NaN placeholder)."""
    return (int(raw[0]), *(float(raw[i]) for i in range(1, 6)), float("nan"))
