"""The delivery part of ``/status``: what did not reach its chat, how often, and the last one.

* **Alerts** (persisted, the last :data:`WINDOW_MS` by the market clock): sent with no answer
  and not re-sent (``unconfirmed``), given up (``failed``: refused until the alert deadline,
  or for good), lost in a restart (``abandoned``: in flight when the process died), waiting
  for a retry (``retry``) — from ``sent_alerts``; and the last of them.
* **Replies** (since start-up, in memory): command replies given up — refused until the
  reply deadline, or sent with no answer and not repeated — from the adapters' shared
  :class:`~bot.notify.retry.DeliveryStats`; and the last of them.

The last problem names its time, platform, chat and why. The chat is shown as "this chat"
when it is the caller's, by id to admins, and as "another chat" to everyone else: ``/status``
is open to anyone, and one chat's ids are not another's business. docs/delivery.md has the
table of what is retried.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Final

from bot.notify.retry import DeliveryStats
from bot.reply import CallContext
from bot.state.problems import PROBLEM_STATUSES, last_alert_problem
from bot.state.subscriptions import Subscriptions

__all__ = ["WINDOW_MS", "DeliveryReport"]

#: alerts are reported over this window (Unix ms of the scheduler's clock)
WINDOW_MS: Final = 24 * 3_600_000
#: what each undelivered status means, in the order /status lists them
_ALERT_OUTCOMES: Final = {
    "unconfirmed": "sent with no answer (not re-sent)",
    "failed": "given up",
    "abandoned": "lost in a restart",
    "retry": "waiting for a retry",
}


def _chat(platform: str, chat_id: str, ctx: CallContext) -> str:
    if platform == ctx.platform and chat_id == ctx.chat_id:
        return "this chat"
    return f"chat {chat_id}" if ctx.is_admin else "another chat"


def _why(chat_id: str, error: str) -> str:
    """An error without the ``<chat id>: `` a delivery error starts with."""
    return error.removeprefix(f"{chat_id}: ")


class DeliveryReport:
    """Builds the ``delivery`` context of the ``status`` template."""

    def __init__(
        self,
        subscriptions: Subscriptions,
        stats: DeliveryStats | None,
        *,
        clock: Callable[[], int],
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.subs = subscriptions
        #: the adapters' retry statistics (None: no adapter reports them, e.g. the console)
        self.stats = stats
        self.clock = clock
        self._wall = wall

    async def context(self, ctx: CallContext) -> dict[str, Any]:
        now = self.clock()
        since = now - WINDOW_MS
        counts = await asyncio.to_thread(self.subs.delivery_problems, since)
        last = await asyncio.to_thread(last_alert_problem, self.subs.store, since)
        alert_last = None
        if last is not None:
            alert_last = {
                "outcome": _ALERT_OUTCOMES.get(last.status, last.status),
                "age_ms": max(0, now - last.at),
                "platform": last.platform,
                "chat": _chat(last.platform, last.chat_id, ctx),
                "why": _why(last.chat_id, last.error),
            }
        replies: int | None = None
        reply_last = None
        if self.stats is not None:
            replies = self.stats.lost.get("reply", 0)
            problem = self.stats.last.get("reply")
            if problem is not None:
                reply_last = {
                    "outcome": problem.outcome,
                    "age_ms": max(0, int((self._wall() - problem.at) * 1000)),
                    "platform": problem.platform,
                    "chat": _chat(problem.platform, problem.chat_id, ctx),
                    "why": _why(problem.chat_id, problem.why),
                }
        alerts = [
            {"n": counts[status], "what": _ALERT_OUTCOMES[status]}
            for status in PROBLEM_STATUSES
            if counts.get(status)
        ]
        return {
            "window_ms": WINDOW_MS,
            "alerts": alerts,
            "alert_last": alert_last,
            "replies": replies,
            "reply_last": reply_last,
        }
