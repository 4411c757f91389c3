"""The port every platform adapter offers to the scheduler: push a reply or a thread.

Commands are answered inside each adapter; alerts and market-structure threads are pushed
by the scheduler through this port, to every enabled adapter (the fan-out). Adapters
translate their platform's errors into the small hierarchy below, so the scheduler can
unsubscribe a chat that blocked the bot, move a migrated chat, and retry the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from bot.reply import Platform, Reply

__all__ = [
    "ChatGone",
    "ChatMoved",
    "DeliveryError",
    "DeliveryRefused",
    "DeliveryUnconfirmed",
    "Outlet",
    "PermanentDeliveryError",
    "TemporaryDeliveryError",
]


class DeliveryError(Exception):
    """A push to a chat or channel failed."""

    def __init__(self, chat_id: str, message: str) -> None:
        super().__init__(f"{chat_id}: {message}")
        self.chat_id = chat_id


class TemporaryDeliveryError(DeliveryError):
    """Worth retrying later (network, 5xx, rate limit beyond the adapter's own retries)."""


class DeliveryRefused(TemporaryDeliveryError):
    """Known *not* delivered: refused before it was sent or answered with an error (connect
    error, 429, 5xx): safe to send again, after ``retry_after`` seconds when the platform
    said so. docs/delivery.md has the table."""

    def __init__(self, chat_id: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(chat_id, message)
        self.retry_after = retry_after


class DeliveryUnconfirmed(TemporaryDeliveryError):
    """Sent, but no answer came (a read timeout, a dropped connection): it may have arrived.
    An alert is *not* sent again (at most once); a command reply at most once more."""


class PermanentDeliveryError(DeliveryError):
    """Will fail again (bad request, missing permission): report it, do not retry."""


class ChatGone(PermanentDeliveryError):
    """The bot was blocked, kicked, or the channel deleted: drop the chat's subscriptions."""


class ChatMoved(DeliveryError):
    """The chat has a new id (a Telegram group upgraded to a supergroup)."""

    def __init__(self, chat_id: str, new_chat_id: str) -> None:
        super().__init__(chat_id, f"moved to {new_chat_id}")
        self.new_chat_id = new_chat_id


@runtime_checkable
class Outlet(Protocol):
    """What an adapter offers for pushed messages."""

    @property
    def platform(self) -> Platform: ...

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        """Post one reply (text, images) to a chat or channel — a reply to the message
        ``reply.reply_to`` where the platform can thread it; raise a DeliveryError. Returns
        the platform's id of the (first) message posted, None if it gives none."""
        ...

    async def post_thread(self, chat_id: str, title: str, posts: Sequence[Reply]) -> None:
        """Post a thread: the first post (with its chart) in the chat, the rest following it
        (Discord: inside a thread created on the first message; Telegram: as replies)."""
        ...
