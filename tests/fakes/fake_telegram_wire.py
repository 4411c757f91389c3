"""The Bot API's wire shapes for :mod:`tests.fakes.fake_telegram`: JSON builders (user, chat,
photo sizes), Telegram's checks (HTML parse mode, text length in UTF-16 units, callback data
≤ 64 bytes), error answers (:class:`ApiError`, injectable :class:`Fault`) and the record of a
received request (:class:`ApiCall`).
"""

from __future__ import annotations

import html
import json
import struct
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

__all__ = [
    "DISCONNECT",
    "ApiCall",
    "ApiError",
    "Fault",
    "chat_json",
    "check_keyboard",
    "check_text",
    "photo_sizes",
    "png_size",
    "user_json",
    "utf16",
    "visible_html",
]

_ALLOWED_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a"}
    | {"code", "pre", "blockquote", "tg-emoji"}
)


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description, optional ``parameters``."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


#: the :class:`Fault` status that drops the connection instead of answering
DISCONNECT = 0
#: the :class:`Fault` status that performs the method and answers ``delay`` seconds late
SLOW = -1
#: the :class:`Fault` status that performs nothing and answers only once released
HANG = -2


@dataclass(frozen=True)
class Fault:
    """An error answer the fake gives instead of performing a method."""

    status: int
    description: str
    parameters: dict[str, Any] | None = None
    delay: float = 0.0

    @classmethod
    def retry_after(cls, seconds: int) -> Fault:
        return cls(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """The method is performed (the message exists), the answer comes ``seconds`` late:
        a client with a shorter read timeout cannot know it was delivered."""
        return cls(SLOW, "slow answer", delay=seconds)

    @classmethod
    def hang(cls) -> Fault:
        """The request is held, unanswered and not performed, until ``FakeTelegram.release()``
        (then the method is performed and answered, if the client still listens)."""
        return cls(HANG, "hung")

    @classmethod
    def server_error(cls) -> Fault:
        """500 with Telegram's JSON error body."""
        return cls(500, "Internal Server Error")

    @classmethod
    def forbidden(cls) -> Fault:
        return cls(403, "Forbidden: bot was blocked by the user")

    @classmethod
    def migrated(cls, new_chat_id: int) -> Fault:
        return cls(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": new_chat_id},
        )

    @classmethod
    def bad_gateway(cls) -> Fault:
        """502, as Telegram's front end answers while the Bot API is restarting."""
        return cls(502, "Bad Gateway")

    @classmethod
    def disconnect(cls) -> Fault:
        """No answer at all: the connection is closed mid-request (status 0 in the record)."""
        return cls(DISCONNECT, "connection dropped")

    @classmethod
    def unauthorized(cls) -> Fault:
        """401: the bot token was revoked (``/revoke`` in BotFather) after start-up."""
        return cls(401, "Unauthorized")

    @classmethod
    def bad_request(cls, description: str = "Bad Request: chat not found") -> Fault:
        return cls(400, description)


@dataclass
class ApiCall:
    """One request as received: form fields, uploaded files, and what was answered."""

    method: str
    params: dict[str, str]
    files: dict[str, bytes]
    status: int = 200
    result: Any = None
    at: float = field(default_factory=time.perf_counter)

    @property
    def ok(self) -> bool:
        return self.status == 200

    def json(self, name: str) -> Any:
        """A nested-object parameter (``reply_markup``, ``media``) decoded."""
        return json.loads(self.params[name])


class _TelegramHtml(HTMLParser):
    """Telegram's HTML parse mode: known tags, properly nested; collects the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            self.problem = self.problem or f'unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problem = self.problem or f'unexpected end tag "{tag}"'
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible_html(text: str) -> str:
    """The text Telegram would display for ``text`` in HTML mode, or a 400 like Telegram's."""
    parser = _TelegramHtml()
    parser.feed(text)
    parser.close()
    if parser.problem or parser.stack:
        problem = parser.problem or f'unclosed tag "{parser.stack[-1]}"'
        raise ApiError(400, f"Bad Request: can't parse entities: {problem}")
    return html.unescape("".join(parser.text))


def utf16(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG header; (0, 0) for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return 0, 0


def check_text(text: str, parse_mode: str | None, limit: int, too_long: str) -> None:
    """Raise Telegram's 400 for empty text or more than ``limit`` visible UTF-16 units."""
    visible = visible_html(text) if parse_mode == "HTML" else text
    if not visible.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if utf16(visible) > limit:
        raise ApiError(400, f"Bad Request: {too_long}")


def check_keyboard(markup: dict[str, Any]) -> None:
    """Raise Telegram's 400 for a button whose callback data exceeds 64 bytes."""
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if len(button.get("callback_data", "").encode()) > 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


def user_json(user_id: int, username: str) -> dict[str, Any]:
    """A (human) Bot API ``User``."""
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": username.title(),
        "username": username,
    }


def chat_json(chat_id: int, chat_type: str = "private", name: str = "alice") -> dict[str, Any]:
    """A Bot API ``Chat``: a private chat with ``name``, or a group."""
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = name.title()
    else:
        chat["title"] = f"group {chat_id}"
    return chat


def photo_sizes(file_id: str, data: bytes) -> list[dict[str, Any]]:
    """The Bot API ``PhotoSize`` list of a stored photo (one size: the upload itself)."""
    width, height = png_size(data)
    return [
        {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "width": width,
            "height": height,
            "file_size": len(data),
        }
    ]
