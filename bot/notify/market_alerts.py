"""Alert evaluation of one market per cycle: aggregated inputs → rules → claimed alerts.

:class:`MarketAlerts` is the :class:`~bot.notify.scheduler.Scheduler`'s alert half. Each
symbol refreshed in a cycle is looked at once: ``service.view(symbol, range, "all")`` (a
venue that failed is served from its cached candles, with the view's data-age note), the
reported liquidation prints of every venue merged (:func:`bot.notify.alerts.merge_prints`)
and the open interest summed on the candles all venues have
(:func:`bot.notify.alerts.summed_open_interest`). Per subscribed chat and rule:
:func:`bot.notify.alerts.evaluate` on the persisted rule state, keyed — like the alert key —
by exchange ``"all"`` (by the venue id when only one exchange is configured, so the alert
reads "BTC/USDT:USDT · binanceusdm" and a one-venue bot's state carries over). A transition
is claimed (:meth:`~bot.state.subscriptions.Subscriptions.claim`) and handed to the
:class:`~bot.notify.dispatch.Dispatcher`. See :mod:`bot.state.subscriptions` for the
at-most-once rule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from bot.analysis.market_view import MarketView
from bot.analysis.service import MarketService
from bot.config.settings import AlertSettings
from bot.market.errors import MarketError
from bot.notify.alerts import (
    RULES,
    AlertInputs,
    evaluate,
    merge_prints,
    rule_params,
    summed_open_interest,
)
from bot.notify.dispatch import Dispatcher
from bot.reply import Range
from bot.state.subscriptions import Subscriptions
from core.models import LiquidationPrints, MarketSeries

__all__ = ["FiredCounter", "MarketAlerts"]

log = logging.getLogger(__name__)


class FiredCounter(Protocol):
    """Where fired alerts are counted (the scheduler's counters)."""

    alerts_fired: int


class MarketAlerts:
    """Evaluates every subscribed rule on a symbol's aggregated market (see the module
    docstring) and submits the claimed alerts to ``dispatcher``."""

    def __init__(
        self,
        service: MarketService,
        subscriptions: Subscriptions,
        dispatcher: Dispatcher,
        *,
        alert_settings: AlertSettings,
        range_: Range,
        clock: Callable[[], int],
        counters: FiredCounter,
    ) -> None:
        self.service = service
        self.subs = subscriptions
        self.dispatcher = dispatcher
        self.alert_settings = alert_settings
        self.range = range_
        self.clock = clock
        self.counters = counters

    @property
    def exchange(self) -> str:
        """The exchange label of alerts and rule state: ``"all"``, or the only venue's id."""
        exchanges = self.service.exchanges
        return exchanges[0] if len(exchanges) == 1 else "all"

    async def evaluate(self, symbol: str) -> None:
        """Evaluate every subscribed rule once on the aggregated market of ``symbol``."""
        try:
            view = await self.service.view(symbol, self.range, self.exchange)
        except MarketError as exc:
            log.warning("alerts on %s skipped: no aggregated market: %s", symbol, exc)
            return
        await self._alerts(await self._inputs(view), view)

    async def _inputs(self, view: MarketView) -> AlertInputs:
        """The rules' inputs: the aggregated analysis, every venue's prints and open interest."""
        a = view.analysis
        settings = self.alert_settings
        since = a.as_of - settings.prints_window
        fetched = await asyncio.gather(
            *(self._venue_prints(ex, view.symbol, since) for ex in view.exchanges)
        )
        prints = merge_prints([p for p in fetched if p is not None])
        oi_since = a.as_of - settings.oi_window - self.service.candle_ms

        def load() -> list[MarketSeries]:
            store, tf = self.subs.store, self.service.timeframe
            found = (store.load_series(ex, view.symbol, tf, oi_since) for ex in view.exchanges)
            return [s for s in found if s is not None]

        series = summed_open_interest(await asyncio.to_thread(load))
        return AlertInputs(a, self.exchange, prints, series)

    async def _venue_prints(
        self, exchange: str, symbol: str, since: int
    ) -> LiquidationPrints | None:
        try:
            return await self.service.sources[exchange].fetch_prints(symbol, since)
        except (MarketError, NotImplementedError):
            log.debug("no liquidation prints for %s %s", exchange, symbol)
            return None

    async def _alerts(self, inputs: AlertInputs, view: MarketView) -> None:
        symbol = view.symbol
        for rule in RULES.values():
            for sub in await asyncio.to_thread(self.subs.subscribers, symbol, rule.name):
                where = (sub.platform, sub.chat_id, rule.name, inputs.exchange, symbol)
                setting = await asyncio.to_thread(
                    self.subs.setting, sub.platform, sub.chat_id, rule.name
                )
                prev = await asyncio.to_thread(self.subs.rule_state, *where)
                params = rule_params(rule, self.alert_settings, setting.threshold)
                state, event = evaluate(rule, inputs, prev, params)
                if event is None:
                    if state != prev:
                        await asyncio.to_thread(self.subs.save_state, *where, state)
                    continue
                self.counters.alerts_fired += 1
                key = await asyncio.to_thread(
                    self.subs.claim,
                    sub.platform,
                    sub.chat_id,
                    event,
                    state,
                    now=self.clock(),
                    cooldown_ms=self.alert_settings.cooldown,
                )
                if key is not None:
                    silent = setting.mode == "silent"
                    self.dispatcher.submit(sub.platform, sub.chat_id, key, event, silent=silent)
