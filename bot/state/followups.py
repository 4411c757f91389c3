"""Pending "what happened next" follow-ups, in the bot's SQLite store (table ``followups``,
a step of :data:`bot.state.schema.MIGRATIONS`).

A row is one delivered alert waiting for its follow-up: the alert's delivery key, chat,
event (as JSON) and the platform's id of the message it became (None: unknown — the send
went unanswered, or the outlet gives no ids). ``open`` until the follow-up is claimed
(``sent``) or given up (``dropped``, with a note); a restart finds the open rows and their
message ids where it left them.

**Claiming is the alert's own at-most-once step.** :meth:`FollowupBook.claim` does in one
transaction what :meth:`bot.state.subscriptions.Subscriptions.claim` does for an alert —
checks the chat's cooldown for (``followup``, symbol), records the follow-up in
``sent_alerts`` as ``queued`` under the key ``<alert key>|followup`` and starts the cooldown —
and also closes the row. From there the dispatcher delivers it like any alert
(``pending`` → ``delivered`` / ``unconfirmed`` / ``retry`` / ``failed``; ``pending`` at start-up
is abandoned, never re-sent), so a follow-up goes out at most once, across restarts too.

Blocking SQLite: call through :func:`asyncio.to_thread` from asyncio code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final, Literal

from bot.state.records import AlertEvent
from bot.state.store import Store

__all__ = [
    "FOLLOWUP_RULE",
    "FOLLOWUP_SETTING",
    "Claim",
    "FollowupBook",
    "PendingFollowup",
    "followup_key",
]

#: the ``rule`` of a follow-up's event and of its cooldown
FOLLOWUP_RULE: Final = "followup"
#: the per-chat setting (``chat_settings.rule``): ``/settings followups on|silent|off``
FOLLOWUP_SETTING: Final = "followups"

Claim = Literal["claimed", "cooldown", "closed"]


def followup_key(alert_key: str) -> str:
    """The delivery key of an alert's follow-up."""
    return f"{alert_key}|{FOLLOWUP_RULE}"


@dataclass(frozen=True, slots=True)
class PendingFollowup:
    """A delivered alert whose follow-up has not gone out yet."""

    key: str  # the alert's delivery key
    platform: str
    chat_id: str
    event: AlertEvent
    message_id: str | None
    created_at: int


class FollowupBook:
    """The queries on ``followups`` (and the claim into ``sent_alerts``) of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def track(
        self,
        platform: str,
        chat_id: str,
        key: str,
        event: AlertEvent,
        message_id: str | None,
        *,
        now: int,
    ) -> bool:
        """Wait for the follow-up of the alert ``key`` sent to ``chat_id`` as ``message_id``;
        True when it was new (an open row only learns a message id it did not know)."""
        row = (key, platform, chat_id, event.symbol, json.dumps(event.to_json()), message_id)
        with self.store.locked(write=True) as conn:
            inserted = conn.execute(
                "INSERT OR IGNORE INTO followups (key, platform, chat_id, symbol, event, "
                "message_id, status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?)",
                (*row, now, now),
            ).rowcount
            if not inserted:
                conn.execute(
                    "UPDATE followups SET message_id = coalesce(message_id, ?), updated_at = ? "
                    "WHERE key = ? AND status = 'open'",
                    (message_id, now, key),
                )
        return bool(inserted)

    def pending(self) -> list[PendingFollowup]:
        """Every open follow-up, oldest first."""
        with self.store.locked() as conn:
            rows = conn.execute(
                "SELECT key, platform, chat_id, event, message_id, created_at FROM followups "
                "WHERE status = 'open' ORDER BY created_at, key"
            ).fetchall()
        return [
            PendingFollowup(k, p, c, AlertEvent.from_json(json.loads(e)), m, int(t))
            for k, p, c, e, m, t in rows
        ]

    def claim(
        self, pending: PendingFollowup, event: AlertEvent, *, now: int, cooldown_ms: int
    ) -> tuple[Claim, str]:
        """Queue ``event`` (the follow-up) for delivery and close the row, unless the chat is
        in its follow-up cooldown for the symbol (the row stays open) or the row is no longer
        open. Returns (what happened, the follow-up's delivery key)."""
        key = followup_key(pending.key)
        platform, chat_id = pending.platform, pending.chat_id
        with self.store.locked(write=True) as conn:
            row = conn.execute(
                "SELECT status FROM followups WHERE key = ?", (pending.key,)
            ).fetchone()
            if row is None or row[0] != "open":
                return "closed", key
            until = conn.execute(
                "SELECT until FROM cooldowns WHERE platform = ? AND chat_id = ? AND rule = ? "
                "AND symbol = ?",
                (platform, chat_id, FOLLOWUP_RULE, event.symbol),
            ).fetchone()
            if until is not None and int(until[0]) > now:
                return "cooldown", key
            conn.execute(
                "UPDATE followups SET status = 'sent', updated_at = ? WHERE key = ?",
                (now, pending.key),
            )
            inserted = conn.execute(
                "INSERT OR IGNORE INTO sent_alerts (key, platform, chat_id, event, status, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?)",
                (key, platform, chat_id, json.dumps(event.to_json()), now, now),
            ).rowcount
            if not inserted:
                return "closed", key
            conn.execute(
                "INSERT OR REPLACE INTO cooldowns (platform, chat_id, rule, symbol, until) "
                "VALUES (?, ?, ?, ?, ?)",
                (platform, chat_id, FOLLOWUP_RULE, event.symbol, now + cooldown_ms),
            )
        return "claimed", key

    def drop(self, key: str, note: str, *, now: int) -> None:
        """Give up the follow-up of the alert ``key`` (``note`` says why)."""
        with self.store.locked(write=True) as conn:
            conn.execute(
                "UPDATE followups SET status = 'dropped', note = ?, updated_at = ? "
                "WHERE key = ? AND status = 'open'",
                (note, now, key),
            )

    def counts(self) -> dict[str, int]:
        """Rows per status (``/status``, tests)."""
        with self.store.locked() as conn:
            rows = conn.execute("SELECT status, count(*) FROM followups GROUP BY 1").fetchall()
        return {str(s): int(n) for s, n in rows}

    def prune(self, before: int) -> int:
        """Forget closed rows last touched before ``before`` (Unix ms)."""
        with self.store.locked(write=True) as conn:
            return conn.execute(
                "DELETE FROM followups WHERE status != 'open' AND updated_at < ?", (before,)
            ).rowcount
