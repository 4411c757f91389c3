""" "What happened next": a follow-up reply to every delivered alert about a level.

Which alerts: the ``cluster`` rule's — price came within reach of the top cluster, or
entered a danger zone (:data:`FOLLOWED_RULES`). Those name one level, and whether price got
there is a plain fact. ``cascade`` is left out on purpose: its level is a hypothetical push
and its claim (the move would feed itself to the final price) is not settled by price
touching the push; ``imbalance``, ``prints`` and ``oi`` name no level.

How (``Followups.attach(scheduler)``):

1. The dispatcher reports every alert it delivered, with the platform's id of the message
   (:attr:`~bot.notify.dispatch.Dispatcher.on_sent`); a sent-but-unanswered alert comes with
   no id. Each is kept as an open row (:class:`~bot.state.followups.FollowupBook`) — the
   original message id persisted with it, so a restart threads the reply all the same.
2. Every scheduler cycle (``on_cycle``) resolves the open rows from the stored candles and
   liquidation prints (:func:`core.followup.resolve`): reached — "the $97,900 short cluster
   was reached 3 h 10 m later; $41.0M of shorts were liquidated within ±0.5 %" — or, after
   ``[alerts] followup_horizon``, "not reached in 24 h". A row is dropped when the chat set
   ``/settings followups off``, has no subscription left (unsubscribed, blocked, moved), or
   when no market data settles it within twice the horizon.
3. A resolved follow-up is claimed like an alert (:meth:`FollowupBook.claim`: the chat's
   cooldown for ``followup`` and the symbol — a follow-up in cooldown waits, it is not lost —
   and the ``sent_alerts`` key) and handed to the same dispatcher: same lanes, same
   at-most-once delivery (docs/delivery.md). It is a reply to the alert's message
   (:attr:`bot.reply.Reply.reply_to`: Telegram ``reply_parameters``, Discord a message
   reference); unthreaded when the id is unknown. Silent when the chat's follow-ups or its
   ``cluster`` rule are ``silent``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from bot.reply import Reply
from bot.state.archive import MapArchive
from bot.state.followups import FOLLOWUP_RULE, FOLLOWUP_SETTING, FollowupBook, PendingFollowup
from bot.state.records import AlertEvent
from bot.state.subscriptions import Subscriptions
from core.followup import Outcome, Target, resolve, target_of
from core.livescore import HIT_TOLERANCE
from core.models import LiquidationPrints, Side, timeframe_ms

if TYPE_CHECKING:
    from bot.notify.dispatch import Dispatcher
    from bot.notify.scheduler import MarketUpdate, Scheduler

__all__ = ["FOLLOWED_RULES", "Followups", "followup_reply", "span"]

log = logging.getLogger(__name__)

#: the alert rules whose alerts get a follow-up (see the module docstring)
FOLLOWED_RULES: Final = frozenset({"cluster"})
_DAY: Final = 86_400_000


def span(ms: int) -> str:
    """A precise time span: ``45 m``, ``3 h 10 m``, ``24 h``, ``2 d 3 h``."""
    minutes = max(0, int(ms) // 60_000)
    if minutes < 60:
        return f"{minutes} m"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} m" if rest else f"{hours} h"
    days, rest = divmod(minutes, 1440)
    hours = rest // 60
    return f"{days} d {hours} h" if hours else f"{days} d"


def followup_reply(event: AlertEvent, *, silent: bool = False) -> Reply:
    """The follow-up message of a follow-up event (template ``followup``), a reply to the
    alert's message when its id is known."""
    n = event.numbers
    context: dict[str, Any] = {
        **n,
        "symbol": event.symbol,
        "exchange": event.exchange,
        "alert_price": event.price,
        "elapsed": span(int(n["elapsed_ms"])),
        "horizon": span(int(n["horizon_ms"])),
        "gap": abs(float(n["extreme"]) / float(n["level"]) - 1.0),
    }
    reply_to = n.get("reply_to")
    return Reply(
        "followup", context, silent=silent, reply_to=None if reply_to is None else str(reply_to)
    )


def _numbers(
    target: Target, outcome: Outcome, horizon_ms: int, message_id: str | None, feed_down: bool
) -> dict[str, Any]:
    return {
        "of": "cluster",
        "kind": target.kind,
        "side": "long" if target.side is Side.LONG else "short",
        "level": target.level,
        "zone_low": target.zone_low if target.kind == "zone" else None,
        "zone_high": target.zone_high if target.kind == "zone" else None,
        "reached": outcome.reached,
        "elapsed_ms": outcome.elapsed_ms,
        "horizon_ms": horizon_ms,
        "extreme": outcome.extreme,
        "liquidated": outcome.liquidated_usd,
        "prints": outcome.prints,
        "tolerance": HIT_TOLERANCE,
        "feed_down": feed_down,
        "reply_to": message_id,
    }


