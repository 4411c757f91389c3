"""Subscriptions, per-chat rule settings and alert state, in the bot's SQLite store.

Tables (schema version 2 of :data:`bot.state.schema.MIGRATIONS`): ``subscriptions``,
``chat_settings``, ``alert_state``, ``cooldowns``, ``sent_alerts``, ``threads``. Every
method is one transaction, through :meth:`bot.state.store.Store.locked`; all of them block on
disk I/O — from asyncio code call them through :func:`asyncio.to_thread`.

**Delivery: at-most-once, never repeated.** An alert's key (chat, rule, exchange, symbol,
and the candle time at which the rule flipped) is written as ``queued`` in the *same
transaction* that stores the rule's new state and starts the cooldown
(:meth:`Subscriptions.claim`); it becomes ``pending`` just before it is handed to the
platform, and ``delivered`` after the platform acknowledges it. A crash before the claim
commits leaves nothing behind: the next cycle sees the same transition and fires it again
(it was never sent). A ``queued`` key found at start-up was never handed over (it waited
behind its chat's earlier alerts): it is retried. A ``pending`` key means the process cannot
know whether the platform got the message; at start-up :meth:`Subscriptions.abandon_pending`
marks such keys ``abandoned`` and they are *not* re-sent — as a send answered by no one
(a read timeout) is marked ``unconfirmed`` and not re-sent (docs/delivery.md). We chose this side because an
alert is a time-critical market signal: a duplicate in a group is noise the reader cannot
tell from a new event (and eats the group's ~20 msg/min budget), while a lost one is
superseded by the chart a command or the next transition shows; re-sending a stale alert
minutes after a restart would also misstate the market. A delivery the platform *refused*
with a temporary error is known not to have arrived, so it is kept as ``retry`` and sent
again next cycle (up to :data:`MAX_ATTEMPTS`, and not once it is older than the alert
deadline ``max_age_ms`` of :meth:`Subscriptions.take_retries`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from bot.state.gone import remember
from bot.state.records import AlertEvent, RuleState
from bot.state.store import Store

__all__ = [
    "ALL_RULES",
    "MAX_ATTEMPTS",
    "ChatSetting",
    "Mode",
    "PendingAlert",
    "Subscription",
    "Subscriptions",
]

Mode = Literal["on", "silent", "off"]
ALL_RULES: Final = "all"
#: a temporarily failed alert is tried this many times in all, then marked failed
MAX_ATTEMPTS: Final = 5


@dataclass(frozen=True, slots=True)
class Subscription:
    """A chat wants alerts of ``rule`` for ``symbol``."""

    platform: str
    chat_id: str
    symbol: str
    rule: str


@dataclass(frozen=True, slots=True)
class ChatSetting:
    """A chat's choice for one rule: on / silent / off, and its threshold (None: default)."""

    rule: str
    mode: Mode = "on"
    threshold: float | None = None


@dataclass(frozen=True, slots=True)
class PendingAlert:
    """A claimed alert that still has to be (re)sent."""

    key: str
    platform: str
    chat_id: str
    event: AlertEvent
    attempts: int


