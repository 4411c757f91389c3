"""Auto-posted market-structure threads: configured channels get a thread on a schedule.

:class:`AutoPoster` is a :class:`~bot.notify.scheduler.Scheduler` ``on_cycle`` callback. For each
``[[threads]]`` channel (:class:`~bot.config.settings.ThreadChannelSettings`) whose market was
refreshed in the cycle and whose schedule is due, it composes the thread
(:func:`bot.notify.threads.compose_thread`, charts drawn by the service's engine in a worker
thread: the heatmap on the hook, the heavy side's cascade on "why") and posts it through the
platform's :class:`~bot.notify.outlets.Outlet` ``post_thread``.

**Schedule.** ``every``: due when the interval has elapsed since the last thread (at once
when this channel never had one). ``at``: due when one of the times of day (UTC) has passed
since the last thread — or since the process started, for a channel that never had one.

**Material change.** With ``only_on_change`` a due slot is skipped unless the structure
moved since the last *posted* thread (:func:`~bot.notify.thread_record.material_change`,
which says what counts).

**At most once.** A thread is recorded (:meth:`~bot.state.subscriptions.Subscriptions.record_thread`,
with the :class:`~bot.notify.thread_record.Fingerprint` of what it told) *before* it is
posted, like the scheduler claims an alert before sending it: a crash mid-post never posts
it twice. The fingerprint travels as JSON in the record's ``title`` column
(:mod:`bot.notify.thread_record`). Delivery errors: ``ChatGone`` disables the
channel for this process (loudly; the configuration is left alone); ``ChatMoved`` posts to
the new id for this process and asks for the configuration to be updated; a temporary error
is retried on the next cycles (up to :data:`MAX_ATTEMPTS` in all); a permanent one is logged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, cast

from bot.analysis.market_view import MarketView
from bot.analysis.service import MarketService
from bot.config.settings import ThreadChannelSettings
from bot.market.errors import MarketError
from bot.notify.outlets import (
    ChatGone,
    ChatMoved,
    DeliveryError,
    Outlet,
    TemporaryDeliveryError,
)
from bot.notify.reality import scorecard_quote
from bot.notify.scheduler import MarketUpdate
from bot.notify.thread_record import (
    ThreadRecord,
    decode_record,
    encode_record,
    fingerprint,
    material_change,
)
from bot.notify.threads import DAY_MS, PrintsSummary, Thread, compose_thread, summarize_prints
from bot.reply import ChartKind
from bot.state.scorecard import ScoreBook
from bot.state.subscriptions import Subscriptions
from core.models import Side

__all__ = ["MAX_ATTEMPTS", "AutoPoster", "is_due"]

log = logging.getLogger(__name__)

#: A thread refused with a temporary error is tried this many times in all, then dropped.
MAX_ATTEMPTS: Final = 3


# --- schedule -------------------------------------------------------------------------------


def is_due(channel: ThreadChannelSettings, since: int, now: int, *, never: bool = False) -> bool:
    """Whether a thread is due at ``now`` when the last one (or the last skipped slot, or
    the process start) was at ``since``; ``never``: this channel never had a thread."""
    if channel.every is not None:
        return never or now - since >= channel.every
    latest = max((now - t) // DAY_MS * DAY_MS + t for t in channel.at or ())
    return latest > since


# --- the poster -----------------------------------------------------------------------------


@dataclass
class _Counters:
    posted: int = 0
    unchanged: int = 0  # due slots skipped by only_on_change
    retried: int = 0
    failed: int = 0


def _key(channel: ThreadChannelSettings) -> tuple[str, str, str]:
    return (channel.platform, channel.chat_id, channel.symbol)


class AutoPoster:
    """Posts threads to the configured channels (see the module docstring).

    Register it as ``Scheduler(on_cycle=[poster])`` and add :attr:`symbols` to the
    scheduler's ``watch`` list, so that their markets are refreshed every cycle.
    """

    def __init__(
        self,
        channels: Sequence[ThreadChannelSettings],
        service: MarketService,
        subscriptions: Subscriptions,
        outlets: Iterable[Outlet],
        *,
        clock: Callable[[], int] | None = None,
        attach_charts: bool = True,
        prints_window_ms: int = DAY_MS,
    ) -> None:
        self.channels = tuple(channels)
        self.service = service
        self.subs = subscriptions
        self.outlets = {o.platform: o for o in outlets}
        self.clock = clock or service.clock
        self.attach_charts = attach_charts
        self.prints_window_ms = prints_window_ms
        self.counters = _Counters()
        #: channels that will not be posted to again by this process (chat gone, no outlet)
        self.disabled: set[tuple[str, str, str]] = set()
        self._started: int | None = None
        self._checked: dict[tuple[str, str, str], int] = {}  # slots skipped as unchanged
        self._attempts: dict[tuple[str, str, str], int] = {}  # pending temporary retries
        self._moved: dict[tuple[str, str, str], str] = {}
        for channel in self.channels:
            if channel.platform not in self.outlets:
                log.warning(
                    "threads for %s chat %s: %s is not enabled, skipping this channel",
                    channel.platform,
                    channel.chat_id,
                    channel.platform,
                )
                self.disabled.add(_key(channel))

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols the configured channels tell (for the scheduler's watch list)."""
        return tuple(dict.fromkeys(c.symbol for c in self.channels))

    async def __call__(self, updates: Sequence[MarketUpdate]) -> None:
        """The ``on_cycle`` hook: post every due thread of the markets in ``updates``."""
        now = self.clock()
        if self._started is None:
            self._started = now
        for channel in self.channels:
            if _key(channel) in self.disabled:
                continue
            update = self._update_for(channel, updates)
            if update is None:
                continue
            try:
                await self._maybe_post(channel, update, now)
            except Exception:  # one channel's failure must not starve the others
                log.exception("thread for %s chat %s failed", channel.platform, channel.chat_id)

    def _update_for(
        self, channel: ThreadChannelSettings, updates: Sequence[MarketUpdate]
    ) -> MarketUpdate | None:
        exchange = channel.exchange or (
            self.service.exchanges[0] if self.service.exchanges else None
        )
        for update in updates:
            names = {
                update.symbol.upper(),
                update.view.symbol,
                update.view.symbol.partition("/")[0],
            }
            if channel.symbol in names and update.exchange == exchange:
                return update
        return None

    async def last_record(self, platform: str, chat_id: str, symbol: str) -> ThreadRecord | None:
        """The last thread recorded for ``symbol`` in this chat."""

        def read() -> tuple[int, str] | None:
            # Subscriptions.last_thread returns only the time; the title holds the fingerprint
            with self.subs.store.locked() as conn:
                row = conn.execute(
                    "SELECT posted_at, title FROM threads "
                    "WHERE platform = ? AND chat_id = ? AND symbol = ?",
                    (platform, chat_id, symbol),
                ).fetchone()
            return None if row is None else (int(row[0]), str(row[1]))

        row = await asyncio.to_thread(read)
        return None if row is None else decode_record(*row)

    async def _maybe_post(
        self, channel: ThreadChannelSettings, update: MarketUpdate, now: int
    ) -> None:
        key = _key(channel)
        symbol = update.view.symbol
        record = await self.last_record(channel.platform, channel.chat_id, symbol)
        retrying = key in self._attempts
        if not retrying:
            assert self._started is not None
            since = record.posted_at if record is not None else self._started
            since = max(since, self._checked.get(key, since))
            if not is_due(channel, since, now, never=record is None):
                return
        current = fingerprint(update.view.analysis)
        if channel.only_on_change and not retrying and record and record.fingerprint:
            why = material_change(
                record.fingerprint,
                current,
                min_change=channel.min_change,
                min_level_move=channel.min_level_move,
            )
            if why is None:
                self._checked[key] = now
                self.counters.unchanged += 1
                log.info("thread %s for %s %s: unchanged, skipped", symbol, *key[:2])
                return
            log.info("thread %s for %s %s: %s", symbol, *key[:2], why)
        thread = await self._compose(update)
        # claim first: a crash between here and the post loses this thread, never doubles it
        await asyncio.to_thread(
            self.subs.record_thread,
            channel.platform,
            channel.chat_id,
            symbol,
            now,
            encode_record(thread.title, current),
        )
        await self._post(channel, thread)

    async def _post(self, channel: ThreadChannelSettings, thread: Thread) -> None:
        key = _key(channel)
        outlet = self.outlets[channel.platform]
        target = self._moved.get(key, channel.chat_id)
        for _ in range(2):  # the second round only after ChatMoved
            try:
                await outlet.post_thread(target, thread.title, thread.posts)
            except ChatMoved as moved:
                log.error(
                    "%s chat %s moved to %s: posting threads there; set chat_id = %r in "
                    "the [[threads]] configuration",
                    channel.platform,
                    target,
                    moved.new_chat_id,
                    moved.new_chat_id,
                )
                target = self._moved[key] = moved.new_chat_id
                continue
            except ChatGone as gone:
                log.error(
                    "%s chat %s is gone (%s): no more threads there until the bot is "
                    "re-added and restarted; check the [[threads]] configuration",
                    channel.platform,
                    target,
                    gone,
                )
                self._fail(key)
                self.disabled.add(key)
                return
            except TemporaryDeliveryError as exc:
                attempts = self._attempts.get(key, 0) + 1
                if attempts < MAX_ATTEMPTS:
                    log.warning("thread to %s %s: %s; retrying next cycle", *key[:2], exc)
                    self._attempts[key] = attempts
                    self.counters.retried += 1
                else:
                    log.error("thread to %s %s: %s; giving up after %d", *key[:2], exc, attempts)
                    self._fail(key)
                return
            except DeliveryError as exc:
                log.error("thread to %s %s: delivery failed: %s", *key[:2], exc)
                self._fail(key)
                return
            self._attempts.pop(key, None)
            self.counters.posted += 1
            log.info("thread %r posted to %s %s", thread.title, *key[:2])
            return
        log.error("thread to %s %s: chat moved twice, dropped", *key[:2])
        self._fail(key)

    def _fail(self, key: tuple[str, str, str]) -> None:
        self._attempts.pop(key, None)
        self.counters.failed += 1

    # --- composing ------------------------------------------------------------------------------

    async def _prints(self, update: MarketUpdate) -> PrintsSummary | None:
        as_of = update.view.analysis.as_of
        since = as_of - self.prints_window_ms
        try:
            prints = await self.service.sources[update.exchange].fetch_prints(
                update.view.symbol, since
            )
        except (MarketError, NotImplementedError):
            return None
        return summarize_prints(prints, since, as_of + self.service.candle_ms)

    async def _compose(self, update: MarketUpdate) -> Thread:
        summary = await self._prints(update)
        return await asyncio.to_thread(self._compose_sync, update.view, summary)

    def _compose_sync(self, view: MarketView, summary: PrintsSummary | None) -> Thread:
        """Runs in a worker thread: the charts are numpy and matplotlib work."""
        analysis = view.analysis
        engine, style, size = self.service.engine, self.service.style, self.service.size

        def chart(kind: str) -> bytes:
            drawn = analysis
            if kind == "cascade" and analysis.imbalance.heavy_side is Side.LONG:
                # "why" tells the heavy side's cascade; the engine draws the up one if any
                drawn = dataclasses.replace(analysis, cascade_up=None)
            return engine.render(cast(ChartKind, kind), drawn, style=style, size=size)

        charts = chart if self.attach_charts else None
        quote = scorecard_quote(ScoreBook(self.subs.store), view.symbol, now=self.clock())
        return compose_thread(analysis, charts=charts, prints_summary=summary, scorecard=quote)
