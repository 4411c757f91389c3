"""Pushing claimed alerts to the outlets: chats in parallel, each chat in firing order.

The scheduler hands every alert of a cycle to :meth:`Dispatcher.submit`; each (platform,
chat) is a *lane* whose alerts go out one after the other, in the order submitted, while
lanes run concurrently (at most ``max_parallel`` sends at once; the platform's own pacing —
Telegram's ~30 msg/s and 20/min per group in PTB's rate limiter, Discord's per-route buckets
in discord.py — applies below). A chat whose send hangs holds only its own lane.
:meth:`Dispatcher.flush` waits for the cycle's lanes.

What a failed send means (docs/delivery.md): ``ChatGone`` drops the chat, ``ChatMoved``
moves it and re-sends, :class:`~bot.notify.outlets.DeliveryUnconfirmed` (sent, no answer) is
*not* sent again — marked ``unconfirmed``, logged, counted — a refused one
(:class:`~bot.notify.outlets.TemporaryDeliveryError`) is kept as ``retry`` for the next cycle
(the lane's later alerts wait with it, so the chat's order holds), a permanent one is
marked failed. :attr:`Dispatcher.on_sent` hears of every alert that went out, with the
platform's message id (None when the send went unanswered): the follow-ups' hook
(:mod:`bot.notify.followups`). A follow-up is delivered here like an alert, without a chart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.notify.alerts import alert_reply
from bot.notify.outlets import (
    ChatGone,
    ChatMoved,
    DeliveryError,
    DeliveryUnconfirmed,
    Outlet,
    TemporaryDeliveryError,
)
from bot.state.followups import FOLLOWUP_RULE
from bot.state.records import AlertEvent
from bot.state.subscriptions import Subscriptions

__all__ = ["DeliveryCounters", "Dispatcher"]

log = logging.getLogger(__name__)

ChartFn = Callable[[AlertEvent], Awaitable[bytes | None]]
#: (platform, chat id, key, event, platform message id or None): an alert went out
SentFn = Callable[[str, str, str, AlertEvent, str | None], Awaitable[None]]


@dataclass
class DeliveryCounters:
    """What delivery met (``/status``, tests); the scheduler's counters extend it."""

    delivered: int = 0
    failed: int = 0
    unconfirmed: int = 0
    dropped_chats: int = 0
    moved_chats: int = 0
    last_problem: str | None = None


@dataclass(frozen=True)
class _Job:
    platform: str
    chat_id: str
    key: str
    event: AlertEvent
    silent: bool


