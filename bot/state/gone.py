"""Chats whose alerts were removed because the bot could not reach them — remembered until
someone speaks in the chat again, so they can be told once, and how to get them back.

When a platform says a chat is gone (Telegram 403: the bot was blocked or removed; Discord
404: unknown channel), :meth:`bot.state.subscriptions.Subscriptions.drop_chat` forgets the
chat's subscriptions and settings; in the same transaction :func:`remember` keeps what they
were in ``gone_chats`` (schema version 4 of :data:`bot.state.schema.MIGRATIONS`). The next
command in that chat takes the record (:meth:`GoneChats.take`: read and delete in one
transaction — shown once, and it survives a restart until then) and the reply begins with
the notice (:mod:`bot.commands.comeback`). A chat dropped with no subscriptions leaves no
record (there is nothing to restore), and does not overwrite an earlier one.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.state.store import Store

__all__ = ["GoneChat", "GoneChats", "remember"]


@dataclass(frozen=True, slots=True)
class GoneChat:
    """What a dropped chat had: its subscriptions and explicit rule settings."""

    platform: str
    chat_id: str
    #: when it was dropped (Unix ms, wall clock)
    dropped_at: int
    #: what the platform said (``Forbidden: bot was blocked by the user``), may be empty
    reason: str
    #: (symbol, rule) pairs
    subscriptions: tuple[tuple[str, str], ...]
    #: (rule, mode, threshold or None)
    settings: tuple[tuple[str, str, float | None], ...]


def _wall_ms() -> int:
    return int(time.time() * 1000)


def remember(
    conn: sqlite3.Connection, platform: str, chat_id: str, *, reason: str, now: int | None = None
) -> bool:
    """Inside the dropping transaction, before the rows are deleted: keep the chat's
    subscriptions and settings; False (nothing kept) when it had no subscription."""
    subs = conn.execute(
        "SELECT symbol, rule FROM subscriptions WHERE platform = ? AND chat_id = ? "
        "ORDER BY symbol, rule",
        (platform, chat_id),
    ).fetchall()
    if not subs:
        return False
    settings = conn.execute(
        "SELECT rule, mode, threshold FROM chat_settings WHERE platform = ? AND chat_id = ? "
        "ORDER BY rule",
        (platform, chat_id),
    ).fetchall()
    conn.execute(
        "INSERT OR REPLACE INTO gone_chats VALUES (?, ?, ?, ?, ?, ?)",
        (
            platform,
            chat_id,
            _wall_ms() if now is None else now,
            reason,
            json.dumps([list(row) for row in subs]),
            json.dumps([list(row) for row in settings]),
        ),
    )
    return True


class GoneChats:
    """The ``gone_chats`` records of one :class:`~bot.state.store.Store` (blocking calls:
    from asyncio code use :func:`asyncio.to_thread`)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def take(self, platform: str, chat_id: str) -> GoneChat | None:
        """The chat's record, removed as it is read (so it is told once); None if none.

        Every command asks, so the usual answer — nothing — costs one read, no write."""
        where = (platform, chat_id)
        with self.store.locked() as conn:
            row = conn.execute(
                "SELECT dropped_at, reason, subscriptions, settings FROM gone_chats "
                "WHERE platform = ? AND chat_id = ?",
                where,
            ).fetchone()
        if row is None:
            return None
        with self.store.locked(write=True) as conn:
            taken = conn.execute(
                "DELETE FROM gone_chats WHERE platform = ? AND chat_id = ?", where
            ).rowcount
        if not taken:  # another command in the chat took it first: it is told there
            return None
        dropped_at, reason, subs, settings = row
        return GoneChat(
            platform,
            chat_id,
            int(dropped_at),
            str(reason),
            tuple((str(s), str(r)) for s, r in json.loads(subs)),
            tuple(
                (str(r), str(m), None if t is None else float(t))
                for r, m, t in json.loads(settings)
            ),
        )

    def pending(self) -> int:
        """How many dropped chats have not been told yet."""
        with self.store.locked() as conn:
            return int(conn.execute("SELECT count(*) FROM gone_chats").fetchone()[0])
