"""Inline keyboards: a :class:`~bot.reply.Button` re-runs its command line when pressed.

Telegram carries at most 64 bytes of ``callback_data`` per button. A command line that fits
is sent as is (``/heatmap BTC 7d``), so buttons keep working across restarts. A longer line
is replaced by a short key (``~k<n>``) remembered in a bounded in-memory LRU map: such a
button stops working once its key is evicted or the process restarts, and the user is told
so ("this button has expired") instead of running something else.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.reply import Button

__all__ = ["CALLBACK_DATA_LIMIT", "CallbackData", "keyboard"]

log = logging.getLogger(__name__)

#: Telegram's limit on a button's callback_data, in UTF-8 bytes
CALLBACK_DATA_LIMIT = 64
_KEY_PREFIX = "~k"
#: how a selected option is marked on its button ("• 7d")
SELECTED_MARK = "• "


class CallbackData:
    """Two-way map between a button's command line and its ``callback_data``."""

    def __init__(self, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._lines: OrderedDict[str, str] = OrderedDict()
        self._keys: dict[str, str] = {}
        self._counter = 0

    def encode(self, command: str) -> str:
        """``command`` itself when it fits in 64 bytes, else a short key for it."""
        if len(command.encode()) <= CALLBACK_DATA_LIMIT and not command.startswith(_KEY_PREFIX):
            return command
        key = self._keys.get(command)
        if key is None:
            self._counter += 1
            key = f"{_KEY_PREFIX}{self._counter:x}"
            self._keys[command] = key
            log.info(
                "button command longer than %d bytes, kept in memory as %s: %.80s",
                CALLBACK_DATA_LIMIT,
                key,
                command,
            )
        self._lines[key] = command
        self._lines.move_to_end(key)
        while len(self._lines) > self._capacity:
            _, evicted = self._lines.popitem(last=False)
            self._keys.pop(evicted, None)
        return key

    def decode(self, data: str) -> str | None:
        """The command line for ``data``; ``None`` when it was a key that has expired."""
        if not data.startswith(_KEY_PREFIX):
            return data
        command = self._lines.get(data)
        if command is not None:
            self._lines.move_to_end(data)
        return command


def keyboard(
    rows: Sequence[Sequence[Button]], callback_data: CallbackData
) -> InlineKeyboardMarkup | None:
    """The inline keyboard for a reply's button rows (``None`` when there are none)."""
    buttons = [
        [
            InlineKeyboardButton(
                (SELECTED_MARK if button.selected else "") + button.label,
                callback_data=callback_data.encode(button.command),
            )
            for button in row
        ]
        for row in rows
        if row
    ]
    return InlineKeyboardMarkup(buttons) if buttons else None
