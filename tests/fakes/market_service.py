"""Stand-ins for the command-layer tests: a scriptable market source and a counting engine.

:class:`FakeSource` serves a deterministic random-walk series per symbol and can be told
to fail (exchange down). :class:`FakeEngine` answers ``analyze`` with the hand-made BTC
analysis of ``tests.core.chart_fixtures`` (relabelled) and ``render`` with tiny PNG-like
bytes, counting calls and sleeping briefly so that concurrent requests really overlap.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Mapping, Sequence

import numpy as np

from bot.analysis.service import CoreEngine
from bot.market.errors import ExchangeUnavailable, MarketError
from bot.market.port import SymbolIndex
from bot.reply import ChartKind
from core.brackets import Brackets
from core.models import LiquidationPrints, MarketSeries, OrderBook, Snapshot
from core.results import Analysis
from tests.core.chart_fixtures import btc_analysis

__all__ = ["FIVE_MIN", "T0", "FakeEngine", "FakeSource", "make_series"]

FIVE_MIN = 300_000
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC


def make_series(n: int, *, start: int = T0, price: float = 90_000.0, seed: int = 1) -> MarketSeries:
    """``n`` 5m candles of a small random walk with open interest."""
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.concatenate([[price], close[:-1]])
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    volume = rng.uniform(50, 150, n)
    return MarketSeries(
        timestamps=start + FIVE_MIN * np.arange(n, dtype=np.int64),
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        taker_buy_volume=volume * 0.5,
        open_interest=np.linspace(1e4, 1.1e4, n),
    )


class FakeSource:
    """A :class:`~bot.market.port.MarketSource` with BTC, ETH and SOL; ``down`` fails fetches."""

    def __init__(self, name: str = "sim", *, candles: int = 288, down: bool = False) -> None:
        self.name = name
        self.candles = candles
        self.down = down
        self.fetches = 0
        self._index = SymbolIndex(["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"])

    async def load(self) -> None:
        return None

    def symbols(self) -> list[str]:
        return list(self._index.symbols)

    def resolve(self, query: str) -> str:
        return self._index.resolve(query)

    async def fetch_series(
        self, symbol: str, timeframe: str, since: int, until: int | None = None
    ) -> MarketSeries:
        self.fetches += 1
        if self.down:
            raise ExchangeUnavailable(f"{self.name}: 503 Service Unavailable")
        full = make_series(self.candles)
        keep = (full.timestamps >= since) & (full.timestamps < (until or 2**62))
        idx = np.flatnonzero(keep)
        if len(idx) == 0:
            return full.slice(0, 0)
        return full.slice(int(idx[0]), int(idx[-1]) + 1)

    async def fetch_book(self, symbol: str, limit: int = 1000) -> OrderBook | None:
        return None

    async def fetch_prints(self, symbol: str, since: int) -> LiquidationPrints:
        return LiquidationPrints.empty()

    async def fetch_brackets(self, symbol: str) -> Brackets | None:
        return None

    async def close(self) -> None:
        return None


@functools.cache
def _base_analysis() -> Analysis:
    return btc_analysis()


class FakeEngine(CoreEngine):
    """The real engine's window and cascade re-runs, with a canned analysis and a counted,
    slowed-down stand-in render; ``fail_render`` makes ``render`` raise."""

    def __init__(
        self, *, render_seconds: float = 0.02, fail_render: Exception | None = None
    ) -> None:
        super().__init__()
        self.render_seconds = render_seconds
        self.fail_render = fail_render
        self.analyze_calls = 0
        #: the ``brackets`` argument of every ``analyze`` call, in order
        self.brackets_seen: list[Mapping[str, Brackets] | None] = []
        self.render_calls = 0
        self._lock = threading.Lock()

    def analyze(
        self, snapshots: Sequence[Snapshot], *, brackets: Mapping[str, Brackets] | None = None
    ) -> Analysis:
        with self._lock:
            self.analyze_calls += 1
            self.brackets_seen.append(brackets)
        if not snapshots:
            raise MarketError("no snapshots")
        first = snapshots[0]
        return dataclasses.replace(
            _base_analysis(),
            symbol=first.symbol,
            exchanges=tuple(s.exchange for s in snapshots),
            as_of=int(first.series.timestamps[-1]),
        )

    def render(
        self, kind: ChartKind, analysis: Analysis, *, style: str, size: tuple[int, int]
    ) -> bytes:
        with self._lock:
            self.render_calls += 1
        time.sleep(self.render_seconds)
        if self.fail_render is not None:
            raise self.fail_render
        return b"\x89PNG\r\n\x1a\n" + f"{kind}:{analysis.symbol}:{style}".encode()
