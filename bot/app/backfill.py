"""The first minutes of ``liqwatch run``, in the log: each market's first fetch as a
progress bar, then one ``ready`` line.

The first scheduler cycle fetches every watched market's whole look-back (7 days of 5m
candles, open interest, funding, …: several paged requests per market and exchange); after a
restart it fetches only what is new. :class:`BackfillLog` wraps the service's refresh — the
function both the scheduler and on-demand commands call — and logs, for the first refresh of
each (exchange, symbol) in this process::

    backfill [######------------------]  1/4 markets · binanceusdm BTC: 2,016 candles (7d) in 3.1 s
    backfill [########################]  4/4 markets · okx ETH: failed (timed out), retried later
    ready: 3 of 4 markets backfilled in 9 s; not yet: okx ETH (retried with backoff; /status shows the error)

Commands are answered during the backfill too (a market not fetched yet is fetched for
the command).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from core.charts.format import human_duration, market_name

__all__ = ["BackfillLog", "expected_markets"]

log = logging.getLogger("liqwatch.backfill")

_BAR = 24

Refresh = Callable[..., Awaitable[object]]


def expected_markets(exchanges: Sequence[str], symbols: Sequence[str]) -> int:
    """How many markets the first cycle fetches: each exchange × each watched symbol
    (``BTC`` and ``BTC/USDT:USDT`` are one)."""
    names = {market_name(s if "/" in s else f"{s.upper()}/USDT:USDT") for s in symbols}
    return len(exchanges) * len(names)


class BackfillLog:
    """Wraps a refresh function (see the module docstring); call it as the refresh."""

    def __init__(
        self,
        refresh: Refresh,
        expected: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self.refresh = refresh
        self.expected = expected
        self.clock = clock
        self.log = logger
        self.started = clock()
        #: market → "running" | "ok" | "failed" (its first refresh in this process)
        self.state: dict[tuple[str, str], str] = {}
        self.ready = False

    async def __call__(
        self, source: Any, store: Any, symbol: str, timeframe: str, lookback_ms: int, now: int
    ) -> object:
        key = (str(getattr(source, "name", "?")), market_name(symbol))
        if key in self.state:
            return await self.refresh(source, store, symbol, timeframe, lookback_ms, now)
        self.state[key] = "running"  # claimed: a concurrent refresh of it is not counted twice
        began = self.clock()
        try:
            result = await self.refresh(source, store, symbol, timeframe, lookback_ms, now)
        except Exception as err:
            self.state[key] = "failed"
            self._progress(key, f"failed ({err or type(err).__name__}), retried later")
            raise
        self.state[key] = "ok"
        self._progress(key, self._what(result, lookback_ms, began))
        return result

    def _what(self, result: object, lookback_ms: int, began: float) -> str:
        took = f"in {self.clock() - began:.1f} s"
        fetched = getattr(result, "fetched", None)
        if not isinstance(fetched, int):
            return took
        if getattr(result, "incremental", False):
            return f"{fetched:,} candle(s) since the last run {took}"
        return f"{fetched:,} candles ({human_duration(lookback_ms)}) {took}"

    def _progress(self, key: tuple[str, str], what: str) -> None:
        finished = sum(1 for s in self.state.values() if s != "running")
        total = max(self.expected, len(self.state))
        filled = _BAR * finished // total if total else _BAR
        bar = "#" * filled + "-" * (_BAR - filled)
        width = len(str(total))
        exchange, name = key
        self.log.info(
            "backfill [%s] %*d/%d markets · %s %s: %s",
            bar, width, finished, total, exchange, name, what,
        )  # fmt: skip
        if not self.ready and finished >= self.expected:
            self.ready = True
            self._ready(finished)

    def _ready(self, finished: int) -> None:
        failed = [f"{ex} {name}" for (ex, name), s in self.state.items() if s == "failed"]
        took = self.clock() - self.started
        if failed:
            self.log.warning(
                "ready: %d of %d markets backfilled in %.0f s; not yet: %s (retried with "
                "backoff; /status shows the error)",
                finished - len(failed), finished, took, ", ".join(failed),
            )  # fmt: skip
        else:
            self.log.info(
                "ready: %d market(s) backfilled in %.0f s; commands now answer from fresh data",
                finished, took,
            )  # fmt: skip