class Subscriptions:
    """The queries on the bot-state tables of one :class:`~bot.state.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- subscriptions ---------------------------------------------------------------------

    def subscribe(self, platform: str, chat_id: str, symbol: str, rules: Iterable[str]) -> int:
        """Add (chat, symbol, rule) for each rule; returns how many were new."""
        with self.store.locked(write=True) as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO subscriptions VALUES (?, ?, ?, ?)",
                ((platform, chat_id, symbol, r) for r in rules),
            )
            return conn.total_changes - before

    def unsubscribe(
        self, platform: str, chat_id: str, symbol: str | None = None, rule: str | None = None
    ) -> int:
        """Remove the chat's subscriptions of ``symbol`` (None: every symbol) and ``rule``
        (None: every rule); returns how many were removed."""
        sql = "DELETE FROM subscriptions WHERE platform = ? AND chat_id = ?"
        args: list[str] = [platform, chat_id]
        if symbol is not None:
            sql += " AND symbol = ?"
            args.append(symbol)
        if rule is not None:
            sql += " AND rule = ?"
            args.append(rule)
        with self.store.locked(write=True) as conn:
            return conn.execute(sql, args).rowcount

    def for_chat(self, platform: str, chat_id: str) -> list[Subscription]:
        with self.store.locked() as conn:
            rows = conn.execute(
                "SELECT * FROM subscriptions WHERE platform = ? AND chat_id = ? "
                "ORDER BY symbol, rule",
                (platform, chat_id),
            ).fetchall()
        return [Subscription(*row) for row in rows]

    def subscribers(self, symbol: str, rule: str) -> list[Subscription]:
        """Every chat subscribed to ``rule`` for ``symbol`` whose setting is not ``off``."""
        with self.store.locked() as conn:
            rows = conn.execute(
                "SELECT s.* FROM subscriptions s LEFT JOIN chat_settings c "
                "ON c.platform = s.platform AND c.chat_id = s.chat_id AND c.rule = s.rule "
                "WHERE s.symbol = ? AND s.rule = ? AND coalesce(c.mode, 'on') != 'off' "
                "ORDER BY s.platform, s.chat_id",
                (symbol, rule),
            ).fetchall()
        return [Subscription(*row) for row in rows]

    def symbols(self) -> list[str]:
        """Every symbol somebody is subscribed to (what the scheduler must watch)."""
        with self.store.locked() as conn:
            rows = conn.execute("SELECT DISTINCT symbol FROM subscriptions ORDER BY 1").fetchall()
        return [str(r[0]) for r in rows]

    # --- settings ----------------------------------------------------------------------------

    def set_setting(
        self, platform: str, chat_id: str, rule: str, mode: Mode, threshold: float | None = None
    ) -> None:
        """Set the chat's mode for ``rule``; a ``threshold`` (if given) replaces the old one."""
        with self.store.locked(write=True) as conn:
            conn.execute(
                "INSERT INTO chat_settings VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (platform, chat_id, rule) DO UPDATE SET mode = excluded.mode, "
                "threshold = coalesce(excluded.threshold, threshold)",
                (platform, chat_id, rule, mode, threshold),
            )

    def settings(self, platform: str, chat_id: str) -> dict[str, ChatSetting]:
        """The chat's explicit settings by rule (rules not listed are on, with defaults)."""
        with self.store.locked() as conn:
            rows = conn.execute(
                "SELECT rule, mode, threshold FROM chat_settings WHERE platform = ? AND chat_id = ?",
                (platform, chat_id),
            ).fetchall()
        return {r[0]: ChatSetting(r[0], r[1], r[2]) for r in rows}

    def setting(self, platform: str, chat_id: str, rule: str) -> ChatSetting:
        return self.settings(platform, chat_id).get(rule, ChatSetting(rule))

    # --- chat lifecycle ------------------------------------------------------------------------

    def move_chat(self, platform: str, old_chat_id: str, new_chat_id: str) -> None:
        """The chat got a new id (Telegram ChatMigrated): carry everything over."""
        with self.store.locked(write=True) as conn:
            for table in ("subscriptions", "chat_settings", "alert_state", "cooldowns", "threads"):
                conn.execute(
                    f"UPDATE OR REPLACE {table} SET chat_id = ? WHERE platform = ? AND chat_id = ?",
                    (new_chat_id, platform, old_chat_id),
                )

    def drop_chat(
        self, platform: str, chat_id: str, *, reason: str = "", now: int | None = None
    ) -> int:
        """The bot was blocked or removed: forget the chat; returns subscriptions dropped.
        What it had is kept until the chat is told (:mod:`bot.state.gone`)."""
        with self.store.locked(write=True) as conn:
            remember(conn, platform, chat_id, reason=reason, now=now)
            dropped = conn.execute(
                "DELETE FROM subscriptions WHERE platform = ? AND chat_id = ?",
                (platform, chat_id),
            ).rowcount
            for table in ("chat_settings", "alert_state", "cooldowns", "threads"):
                conn.execute(
                    f"DELETE FROM {table} WHERE platform = ? AND chat_id = ?", (platform, chat_id)
                )
            conn.execute(
                "UPDATE sent_alerts SET status = 'failed', error = 'chat gone' "
                "WHERE platform = ? AND chat_id = ? AND status IN ('queued', 'pending', 'retry')",
                (platform, chat_id),
            )
            return dropped

    # --- rule state, cooldown and delivery -------------------------------------------------

    def rule_state(
        self, platform: str, chat_id: str, rule: str, exchange: str, symbol: str
    ) -> RuleState:
        with self.store.locked() as conn:
            row = conn.execute(
                "SELECT armed, since FROM alert_state WHERE platform = ? AND chat_id = ? "
                "AND rule = ? AND exchange = ? AND symbol = ?",
                (platform, chat_id, rule, exchange, symbol),
            ).fetchone()
        return RuleState() if row is None else RuleState(bool(row[0]), int(row[1]))

    def save_state(
        self, platform: str, chat_id: str, rule: str, exchange: str, symbol: str, state: RuleState
    ) -> None:
        with self.store.locked(write=True) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO alert_state VALUES (?, ?, ?, ?, ?, ?, ?)",
                (platform, chat_id, rule, exchange, symbol, *state.to_row()),
            )

    def claim(
        self,
        platform: str,
        chat_id: str,
        event: AlertEvent,
        state: RuleState,
        *,
        now: int,
        cooldown_ms: int,
    ) -> str | None:
        """Store the rule's new state and, unless the chat is in cooldown for (rule, symbol)
        or the key was already claimed, record the alert as ``queued`` and start the
        cooldown — all in one transaction. Returns the key to send, or None."""
        key = event.key(platform, chat_id)
        with self.store.locked(write=True) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO alert_state VALUES (?, ?, ?, ?, ?, ?, ?)",
                (platform, chat_id, event.rule, event.exchange, event.symbol, *state.to_row()),
            )
            row = conn.execute(
                "SELECT until FROM cooldowns WHERE platform = ? AND chat_id = ? AND rule = ? "
                "AND symbol = ?",
                (platform, chat_id, event.rule, event.symbol),
            ).fetchone()
            if row is not None and int(row[0]) > now:
                return None
            inserted = conn.execute(
                "INSERT OR IGNORE INTO sent_alerts (key, platform, chat_id, event, status, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?)",
                (key, platform, chat_id, json.dumps(event.to_json()), now, now),
            ).rowcount
            if not inserted:
                return None
            conn.execute(
                "INSERT OR REPLACE INTO cooldowns VALUES (?, ?, ?, ?, ?)",
                (platform, chat_id, event.rule, event.symbol, now + cooldown_ms),
            )
        return key

    def mark(self, key: str, status: str, *, now: int, error: str | None = None) -> None:
        """Record a send's progress: pending (handed over), delivered, unconfirmed, retry,
        failed."""
        with self.store.locked(write=True) as conn:
            conn.execute(
                "UPDATE sent_alerts SET status = ?, updated_at = ?, error = ? WHERE key = ?",
                (status, now, error, key),
            )

    def take_retries(self, *, now: int, max_age_ms: int | None = None) -> list[PendingAlert]:
        """Alerts the platform refused temporarily, queued again for this attempt (those past
        :data:`MAX_ATTEMPTS`, or claimed more than ``max_age_ms`` ago, become failed)."""
        oldest = now - max_age_ms if max_age_ms is not None else None
        with self.store.locked(write=True) as conn:
            conn.execute(
                "UPDATE sent_alerts SET status = 'failed', updated_at = ? "
                "WHERE status = 'retry' AND (attempts >= ? OR created_at < coalesce(?, 0))",
                (now, MAX_ATTEMPTS, oldest),
            )
            rows = conn.execute(
                "SELECT key, platform, chat_id, event, attempts + 1 FROM sent_alerts "
                "WHERE status = 'retry' ORDER BY created_at"
            ).fetchall()
            conn.execute(
                "UPDATE sent_alerts SET status = 'queued', attempts = attempts + 1, "
                "updated_at = ? WHERE status = 'retry'",
                (now,),
            )
        return [
            PendingAlert(k, p, c, AlertEvent.from_json(json.loads(e)), n) for k, p, c, e, n in rows
        ]

    def abandon_pending(self, *, now: int) -> int:
        """At start-up: alerts in flight when the process died are not re-sent (see above);
        queued ones, never handed over, are kept for a retry. Returns how many were abandoned."""
        with self.store.locked(write=True) as conn:
            conn.execute(
                "UPDATE sent_alerts SET status = 'retry', updated_at = ? WHERE status = 'queued'",
                (now,),
            )
            return conn.execute(
                "UPDATE sent_alerts SET status = 'abandoned', updated_at = ? "
                "WHERE status = 'pending'",
                (now,),
            ).rowcount

    def delivery_problems(self, since: int) -> dict[str, int]:
        """Alerts claimed since ``since`` (Unix ms) that were not delivered, per status
        (``unconfirmed``, ``failed``, ``abandoned``, ``retry``): what ``/status`` reports."""
        with self.store.locked() as conn:
            rows = conn.execute(
                "SELECT status, count(*) FROM sent_alerts WHERE created_at >= ? AND status IN "
                "('unconfirmed', 'failed', 'abandoned', 'retry') GROUP BY 1",
                (since,),
            ).fetchall()
        return {str(s): int(n) for s, n in rows}

    def alert_counts(self) -> dict[str, int]:
        """Sent-alert keys per status (for /status and tests)."""
        with self.store.locked() as conn:
            rows = conn.execute("SELECT status, count(*) FROM sent_alerts GROUP BY 1").fetchall()
        return {str(s): int(n) for s, n in rows}

    def prune_alerts(self, before: int) -> int:
        """Forget sent-alert keys older than ``before`` (Unix ms)."""
        with self.store.locked(write=True) as conn:
            return conn.execute("DELETE FROM sent_alerts WHERE created_at < ?", (before,)).rowcount

    # --- threads ------------------------------------------------------------------------------

    def last_thread(self, platform: str, chat_id: str, symbol: str) -> int | None:
        """When the last market-structure thread for ``symbol`` was posted here (Unix ms)."""
        with self.store.locked() as conn:
            row = conn.execute(
                "SELECT posted_at FROM threads WHERE platform = ? AND chat_id = ? AND symbol = ?",
                (platform, chat_id, symbol),
            ).fetchone()
        return None if row is None else int(row[0])

    def record_thread(
        self, platform: str, chat_id: str, symbol: str, posted_at: int, title: str
    ) -> None:
        with self.store.locked(write=True) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO threads VALUES (?, ?, ?, ?, ?)",
                (platform, chat_id, symbol, posted_at, title),
            )
