"""Recorded real exchange data behind the market-source port.

Point :class:`ReplaySource` at a folder; it scans it recursively (``../shared/data``
itself works) for these files, in the formats they were recorded in:

``<BASE>_<QUOTE>_<SETTLE>-<tf>-futures.json``
    freqtrade candles, one row per candle: ``[open_ms, open, high, low, close, volume]``
    (volume in base units), e.g. ``XRP_USDT_USDT-5m-futures.json`` → ``XRP/USDT:USDT``.
``<BASE>_<QUOTE>_<SETTLE>-<interval>-funding_rate.json``
    freqtrade funding rates: ``[settle_ms, rate, 0, 0, 0, 0]``; filled over the candles
    of each interval like live funding (:func:`bot.market.history.fill_funding`).
``depth-<BASE><QUOTE>-limit1000*.json``
    a Binance ``GET /fapi/v1/depth`` answer: ``{"T": ms, "bids": [["price", "qty"], …],
    "asks": […]}`` — the order book; the newest file (by name) wins.
``leverage-tiers-ccxt.json``
    ``{symbol: ccxt fetch_leverage_tiers() list}`` → brackets.

Recordings hold no open interest, long/short ratio, taker-buy volume or liquidation
prints: those come back as NaN (OI, long/short), ``None`` (taker buy) and empty prints.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from bot.market.errors import BadExchangeResponse, NotSupported
from bot.market.history import fill_funding
from bot.market.port import IndexedSymbols, SymbolIndex
from core.brackets import Brackets
from core.models import LiquidationPrints, MarketSeries, ModelError, OrderBook

__all__ = ["ReplaySource", "replay_file_symbol"]

_CANDLES = re.compile(r"^([A-Z0-9]+)_([A-Z0-9]+)_([A-Z0-9]+)-(\w+)-futures\.json$")
_FUNDING = re.compile(r"^([A-Z0-9]+)_([A-Z0-9]+)_([A-Z0-9]+)-\w+-funding_rate\.json$")
_DEPTH = re.compile(r"^depth-([A-Z0-9]+?)(USDT|USDC)-limit\d+.*\.json$")


def replay_file_symbol(name: str) -> str | None:
    """``XRP_USDT_USDT-5m-futures.json`` → ``XRP/USDT:USDT`` (None for other files)."""
    for pattern in (_CANDLES, _FUNDING):
        m = pattern.match(name)
        if m:
            return f"{m[1]}/{m[2]}:{m[3]}"
    m = _DEPTH.match(name)
    return f"{m[1]}/{m[2]}:{m[2]}" if m else None


class ReplaySource(IndexedSymbols):
    """A :class:`~bot.market.port.MarketSource` over a folder of recordings."""

    name = "replay"

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self._candles: dict[tuple[str, str], Path] = {}
        self._funding: dict[str, Path] = {}
        self._depth: dict[str, Path] = {}
        self._tiers: Path | None = None
        self._index: SymbolIndex | None = None

    async def load(self) -> None:
        if self._index is None:
            await asyncio.to_thread(self._scan)

    def _scan(self) -> None:
        if not self.folder.is_dir():
            raise NotSupported(f"replay folder {self.folder} does not exist")
        for path in sorted(self.folder.rglob("*.json")):
            symbol = replay_file_symbol(path.name)
            if (m := _CANDLES.match(path.name)) and symbol:
                self._candles[(symbol, m[4])] = path
            elif _FUNDING.match(path.name) and symbol:
                self._funding[symbol] = path
            elif _DEPTH.match(path.name) and symbol:
                self._depth[symbol] = path  # sorted: the newest recording wins
            elif path.name == "leverage-tiers-ccxt.json":
                self._tiers = path
        self._index = SymbolIndex({s for s, _ in self._candles} | set(self._depth))

    async def fetch_series(
        self, symbol: str, timeframe: str, since: int, until: int | None = None
    ) -> MarketSeries:
        await self.load()
        symbol = self.resolve(symbol)
        path = self._candles.get((symbol, timeframe))
        if path is None:
            raise NotSupported(f"replay: no {timeframe} candles recorded for {symbol}")
        return await asyncio.to_thread(self._series, symbol, path, since, until)

    def _series(self, symbol: str, path: Path, since: int, until: int | None) -> MarketSeries:
        rows = _rows(path, 6)
        ts = rows[:, 0].astype(np.int64)
        keep = (ts >= since) & (ts < (until if until is not None else np.iinfo(np.int64).max))
        rows, ts = rows[keep], ts[keep]
        funding = np.full(len(ts), np.nan)
        if symbol in self._funding:
            f = _rows(self._funding[symbol], 2)
            funding = fill_funding(ts, f[:, 0].astype(np.int64), f[:, 1])
        try:
            return MarketSeries(
                timestamps=ts,
                open=rows[:, 1],
                high=rows[:, 2],
                low=rows[:, 3],
                close=rows[:, 4],
                volume=rows[:, 5],
                open_interest=np.full(len(ts), np.nan),
                funding_rate=funding,
                long_short_ratio=np.full(len(ts), np.nan),
            )
        except ModelError as error:
            raise BadExchangeResponse(f"replay {path.name}: {error}") from error

    async def fetch_book(self, symbol: str, limit: int = 1000) -> OrderBook | None:
        await self.load()
        path = self._depth.get(self.resolve(symbol))
        if path is None:
            return None
        raw = await asyncio.to_thread(_json, path)
        bids = np.array(raw["bids"][:limit], dtype=np.float64).reshape(-1, 2)
        asks = np.array(raw["asks"][:limit], dtype=np.float64).reshape(-1, 2)
        return OrderBook(
            timestamp=int(raw.get("T") or raw.get("E") or 0),
            bid_prices=bids[:, 0],
            bid_sizes=bids[:, 1],
            ask_prices=asks[:, 0],
            ask_sizes=asks[:, 1],
        )

    async def fetch_prints(self, symbol: str, since: int) -> LiquidationPrints:
        await self.load()
        self.resolve(symbol)
        return LiquidationPrints.empty()

    async def fetch_brackets(self, symbol: str) -> Brackets | None:
        await self.load()
        symbol = self.resolve(symbol)
        if self._tiers is None:
            return None
        tiers = (await asyncio.to_thread(_json, self._tiers)).get(symbol)
        return Brackets.from_ccxt_tiers(tiers) if tiers else None

    async def close(self) -> None:
        """Nothing to release."""


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise BadExchangeResponse(f"replay {path.name}: {error}") from error


def _rows(path: Path, columns: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    raw = _json(path)
    try:
        table = np.array([row[:columns] for row in raw], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise BadExchangeResponse(f"replay {path.name}: {error}") from error
    return table.reshape(-1, columns)
