"""Real liquidation prints from the exchanges' public WebSocket streams (``ccxt.pro``).

No REST endpoint gives public liquidations any more (see :mod:`bot.market.exchanges`), so
:class:`PrintsWatcher` keeps ``watch_liquidations`` subscriptions open and hands batches of
:class:`core.models.LiquidationPrints` to a sink. What ccxt.pro (4.5) subscribes to, what
arrives, and what the ``side`` it reports means (it is *not* the same thing everywhere) is
in :mod:`bot.market.prints_parse`, which normalises each liquidation.

Every parsed liquidation is caught by a tap on ccxt's liquidation cache
(``exchange.liquidations``), not taken from what ``watch_*`` returns: ccxt resolves a watch
future once per wake-up, so a burst of frames read in one go would otherwise lose all but
the first. Errors are translated (:mod:`bot.market.ccxt_errors`) and the watch is re-entered
after a full-jitter backoff (:class:`RetryPolicy`), which makes ccxt dial and subscribe again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ccxt.pro as ccxt_pro
from ccxt.async_support.base.ws.cache import ArrayCache

from bot.market.ccxt_errors import translate_ccxt
from bot.market.ccxt_source import rewrite_api_urls
from bot.market.errors import MarketError, PermanentMarketError, TemporaryMarketError
from bot.market.exchanges import profile_for
from bot.market.port import SymbolIndex
from bot.market.prints_parse import PrintRow, batch_prints, prints_from_liquidation
from bot.market.retry import RetryPolicy, retry
from core.models import LiquidationPrints

__all__ = ["PrintsSink", "PrintsWatcher", "StreamStatus", "rewrite_ws_urls"]

log = logging.getLogger(__name__)

#: ``on_prints(exchange, symbol, prints)``; the scheduler passes ``store.save_prints``.
PrintsSink = Callable[[str, str, LiquidationPrints], Awaitable[None]]

_WS_ORIGIN = re.compile(r"^wss?://[^/]+")
_MARKET_TYPES = {"binanceusdm": ["linear"], "bybit": ["linear"], "okx": ["swap"]}


@dataclass(frozen=True)
class StreamStatus:
    """Health of one watcher, for ``/status``; times are epoch ms."""

    exchange: str
    connected: bool
    last_message_ms: int | None
    last_print_ms: int | None
    last_error: str | None
    reconnects: int
    prints: int
    bad_frames: int


def rewrite_ws_urls(ws: Any, base_url: str) -> Any:
    """``urls['api']['ws']`` with every ``ws(s)://host`` prefix replaced by ``base_url``."""
    if isinstance(ws, str):
        return _WS_ORIGIN.sub(base_url.rstrip("/"), ws, count=1)
    if isinstance(ws, Mapping):
        return {key: rewrite_ws_urls(value, base_url) for key, value in ws.items()}
    return ws


class _Tap(ArrayCache):  # type: ignore[misc]  # ccxt is untyped
    """ccxt's liquidation cache, also handing each appended liquidation to ``on_item``."""

    def __init__(self, on_item: Callable[[Mapping[str, Any]], None], max_size: int) -> None:
        super().__init__(max_size)
        self._on_item = on_item

    def append(self, item: Mapping[str, Any]) -> None:
        super().append(item)
        self._on_item(item)


def _guarded(exchange_class: Any, on_bad_frame: Callable[[str, BaseException, Any], None]) -> Any:
    """``exchange_class`` whose connections survive a frame they cannot decode or handle.

    ccxt decodes and dispatches each frame inside a callback of its receive loop; an
    exception there (a non-JSON frame, a shape the handler does not expect) ends that loop
    silently, and the stream stalls until the keepalive notices. The guard logs the frame
    and lets the loop go on.
    """

    class Guarded(exchange_class):  # type: ignore[misc]  # ccxt is untyped
        def client(self, url: str) -> Any:
            client = super().client(url)
            if not getattr(client, "_frames_guarded", False):
                dispatch = client.handle_text_or_binary_message

                def guarded(data: Any) -> None:
                    try:
                        dispatch(data)
                    except Exception as error:
                        on_bad_frame(url, error, data)

                client.handle_text_or_binary_message = guarded
                client._frames_guarded = True
            return client

    return Guarded


