"""The port every market source implements, and the symbol resolver they share.

A *source* gives candles with the derivatives data aligned to them, an order book,
liquidation prints and leverage brackets for perpetual swaps, named by ccxt's unified
symbols (``BTC/USDT:USDT``: base / quote : settle). The ccxt, sim and replay sources all
implement :class:`MarketSource`; callers never know which one they hold.

Users type ``BTC``, ``btc``, ``BTCUSDT``, ``BTC-USDT-SWAP`` or ``BTC/USDT``;
:func:`resolve_symbol` maps all of them to ``BTC/USDT:USDT`` (USDT-settled preferred,
then USDC) and answers a miss with :class:`~bot.market.errors.UnknownSymbol` carrying
close matches ("BTCC" → did you mean BTC?).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from bot.market.errors import UnknownSymbol
from core.brackets import Brackets
from core.models import LiquidationPrints, MarketSeries, OrderBook

__all__ = ["IndexedSymbols", "MarketSource", "SymbolIndex", "resolve_symbol"]

_SETTLE_PREFERENCE = ("USDT", "USDC")
_SEPARATORS = re.compile(r"[\s/:_\-]+")
_SUFFIXES = ("SWAP", "PERP", "PERPETUAL")


@runtime_checkable
class MarketSource(Protocol):
    """Market data for perpetual swaps on one venue (or a simulation or a recording)."""

    name: str

    async def load(self) -> None:
        """Load the market list (idempotent; later calls are free)."""

    def symbols(self) -> list[str]:
        """Unified perpetual symbols this source knows, sorted (after :meth:`load`)."""

    def resolve(self, query: str) -> str:
        """User text → unified symbol; raises ``UnknownSymbol`` with suggestions."""

    async def fetch_series(
        self, symbol: str, timeframe: str, since: int, until: int | None = None
    ) -> MarketSeries:
        """Candles opening in ``[since, until)`` with OI, funding, long/short aligned."""

    async def fetch_book(self, symbol: str, limit: int = 1000) -> OrderBook | None:
        """Current order book, or ``None`` where the source has none."""

    async def fetch_prints(self, symbol: str, since: int) -> LiquidationPrints:
        """Reported liquidations since ``since`` (empty where none are offered)."""

    async def fetch_brackets(self, symbol: str) -> Brackets | None:
        """Maintenance-margin brackets where public, else ``None``."""

    async def close(self) -> None:
        """Release connections; the source is unusable afterwards."""


def _base_quote_settle(symbol: str) -> tuple[str, str, str]:
    pair, _, settle = symbol.partition(":")
    base, _, quote = pair.partition("/")
    return base, quote, settle


class SymbolIndex:
    """Lookup tables from user spellings to unified perpetual symbols."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self.symbols: list[str] = sorted(set(symbols))
        rank = {s: i for i, s in enumerate(_SETTLE_PREFERENCE)}
        self._exact: dict[str, str] = {}
        by_base: dict[str, list[str]] = {}
        for symbol in self.symbols:
            base, quote, _settle = _base_quote_settle(symbol)
            self._exact[symbol.upper()] = symbol
            self._exact.setdefault(f"{base}/{quote}".upper(), symbol)
            self._exact.setdefault(_compact(symbol), symbol)
            by_base.setdefault(base.upper(), []).append(symbol)
        self._by_base = {
            base: min(found, key=lambda s: (rank.get(_base_quote_settle(s)[2], 99), s))
            for base, found in by_base.items()
        }

    def resolve(self, query: str) -> str:
        text = query.strip().upper()
        if not text:
            raise UnknownSymbol(query, ())
        for candidate in (text, _compact(text)):
            if candidate in self._exact:
                return self._exact[candidate]
        stripped = _compact(text)
        for suffix in _SUFFIXES:
            stripped = stripped.removesuffix(suffix)
        if stripped in self._by_base:
            return self._by_base[stripped]
        for quote in _SETTLE_PREFERENCE:
            if stripped.endswith(quote) and stripped[: -len(quote)] in self._by_base:
                return self._by_base[stripped[: -len(quote)]]
        raise UnknownSymbol(query, self.suggest(stripped or text))

    def suggest(self, text: str, n: int = 3) -> list[str]:
        """Base names close to ``text`` (difflib over bases and symbols), best first."""
        bases = difflib.get_close_matches(text, list(self._by_base), n=n, cutoff=0.6)
        compact = {_compact(s): _base_quote_settle(s)[0].upper() for s in self.symbols}
        for match in difflib.get_close_matches(text, list(compact), n=n, cutoff=0.6):
            bases.append(compact[match])
        return list(dict.fromkeys(bases))[:n]


def _compact(text: str) -> str:
    """``BTC/USDT:USDT`` → ``BTCUSDT``; ``btc-usdt-swap`` → ``BTCUSDTSWAP``."""
    pair = text.upper().partition(":")[0]
    return _SEPARATORS.sub("", pair)


def resolve_symbol(query: str, symbols: Iterable[str]) -> str:
    """One-shot :meth:`SymbolIndex.resolve` (sources keep an index instead)."""
    return SymbolIndex(symbols).resolve(query)


class IndexedSymbols:
    """``symbols()`` and ``resolve()`` of a source whose market list arrives with ``load()``.

    The source sets ``self._index`` in ``load()``; before that, both raise a clear error.
    """

    name: str
    _index: SymbolIndex | None = None

    def symbols(self) -> list[str]:
        return list(self._require_index().symbols)

    def resolve(self, query: str) -> str:
        return self._require_index().resolve(query)

    def _require_index(self) -> SymbolIndex:
        if self._index is None:
            raise RuntimeError(f"{self.name}: call load() before using symbols")
        return self._index