class Dispatcher:
    """Per-chat lanes over the outlets (see the module docstring)."""

    def __init__(
        self,
        subscriptions: Subscriptions,
        outlets: Mapping[Any, Outlet],
        chart: ChartFn,
        *,
        clock: Callable[[], int],
        range_label: str,
        max_parallel: int = 16,
        counters: DeliveryCounters | None = None,
    ) -> None:
        self.subs = subscriptions
        self.outlets = outlets
        self.chart = chart
        self.clock = clock
        self.range_label = range_label
        self.counters = counters if counters is not None else DeliveryCounters()
        self._gate = asyncio.Semaphore(max_parallel)
        self._lanes: dict[tuple[str, str], asyncio.Task[None]] = {}
        #: (platform, chat) refused a send this cycle: its later alerts wait too
        self._held: set[tuple[str, str]] = set()
        #: chats found gone / moved this cycle: their lane's later alerts follow suit
        self._gone: set[tuple[str, str]] = set()
        self._moved: dict[tuple[str, str], str] = {}
        #: told of every alert delivered (with its message id) or sent unanswered (None)
        self.on_sent: SentFn | None = None

    def new_cycle(self) -> None:
        self._held.clear()
        self._gone.clear()
        self._moved.clear()

    def submit(
        self, platform: str, chat_id: str, key: str, event: AlertEvent, *, silent: bool = False
    ) -> None:
        """Queue one alert on its chat's lane (after that chat's earlier ones)."""
        job = _Job(platform, chat_id, key, event, silent)
        lane = (platform, chat_id)
        before = self._lanes.get(lane)
        self._lanes[lane] = asyncio.create_task(self._after(before, job))

    async def flush(self) -> None:
        """Wait until every submitted alert was sent or given up."""
        while self._lanes:
            lanes, self._lanes = list(self._lanes.values()), {}
            await asyncio.gather(*lanes)

    async def _after(self, before: asyncio.Task[None] | None, job: _Job) -> None:
        if before is not None:
            await asyncio.shield(before)
        try:
            async with self._gate:
                await self._deliver(job)
        except Exception:  # a lane must never die with an exception nobody awaits
            log.exception("alert %s: delivery crashed", job.key)

    async def _deliver(self, job: _Job) -> None:
        platform, key, event = job.platform, job.key, job.event
        outlet = self.outlets.get(platform)
        if outlet is None:
            await self._mark(key, "failed", f"no {platform} outlet enabled")
            return
        if (platform, job.chat_id) in self._gone:  # claimed before the chat was dropped
            await self._mark(key, "failed", "chat gone")
            return
        if (platform, job.chat_id) in self._held:  # behind a refused alert: keep the order
            await self._mark(key, "retry", "held behind an earlier alert to this chat")
            return
        png = None if event.rule == FOLLOWUP_RULE else await self.chart(event)  # text only
        reply = alert_reply(event, silent=job.silent, png=png, range_label=self.range_label)
        await asyncio.to_thread(self.subs.mark, key, "pending", now=self.clock())  # handed over
        target = self._moved.get((platform, job.chat_id), job.chat_id)
        for _ in range(2):  # the second round only after ChatMoved
            try:
                sent = await outlet.send(target, reply)
            except ChatMoved as moved:
                log.info("%s chat %s moved to %s", platform, target, moved.new_chat_id)
                await asyncio.to_thread(self.subs.move_chat, platform, target, moved.new_chat_id)
                self.counters.moved_chats += 1
                self._moved[(platform, target)] = moved.new_chat_id
                target = moved.new_chat_id
                continue
            except ChatGone as gone:
                log.info("%s chat %s is gone: dropping it (%s)", platform, target, gone)
                reason = str(gone).removeprefix(f"{gone.chat_id}: ")  # told when they are back
                await asyncio.to_thread(self.subs.drop_chat, platform, target, reason=reason)
                self.counters.dropped_chats += 1
                self._gone.add((platform, target))
                await self._mark(key, "failed", "chat gone")
                return
            except DeliveryUnconfirmed as exc:
                # it may have arrived: at most once means not sending it again
                log.warning("alert %s: sent, no answer; not re-sent (at most once): %s", key, exc)
                self.counters.unconfirmed += 1
                self.counters.last_problem = f"alert to {platform} {target} unconfirmed: {exc}"
                await self._mark(key, "unconfirmed", str(exc))
                await self._report_sent(job, target, None)
                return
            except TemporaryDeliveryError as exc:
                log.warning("alert %s: refused (not delivered), retrying next cycle: %s", key, exc)
                self._held.add((platform, target))
                await self._mark(key, "retry", str(exc))
                return
            except DeliveryError as exc:
                log.error("alert %s: delivery failed: %s", key, exc)
                await self._mark(key, "failed", str(exc))
                return
            except Exception as exc:
                log.exception("alert %s: outlet %s raised", key, platform)
                await self._mark(key, "failed", repr(exc))
                return
            self.counters.delivered += 1
            await self._mark(key, "delivered")
            await self._report_sent(job, target, None if sent is None else str(sent))
            return
        await self._mark(key, "failed", "chat moved twice")

    async def _report_sent(self, job: _Job, chat_id: str, message_id: str | None) -> None:
        if self.on_sent is None:
            return
        try:
            await self.on_sent(job.platform, chat_id, job.key, job.event, message_id)
        except Exception:  # the alert is out: a hook's failure must not touch its status
            log.exception("alert %s: on_sent hook failed", job.key)

    async def _mark(self, key: str, status: str, error: str | None = None) -> None:
        if status == "failed":
            self.counters.failed += 1
            self.counters.last_problem = f"alert {key} failed: {error}"
        await asyncio.to_thread(self.subs.mark, key, status, now=self.clock(), error=error)
