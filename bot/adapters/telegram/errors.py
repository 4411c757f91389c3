"""Bot API errors → what a failed call means: retry it or not, and which outlet error.

What is *known* decides (docs/delivery.md). PTB raises ``NetworkError``/``TimedOut`` for two
different things: the HTTP client's own failure (``__cause__`` is an ``httpx`` error) and an
error *answer* from the server (5xx, no ``__cause__`` from httpx). :func:`judge`:

* ``RetryAfter`` (429), a 5xx answer, ``httpx.ConnectError``/``ConnectTimeout``/``PoolTimeout``
  (the request never left) → ``refused``: not delivered, safe to send again;
* ``ReadTimeout``, ``WriteTimeout``, a dropped connection (``RemoteProtocolError``,
  ``ReadError``, …) → ``unconfirmed``: it may have arrived;
* ``Forbidden``, ``ChatMigrated``, ``BadRequest``, ``InvalidToken``, … → not retried.

:func:`delivery_error` maps a failure of a pushed alert or thread to the outlet errors:
``Forbidden`` → :class:`ChatGone`, ``ChatMigrated`` → :class:`ChatMoved`, refused →
:class:`DeliveryRefused`, unconfirmed → :class:`DeliveryUnconfirmed`, the rest →
:class:`PermanentDeliveryError`.
"""

from __future__ import annotations

import httpx
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.notify.outlets import (
    ChatGone,
    ChatMoved,
    DeliveryError,
    DeliveryRefused,
    DeliveryUnconfirmed,
    PermanentDeliveryError,
)
from bot.notify.retry import Judgement

__all__ = ["delivery_error", "judge"]

#: the request never reached the server
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _retry_after(exc: RetryAfter) -> float:
    # the private timedelta (what PTB's own rate limiter reads): the public attribute warns
    # unless PTB_TIMEDELTA is set
    value = getattr(exc, "_retry_after", None)
    if value is None:
        value = exc.retry_after
    return float(value.total_seconds() if hasattr(value, "total_seconds") else value)


def judge(exc: BaseException) -> Judgement | None:
    """Whether a failed Bot API call is known not delivered, unconfirmed, or final (None)."""
    if isinstance(exc, RetryAfter):
        return Judgement("refused", _retry_after(exc))
    if isinstance(exc, BadRequest | Forbidden | ChatMigrated):  # BadRequest is a NetworkError
        return None
    if isinstance(exc, NetworkError):  # TimedOut is one
        cause = exc.__cause__
        if isinstance(cause, _NOT_SENT):
            return Judgement("refused")
        if isinstance(cause, httpx.HTTPError) or (cause is None and isinstance(exc, TimedOut)):
            return Judgement("unconfirmed")  # sent (or partly), no answer
        return Judgement("refused")  # the server answered with an error (5xx)
    return None


def delivery_error(chat_id: str, exc: TelegramError) -> DeliveryError:
    """The outlet error for a Bot API error met while pushing to ``chat_id``."""
    if isinstance(exc, ChatMigrated):
        return ChatMoved(chat_id, str(exc.new_chat_id))
    if isinstance(exc, Forbidden):
        return ChatGone(chat_id, exc.message)
    judgement = judge(exc)
    if judgement is None:
        return PermanentDeliveryError(chat_id, exc.message)  # BadRequest, InvalidToken, …
    if judgement.verdict == "unconfirmed":
        return DeliveryUnconfirmed(chat_id, f"sent, no answer: {exc.message}")
    return DeliveryRefused(chat_id, exc.message, judgement.retry_after)
