"""What each exchange offers publicly, as data (the freqtrade ``_ft_has`` idea).

=============  ==========================  =========================  ==========================
               binanceusdm                 bybit (v5, linear)         okx (v5, SWAP)
=============  ==========================  =========================  ==========================
markets        /fapi/v1/exchangeInfo       /v5/market/instruments-    /api/v5/public/instruments
                                           info (+ status=PreLaunch)
candles        /fapi/v1/klines (implicit   /v5/market/kline,          /api/v5/market/candles or
               API: row[9] = taker-buy     newest first, 1000/page;   history-candles (ccxt picks
               base volume), 1000/page     taker-buy: not given       by age), newest first,
                                                                      300/page; taker-buy: not
                                                                      given
open interest  /futures/data/              /v5/market/open-interest   /api/v5/rubik/stat/
               openInterestHist, 500/page, 200/page; 5m 15m 30m 1h    contracts/open-interest-
               5m…1d; last 30 days only    4h 1d                      history, 100/page; 5m 1H 1D;
                                                                      in contracts (× ctVal)
funding        /fapi/v1/fundingRate, 1000  /v5/market/funding/history /api/v5/public/funding-
                                           200/page                   rate-history, 100/page
long/short     /futures/data/              /v5/market/account-ratio   /api/v5/rubik/stat/contracts
               globalLongShortAccount-     500/page (raw startTime/   /long-short-account-ratio-
               Ratio, 500/page, 30 days    endTime)                   contract, 100/page
book           /fapi/v1/depth ≤ 1000       /v5/market/orderbook ≤ 500 /api/v5/market/books ≤ 400
brackets       private (leverageBracket    /v5/market/risk-limit      position-tiers is public
               needs a key) → None         (public)                   but sized in contracts (a
                                                                      price-dependent notional):
                                                                      not converted → None
liquidations   no REST (forceOrders was    no REST; WS                no REST in ccxt; WS
               retired); WS !forceOrder    allLiquidation.{symbol}    liquidation-orders
=============  ==========================  =========================  ==========================

The page walker asks for deterministic windows of at most ``page`` rows (one row per
``period``), so every exchange's ordering convention (ascending from ``since`` or newest
first up to ``until``) yields exactly the window; ``walk`` gives the order of the windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

__all__ = ["EXCHANGES", "ExchangeProfile", "HistoryEndpoint", "profile_for"]

Walk = Literal["forward", "backward"]
HOUR_MS = 3_600_000


def _frozen(mapping: dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(mapping)


@dataclass(frozen=True)
class HistoryEndpoint:
    """One paginated history: rows per page, window order, period names by timeframe.

        ``periods`` maps our timeframe to the argument the ccxt method accepts; an empty map
        means the endpoint takes no period (funding). ``raw_window`` names exchange-specific
        start/end params to send when ccxt does not translate ``since``/``until`` itself
    (``raw_window_exclusive``: the exchange treats both bounds as exclusive).
    """

    page: int
    walk: Walk
    periods: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    raw_window: tuple[str, str] | None = None
    raw_window_exclusive: bool = False


@dataclass(frozen=True)
class ExchangeProfile:
    """Public capabilities of one ccxt exchange id (see the module table)."""

    id: str
    candles: HistoryEndpoint
    open_interest: HistoryEndpoint
    funding: HistoryEndpoint
    long_short: HistoryEndpoint
    taker_buy_from_raw_klines: bool
    book_limit: int
    brackets_public: bool
    liquidations: Literal["rest", "stream-only"]
    oi_history_ms: int | None = None  # how far back OI/long-short history reaches
    #: ccxt.pro ``watch_liquidations`` works for it (see :mod:`bot.market.prints_stream`)
    prints_stream: bool = False

    def supports_timeframe(self, timeframe: str) -> bool:
        return timeframe in self.candles.periods


_CANDLE_TFS = {tf: tf for tf in ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "1d")}
_BINANCE_STATS = {tf: tf for tf in ("5m", "15m", "30m", "1h", "2h", "4h", "1d")}
_BYBIT_OI = {tf: tf for tf in ("5m", "15m", "30m", "1h", "4h", "1d")}
_BYBIT_LS = {"5m": "5min", "15m": "15min", "30m": "30min", "1h": "1h", "4h": "4h", "1d": "1d"}
_OKX_STATS = {"5m": "5m", "1h": "1h", "1d": "1d"}

EXCHANGES: Mapping[str, ExchangeProfile] = MappingProxyType(
    {
        "binanceusdm": ExchangeProfile(
            id="binanceusdm",
            candles=HistoryEndpoint(1000, "forward", _frozen(_CANDLE_TFS)),
            open_interest=HistoryEndpoint(500, "forward", _frozen(_BINANCE_STATS)),
            funding=HistoryEndpoint(1000, "forward"),
            long_short=HistoryEndpoint(500, "forward", _frozen(_BINANCE_STATS)),
            taker_buy_from_raw_klines=True,
            book_limit=1000,
            brackets_public=False,
            liquidations="stream-only",
            oi_history_ms=30 * 24 * HOUR_MS,
            prints_stream=True,
        ),
        "bybit": ExchangeProfile(
            id="bybit",
            candles=HistoryEndpoint(1000, "backward", _frozen(_CANDLE_TFS)),
            open_interest=HistoryEndpoint(200, "backward", _frozen(_BYBIT_OI)),
            funding=HistoryEndpoint(200, "backward"),
            long_short=HistoryEndpoint(
                500, "backward", _frozen(_BYBIT_LS), raw_window=("startTime", "endTime")
            ),
            taker_buy_from_raw_klines=False,
            book_limit=500,
            brackets_public=True,
            liquidations="stream-only",
            prints_stream=True,
        ),
        "okx": ExchangeProfile(
            id="okx",
            candles=HistoryEndpoint(300, "backward", _frozen(_CANDLE_TFS)),
            open_interest=HistoryEndpoint(100, "backward", _frozen(_OKX_STATS)),
            funding=HistoryEndpoint(
                100, "backward", raw_window=("before", "after"), raw_window_exclusive=True
            ),
            long_short=HistoryEndpoint(100, "backward", _frozen(_OKX_STATS)),
            taker_buy_from_raw_klines=False,
            book_limit=400,
            brackets_public=False,
            liquidations="stream-only",
            prints_stream=True,
        ),
    }
)


def profile_for(exchange_id: str) -> ExchangeProfile:
    """The profile of ``exchange_id``; ``KeyError`` names the supported ids."""
    try:
        return EXCHANGES[exchange_id]
    except KeyError:
        raise KeyError(
            f"exchange {exchange_id!r} is not supported; use one of {', '.join(EXCHANGES)}"
        ) from None
