"""Platform-neutral replies and invocation context — what commands return and receive.

A command never sends anything: it returns a :class:`Reply` (a template name and its
context, images, buttons). Each adapter renders the text for its platform
(:func:`bot.reply.text.render_reply`) and translates images and buttons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "RANGES",
    "Button",
    "CallContext",
    "ChartKind",
    "Image",
    "Platform",
    "Range",
    "Reply",
]

Platform = Literal["telegram", "discord", "console"]

#: The charts a reply or an alert can carry.
ChartKind = Literal["heatmap", "map", "card", "cascade"]

_HOUR: Final = 3_600_000
_DAY: Final = 24 * _HOUR


@dataclass(frozen=True)
class Range:
    """A look-back window for charts: its canonical label (``7d``) and length in ms."""

    label: str
    ms: int


#: The ranges users may ask for, in menu order (buttons, help and errors list these).
RANGES: Final[tuple[Range, ...]] = (
    Range("12h", 12 * _HOUR),
    Range("24h", 24 * _HOUR),
    Range("3d", 3 * _DAY),
    Range("7d", 7 * _DAY),
    Range("30d", 30 * _DAY),
)


@dataclass(frozen=True)
class Image:
    """A rendered chart: PNG bytes with a file name (``btc-heatmap-7d.png``)."""

    filename: str
    data: bytes
    alt: str = ""


@dataclass(frozen=True)
class Button:
    """An inline button that re-runs a command line, e.g. ``/heatmap BTC 7d all``.

    Adapters encode ``command`` as callback data (Telegram limits it to 64 bytes; commands
    keep their button lines short) and run it as if typed, editing the message in place.
    """

    label: str
    command: str
    selected: bool = False


@dataclass(frozen=True)
class Reply:
    """What a command produced. ``template`` names a file under ``templates/``."""

    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    images: tuple[Image, ...] = ()
    buttons: tuple[tuple[Button, ...], ...] = ()
    is_error: bool = False
    #: an edit of the message the buttons belonged to, rather than a new message
    edit: bool = False
    #: deliver without a notification sound (an alert rule set to "silent")
    silent: bool = False
    #: a one-time notice about this chat, rendered before the reply's own text (a chat
    #: whose alerts were removed while the bot could not reach it: bot.commands.comeback)
    notice: Reply | None = None
    #: a pushed reply threaded under this platform message id (an alert's follow-up)
    reply_to: str | None = None


@dataclass(frozen=True)
class CallContext:
    """Who asked, where: everything a handler may need to know about the caller."""

    platform: Platform
    chat_id: str
    user_id: str
    is_group: bool = False
    #: the caller may run admin commands here (configured admin id, group admin, or a
    #: Discord member with Manage Server — the adapter decides, the command checks)
    is_admin: bool = False
    user_name: str = ""
    #: the adapter could not find out whether the caller is an admin (the platform's lookup
    #: failed): a refusal then says so and asks to try again, instead of "admins only"
    rights_unknown: bool = False