class Followups:
    """Tracks delivered level alerts and sends their follow-ups (see the module docstring)."""

    def __init__(
        self,
        subscriptions: Subscriptions,
        *,
        exchanges: Sequence[str],
        timeframe: str,
        horizon_ms: int,
        cooldown_ms: int,
        clock: Callable[[], int],
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.subs = subscriptions
        self.book = FollowupBook(subscriptions.store)
        self.archive = MapArchive(subscriptions.store)
        self.exchanges = tuple(exchanges)
        self.timeframe = timeframe
        self.candle_ms = timeframe_ms(timeframe)
        self.horizon_ms = horizon_ms
        self.cooldown_ms = cooldown_ms
        self.clock = clock
        self.dispatcher = dispatcher
        #: follow-ups handed to the dispatcher by this process
        self.submitted = 0
        self._pruned: int | None = None

    def attach(self, scheduler: Scheduler) -> None:
        """Hook into ``scheduler``: its dispatcher reports sent alerts, each cycle resolves."""
        self.dispatcher = scheduler.dispatcher
        scheduler.dispatcher.on_sent = self.sent
        scheduler.on_cycle.append(self)

    async def sent(
        self, platform: str, chat_id: str, key: str, event: AlertEvent, message_id: str | None
    ) -> None:
        """The dispatcher's report: ``event`` went to ``chat_id`` as ``message_id``."""
        if event.rule not in FOLLOWED_RULES or target_of(event.numbers, event.price) is None:
            return
        await asyncio.to_thread(
            self.book.track, platform, chat_id, key, event, message_id, now=self.clock()
        )

    async def __call__(self, updates: Sequence[MarketUpdate]) -> None:
        """The ``on_cycle`` hook."""
        await self.cycle()

    async def cycle(self) -> int:
        """Resolve every open follow-up that can be; returns how many were handed over."""
        now = self.clock()
        handed = 0
        for pending in await asyncio.to_thread(self.book.pending):
            try:
                job = await asyncio.to_thread(self._settle, pending, now)
            except Exception:  # one bad row must not stop the others
                log.exception("follow-up of %s failed", pending.key)
                continue
            if job is not None and self.dispatcher is not None:
                key, event, silent = job
                self.dispatcher.submit(pending.platform, pending.chat_id, key, event, silent=silent)
                handed += 1
        if handed and self.dispatcher is not None:
            await self.dispatcher.flush()
        self.submitted += handed
        if self._pruned is None or now - self._pruned >= _DAY:
            self._pruned = now
            await asyncio.to_thread(self.book.prune, now - 30 * _DAY)
        return handed

    # --- blocking half (a worker thread) ---------------------------------------------------

    def _settle(self, pending: PendingFollowup, now: int) -> tuple[str, AlertEvent, bool] | None:
        """Resolve one row; (key, follow-up event, silent) once claimed, else None."""
        platform, chat_id, alert = pending.platform, pending.chat_id, pending.event
        mode = self.subs.setting(platform, chat_id, FOLLOWUP_SETTING).mode
        why = self._drop_reason(pending, mode)
        target = target_of(alert.numbers, alert.price)
        if why is None and target is None:
            why = "the alert names no level"
        if why is not None or target is None:
            self.book.drop(pending.key, why or "", now=now)
            log.info("follow-up of %s dropped: %s", pending.key, why)
            return None
        outcome = self._outcome(target, alert, now)
        if outcome is None:
            if now >= alert.transition + 2 * self.horizon_ms:
                self.book.drop(pending.key, "no market data to settle it", now=now)
                log.warning("follow-up of %s dropped: no market data to settle it", pending.key)
            return None
        feed_down = self._feed_down(alert.symbol, outcome.start, outcome.end)
        numbers = _numbers(target, outcome, self.horizon_ms, pending.message_id, feed_down)
        event = AlertEvent(
            rule=FOLLOWUP_RULE,
            symbol=alert.symbol,
            exchange=alert.exchange,
            transition=alert.transition,
            price=alert.price,
            chart=alert.chart,
            numbers=numbers,
        )
        claim, key = self.book.claim(pending, event, now=now, cooldown_ms=self.cooldown_ms)
        if claim != "claimed":
            log.debug("follow-up of %s not sent now: %s", pending.key, claim)
            return None
        rule_mode = self.subs.setting(platform, chat_id, alert.rule).mode
        return key, event, "silent" in (mode, rule_mode)

    def _drop_reason(self, pending: PendingFollowup, mode: str) -> str | None:
        if mode == "off":
            return "follow-ups are off in this chat"
        if not self.subs.for_chat(pending.platform, pending.chat_id):
            return "the chat has no subscriptions left"
        return None

    def _venues(self, exchange: str) -> tuple[str, ...]:
        return self.exchanges if exchange == "all" else (exchange,)

    def _outcome(self, target: Target, alert: AlertEvent, now: int) -> Outcome | None:
        store = self.subs.store
        start = alert.transition + self.candle_ms
        stop = alert.transition + self.horizon_ms
        times, highs, lows, parts = [], [], [], []
        for ex in self._venues(alert.exchange):
            series = store.load_series(ex, alert.symbol, self.timeframe, start, stop - 1)
            if series is not None:
                times.append(series.timestamps)
                highs.append(series.high)
                lows.append(series.low)
            parts.append(store.load_prints(ex, alert.symbol, since=start))
        if not times:
            return None
        return resolve(
            target,
            np.concatenate(times),
            np.concatenate(highs),
            np.concatenate(lows),
            LiquidationPrints.merged(parts),
            transition=alert.transition,
            candle_ms=self.candle_ms,
            horizon_ms=self.horizon_ms,
            now=now,
        )

    def _feed_down(self, symbol: str, start: int, end: int) -> bool:
        """Was any prints feed of the market down in ``[start, end)`` (by the archive)?"""
        maps = self.archive.load(symbol, since=start - self.candle_ms, until=end)
        return any(not all(m.feeds.values()) for m in maps)
