"""Bot API errors → outlet errors: what a failed push to a Telegram chat means for the sender.

A pushed alert or thread (:class:`~bot.notify.outlets.Outlet`) raises instead of logging, so the
scheduler decides: ``Forbidden`` (blocked, kicked) → :class:`ChatGone`, ``ChatMigrated``
(group → supergroup) → :class:`ChatMoved`, ``BadRequest`` → :class:`PermanentDeliveryError`,
``TimedOut``/``NetworkError`` and a ``RetryAfter`` that outlived the rate limiter's retries →
:class:`TemporaryDeliveryError`; anything else (``InvalidToken``, ``Conflict``, …) is permanent.
"""

from __future__ import annotations

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.notify.outlets import (
    ChatGone,
    ChatMoved,
    DeliveryError,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)

__all__ = ["delivery_error"]


def delivery_error(chat_id: str, exc: TelegramError) -> DeliveryError:
    """The outlet error for a Bot API error met while pushing to ``chat_id``."""
    if isinstance(exc, ChatMigrated):
        return ChatMoved(chat_id, str(exc.new_chat_id))
    if isinstance(exc, Forbidden):
        return ChatGone(chat_id, exc.message)
    if isinstance(exc, BadRequest):  # before NetworkError: BadRequest is a subclass
        return PermanentDeliveryError(chat_id, exc.message)
    if isinstance(exc, NetworkError | RetryAfter):  # TimedOut is a NetworkError
        return TemporaryDeliveryError(chat_id, exc.message)
    return PermanentDeliveryError(chat_id, exc.message)  # InvalidToken, Conflict, …