class PrintsWatcher:
    """Streams one exchange's liquidations for ``symbols`` into ``on_prints`` batches.

    ``start()`` loads markets over REST (``api_base_url`` redirects it, as in
    :class:`~bot.market.ccxt_source.CcxtSource`), resolves the symbols and starts the watch
    tasks; ``stop()`` flushes what is buffered and closes the exchange. Batches are flushed
    every ``flush_interval`` seconds, or at once when a symbol holds ``max_batch`` prints.
    ``ws_base_url`` points every WebSocket host at another origin (a loopback fake).
    """

    def __init__(
        self,
        exchange_id: str,
        symbols: Sequence[str],
        on_prints: PrintsSink,
        *,
        ws_base_url: str | None = None,
        api_base_url: str | None = None,
        enable_rate_limit: bool = True,
        flush_interval: float = 1.0,
        max_batch: int = 500,
        backoff: RetryPolicy | None = None,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        if not profile_for(exchange_id).prints_stream:
            raise KeyError(f"exchange {exchange_id!r} has no liquidation stream here")
        self.name = exchange_id
        self._queries = list(symbols)
        self.symbols: list[str] = []
        self._sink = on_prints
        self._flush_interval = flush_interval
        self._max_batch = max_batch
        self._backoff = backoff or RetryPolicy(base_delay=1.0, max_delay=60.0)
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        exchange_class = _guarded(getattr(ccxt_pro, exchange_id), self._on_bad_frame)
        self._exchange: Any = exchange_class(
            {
                "enableRateLimit": enable_rate_limit,
                "options": {"fetchMarkets": {"types": _MARKET_TYPES[exchange_id]}},
            }
        )
        api = self._exchange.urls["api"]
        if api_base_url is not None:
            api = {k: v if k == "ws" else rewrite_api_urls(v, api_base_url) for k, v in api.items()}
        if ws_base_url is not None:
            api = {**api, "ws": rewrite_ws_urls(api["ws"], ws_base_url)}
        self._exchange.urls["api"] = api
        self._buffers: dict[str, list[PrintRow]] = {}
        self._full = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_error: str | None = None
        self._last_print_ms: int | None = None
        self._last_message_ms: int | None = None
        self._reconnects = 0
        self._prints = 0
        self._multi = False
        self._bad_frames = 0

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Load markets, resolve the symbols and start watching (idempotent)."""
        if self._tasks:
            return
        ex = self._exchange

        async def load() -> Any:
            return await translate_ccxt(ex.load_markets(), ex, f"{self.name} load_markets")

        markets: Mapping[str, Any] = await retry(load, self._backoff, f"{self.name} markets")
        index = SymbolIndex(
            m["symbol"] for m in markets.values() if m.get("swap") and m.get("linear")
        )
        self.symbols = sorted({index.resolve(q) for q in self._queries})
        ex.liquidations = _Tap(self._on_liquidation, max_size=1000)
        self._multi = ex.has.get("watchLiquidationsForSymbols") is True
        groups = [self.symbols] if self._multi else [[s] for s in self.symbols]
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._pump(g), name=f"prints {self.name}") for g in groups]
        self._tasks.append(loop.create_task(self._flusher(), name=f"prints {self.name} flush"))

    async def stop(self) -> None:
        """Cancel the watch tasks, flush the buffers and close the exchange's connections."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._flush()
        await self._exchange.close()

    async def __aenter__(self) -> PrintsWatcher:
        try:
            await self.start()
        except BaseException:
            await self.stop()  # the REST session is open once markets were asked for
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    @property
    def status(self) -> StreamStatus:
        clients = list((getattr(self._exchange, "clients", None) or {}).values())
        seen = [c.last_message_at for c in clients if getattr(c, "last_message_at", None)]
        if seen:
            self._last_message_ms = max([*seen, self._last_message_ms or 0])
        return StreamStatus(
            exchange=self.name,
            connected=bool(self._tasks) and any(not c.closed() for c in clients),
            last_message_ms=self._last_message_ms,
            last_print_ms=self._last_print_ms,
            last_error=self._last_error,
            reconnects=self._reconnects,
            prints=self._prints,
            bad_frames=self._bad_frames,
        )

    # -- watching ---------------------------------------------------------------------

    def _watch(self, symbols: list[str]) -> Awaitable[Any]:
        ex = self._exchange
        call: Awaitable[Any] = (
            ex.watch_liquidations_for_symbols(symbols)
            if self._multi
            else ex.watch_liquidations(symbols[0])
        )
        return call

    async def _pump(self, symbols: list[str]) -> None:
        """Keep one subscription alive: watch, and after an error back off and watch again."""
        what = f"{self.name} liquidations {','.join(symbols)}"
        failures = 0
        while True:
            try:
                await translate_ccxt(self._watch(symbols), self._exchange, what)
                failures = 0
            except MarketError as error:
                failures += 1
                self._reconnects += 1
                self._last_error = f"{type(error).__name__}: {error}"
                if isinstance(error, TemporaryMarketError):
                    pause = self._backoff.delay(min(failures, 30), error)
                else:
                    pause = self._backoff.max_delay
                log.log(
                    logging.ERROR if isinstance(error, PermanentMarketError) else logging.WARNING,
                    "%s failed (%s); watching again in %.2fs",
                    what,
                    self._last_error,
                    pause,
                )
                await self._backoff.sleep(pause)

    def _on_bad_frame(self, url: str, error: BaseException, data: Any) -> None:
        self._bad_frames += 1
        self._last_error = f"unreadable frame ({type(error).__name__}: {error})"
        log.warning(
            "%s: unreadable frame from %s left out (%r): %.200r", self.name, url, error, data
        )

    def _on_liquidation(self, liquidation: Mapping[str, Any]) -> None:
        """Called by ccxt's message handler for every parsed liquidation (synchronously)."""
        if liquidation.get("symbol") not in self.symbols:
            return
        symbol = str(liquidation["symbol"])
        size = self._exchange.markets[symbol].get("contractSize")
        for row in prints_from_liquidation(self.name, liquidation, size):
            buffer = self._buffers.setdefault(row.symbol, [])
            buffer.append(row)
            self._prints += 1
            self._last_print_ms = self._clock_ms()
            if len(buffer) >= self._max_batch:
                self._full.set()

    # -- flushing ---------------------------------------------------------------------

    async def _flusher(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._flush_interval)
            self._full.clear()
            await self._flush()

    async def _flush(self) -> None:
        buffers, self._buffers = self._buffers, {}
        for symbol, rows in buffers.items():
            if not rows:
                continue
            try:
                await self._sink(self.name, symbol, batch_prints(rows))
            except Exception:
                log.exception("%s: saving %d prints of %s failed", self.name, len(rows), symbol)
