"""The scheduler: periodic refresh → analysis → alert rules → fan-out to every outlet.

**Refresh** is one job per (exchange, symbol) — every configured exchange × every symbol
somebody is subscribed to, plus the ``watch`` list — so each venue keeps its own cadence,
backoff and ``/status`` row. **Alerts** are evaluated once per *symbol*, on the aggregated
market (all venues summed, what ``/heatmap <symbol> all`` shows): a move seen on three
venues is one alert, with the numbers the chart shows, never three that disagree.

* **Cadence.** A job runs every ``every_ms``, stretched by a random factor in
  [1 − jitter, 1 + jitter] so that markets do not all hit an exchange at once.
* **No overlap.** A job's next run is planned from its start; when a run takes longer than
  the interval the missed runs are *skipped* (not queued) and counted in ``JobStats.skipped``.
* **Backoff.** A refresh failure (:class:`~bot.market.errors.MarketError`) postpones the job
  by ``every · 2^n`` (n consecutive failures, capped at ``max_backoff_ms``), and is recorded
  with :meth:`bot.state.store.Store.record_fetch`, which ``/status`` shows as the market's last error.
* **Alerts.** After the cycle's due jobs ran, each symbol that at least one job refreshed
  is looked at once, on the aggregated market, by
  :class:`~bot.notify.market_alerts.MarketAlerts` (the rules' inputs, rule state, claims);
  what fires is pushed to the outlet of the chat's platform by the
  :class:`~bot.notify.dispatch.Dispatcher`: chats in parallel, each chat's alerts in firing
  order; what each delivery error means is there and in docs/delivery.md.
* **Hooks.** ``on_cycle`` callbacks (the thread composer) get every market updated in a
  cycle, per venue (:class:`MarketUpdate`: a channel's thread tells its own exchange).

Clock (Unix ms) and sleep are injected, so a test runs hundreds of cycles instantly.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.analysis.market_view import MarketView, RefreshFn
from bot.analysis.service import MarketService
from bot.config.settings import AlertSettings
from bot.market.errors import MarketError, TemporaryMarketError
from bot.notify.alerts import RULES, alert_reply
from bot.notify.dispatch import DeliveryCounters, Dispatcher
from bot.notify.market_alerts import MarketAlerts
from bot.notify.outlets import Outlet
from bot.reply import RANGES, Range
from bot.state.records import AlertEvent
from bot.state.subscriptions import Subscriptions

__all__ = ["CycleCallback", "JobStats", "MarketUpdate", "Scheduler", "alert_reply"]

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
#: how long a sent-alert key is kept (it only guards its own transition against a repeat)
ALERT_KEY_RETENTION_MS = 30 * DAY_MS

#: the order rules are evaluated (and their alerts fired) in within one market's cycle
_RULE_ORDER = {name: i for i, name in enumerate(RULES)}


@dataclass(frozen=True)
class MarketUpdate:
    """One market refreshed and analysed in a cycle (what ``on_cycle`` callbacks get)."""

    exchange: str
    symbol: str
    view: MarketView


CycleCallback = Callable[[Sequence[MarketUpdate]], Awaitable[None]]


@dataclass
class JobStats:
    """Counters of one (exchange, symbol) job."""

    exchange: str
    symbol: str
    next_run: int = 0
    runs: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    #: runs skipped because the previous one overran its interval
    skipped: int = 0
    running: bool = False
    last_error: str | None = None


@dataclass
class _Counters(DeliveryCounters):
    cycles: int = 0
    alerts_fired: int = 0
    retried: int = 0
    overlaps: int = 0


class Scheduler:
    """Periodic refresh, alert evaluation and fan-out (see the module docstring)."""

    def __init__(
        self,
        service: MarketService,
        subscriptions: Subscriptions,
        outlets: Sequence[Outlet],
        *,
        alert_settings: AlertSettings | None = None,
        watch: Sequence[str] = (),
        every_ms: int = 60_000,
        jitter: float = 0.1,
        range_: Range = RANGES[1],
        max_backoff_ms: int = 30 * 60_000,
        attach_charts: bool = True,
        clock: Callable[[], int] | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: random.Random | None = None,
        refresh: RefreshFn | None = None,
        on_cycle: Sequence[CycleCallback] = (),
        max_parallel_sends: int = 16,
        alert_deadline_ms: int = 15 * 60_000,
    ) -> None:
        self.service = service
        self.subs = subscriptions
        self.outlets = {o.platform: o for o in outlets}
        self.alert_settings = alert_settings or AlertSettings()
        self.watch = tuple(watch)
        self.every_ms = every_ms
        self.jitter = jitter
        self.range = range_
        self.max_backoff_ms = max_backoff_ms
        self.attach_charts = attach_charts
        self.clock = clock or service.clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self._refresh = refresh or service.refresh
        self.on_cycle = list(on_cycle)
        self.jobs: dict[tuple[str, str], JobStats] = {}
        self.counters = _Counters()
        self._recovered = False
        #: a refused alert is retried on later cycles until this old (then failed)
        self.alert_deadline_ms = alert_deadline_ms
        self.dispatcher = Dispatcher(
            subscriptions,
            self.outlets,
            self._chart,
            clock=self.clock,
            range_label=self.range.label,
            max_parallel=max_parallel_sends,
            counters=self.counters,
        )
        self._alerting = MarketAlerts(
            service,
            subscriptions,
            self.dispatcher,
            alert_settings=self.alert_settings,
            range_=self.range,
            clock=self.clock,
            counters=self.counters,
        )
        #: when the daily housekeeping last ran (Unix ms; None: not yet in this process)
        self._housekept: int | None = None

    # --- life cycle ----------------------------------------------------------------------

    async def recover(self) -> int:
        """Once at start-up: alerts in flight when the last process died are abandoned."""
        self._recovered = True
        return await asyncio.to_thread(self.subs.abandon_pending, now=self.clock())

    async def run(self, *, cycles: int | None = None, stop: asyncio.Event | None = None) -> None:
        """Run cycles until ``stop`` is set (or ``cycles`` have run), sleeping in between."""
        if not self._recovered:
            await self.recover()
        done = 0
        while (cycles is None or done < cycles) and not (stop is not None and stop.is_set()):
            await self.run_once()
            done += 1
            wake = min((j.next_run for j in self.jobs.values()), default=0)
            wake = max(wake, self.clock() + 1_000) if self.jobs else self.clock() + self.every_ms
            await self.sleep(max(0, wake - self.clock()) / 1000)

    async def run_once(self) -> list[MarketUpdate]:
        """One cycle: retry refused alerts, run every due job, call the ``on_cycle`` hooks."""
        self.counters.cycles += 1
        self.dispatcher.new_cycle()
        await self._sync_jobs()
        retries = await asyncio.to_thread(
            self.subs.take_retries, now=self.clock(), max_age_ms=self.alert_deadline_ms
        )
        # in firing order (alerts claimed in one cycle share created_at), so a chat's stay in order
        retries.sort(key=lambda p: (p.event.transition, _RULE_ORDER.get(p.event.rule, 0)))
        for pending in retries:
            self.counters.retried += 1
            self.dispatcher.submit(pending.platform, pending.chat_id, pending.key, pending.event)
        now = self.clock()
        due = [job for job in self.jobs.values() if job.next_run <= now]
        results = await asyncio.gather(*(self._run_job(job) for job in due))
        updates = [u for u in results if u is not None]
        for symbol in dict.fromkeys(u.view.symbol for u in updates):  # once per market
            await self._alerting.evaluate(symbol)
        await self.dispatcher.flush()
        for callback in self.on_cycle:
            try:
                await callback(updates)
            except Exception:
                log.exception("on_cycle callback %r failed", callback)
        await self._housekeeping()
        return updates

    async def _housekeeping(self) -> None:
        """Once a day: forget sent-alert keys past their use and candles past any range.

        A sent-alert key only guards against a repeat of its own transition, and the rule
        state that decides the next one is kept apart, so keys older than
        :data:`ALERT_KEY_RETENTION_MS` can go. Candles are kept for the longest range a
        command can ask for (or the look-back, if longer) plus a day.
        """
        now = self.clock()
        if self._housekept is not None and now - self._housekept < DAY_MS:
            return
        self._housekept = now
        keep_ms = max(self.service.lookback_ms, max(r.ms for r in RANGES)) + DAY_MS
        try:
            alerts = await asyncio.to_thread(self.subs.prune_alerts, now - ALERT_KEY_RETENTION_MS)
            candles = await asyncio.to_thread(self.subs.store.prune_candles, now - keep_ms)
        except Exception:  # housekeeping must never stop the bot
            log.exception("housekeeping failed")
            return
        if alerts or candles:
            log.info("housekeeping: %d sent-alert keys and %d candles forgotten", alerts, candles)

    def status(self) -> list[JobStats]:
        return list(self.jobs.values())

    # --- jobs -------------------------------------------------------------------------------

    async def _sync_jobs(self) -> None:
        symbols = set(self.watch) | set(await asyncio.to_thread(self.subs.symbols))
        for symbol in sorted(symbols):
            for exchange in self.service.exchanges:
                unified = self._unified(exchange, symbol)
                # "BTC" (watch list) and "BTC/USDT:USDT" (a subscription) are one market: one job
                early = self.jobs.pop((exchange, symbol), None) if unified != symbol else None
                job = self.jobs.setdefault(
                    (exchange, unified), early or JobStats(exchange, unified, self.clock())
                )
                job.symbol = unified

    def _unified(self, exchange: str, symbol: str) -> str:
        """The exchange's unified symbol (``"BTC"`` → ``"BTC/USDT:USDT"``), under which its
        candles and fetch record (``/status``) are stored; as given until markets are loaded."""
        try:
            return self.service.sources[exchange].resolve(symbol)
        except (MarketError, RuntimeError):
            return symbol

    def _interval(self) -> int:
        factor = self.rng.uniform(1 - self.jitter, 1 + self.jitter) if self.jitter else 1.0
        return max(1, round(self.every_ms * factor))

    async def _run_job(self, job: JobStats) -> MarketUpdate | None:
        if job.running:  # cannot happen with run(); a second caller of run_once() would
            self.counters.overlaps += 1
            job.skipped += 1
            return None
        job.running = True
        start = self.clock()
        try:
            return await self._refresh_market(job, start)
        finally:
            job.running = False
            end = self.clock()
            if job.consecutive_failures == 0:
                planned = start + self._interval()
                while planned <= end:  # the run overran: skip, do not queue, the missed runs
                    planned += self.every_ms
                    job.skipped += 1
                job.next_run = planned

    async def _refresh_market(self, job: JobStats, start: int) -> MarketUpdate | None:
        """Refresh one venue's market and analyse it; None (recorded, backed off) on failure."""
        store = self.subs.store
        source = self.service.sources[job.exchange]
        tf = self.service.timeframe
        job.runs += 1
        try:
            lookback = max(self.service.lookback_ms, self.range.ms)
            await self._refresh(source, store, job.symbol, tf, lookback, start)
            view = await self.service.view(job.symbol, self.range, job.exchange)
        except MarketError as exc:
            job.failures += 1
            job.consecutive_failures += 1
            job.last_error = str(exc) or type(exc).__name__
            backoff = self.every_ms * 2 ** min(job.consecutive_failures, 20)
            job.next_run = self.clock() + min(backoff, self.max_backoff_ms)
            log.warning(
                "refresh %s %s failed (%d in a row): %s",
                job.exchange,
                job.symbol,
                job.consecutive_failures,
                exc,
            )
            symbol = self._unified(job.exchange, job.symbol)
            # commands and the aggregated alert view must not ask this venue again before
            # its job's own backoff has passed
            reason = "unreachable" if isinstance(exc, TemporaryMarketError) else "refresh failed"
            self.service.defer(job.exchange, symbol, until=job.next_run, reason=reason)
            await asyncio.to_thread(
                store.record_fetch, job.exchange, symbol, tf, start, job.last_error
            )
            return None
        job.consecutive_failures = 0
        job.last_error = None
        await asyncio.to_thread(store.record_fetch, job.exchange, view.symbol, tf, start, None)
        return MarketUpdate(job.exchange, job.symbol, view)

    # --- alerts -----------------------------------------------------------------------------

    @property
    def alert_exchange(self) -> str:
        """The exchange label of alerts and rule state: ``"all"``, or the only venue's id."""
        return self._alerting.exchange

    async def _chart(self, event: AlertEvent) -> bytes | None:
        if not self.attach_charts:
            return None
        try:
            chart = await self.service.chart(event.chart, event.symbol, self.range, event.exchange)
        except Exception:
            log.exception("chart for the %s alert on %s failed", event.rule, event.symbol)
            return None
        return chart.png
