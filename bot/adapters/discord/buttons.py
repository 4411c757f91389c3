"""Reply buttons as Discord message components that re-run a command line when pressed.

Stateless by design: each button's ``custom_id`` carries its command line, so a press is
understood after a restart too and nothing is stored per message. Discord refuses a message
whose custom ids repeat (two buttons may run the same line: the selected range "24h" and the
selected exchange "all" both re-run ``/heatmap BTC 24h all``), so the line is prefixed with
the button's place, row then column: ``lw:01:/heatmap BTC 24h all``. :func:`button_line`
reads both that and the older ``lw:/heatmap …`` (messages sent before the place was added).
Discord allows 5 rows of 5 buttons, labels of 80 characters and custom ids of 100; a button
whose id does not fit is left out (and logged).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.adapters.discord.lib import discord
from bot.reply import Button

__all__ = ["CUSTOM_ID_LIMIT", "PREFIX", "button_line", "custom_id", "reply_view"]

log = logging.getLogger(__name__)

PREFIX = "lw:"
CUSTOM_ID_LIMIT = 100
_ROWS = 5
_PER_ROW = 5
_LABEL_LIMIT = 80


def custom_id(row: int, column: int, line: str) -> str:
    """``lw:<row><column>:<line>`` — unique within a message, and enough to re-run ``line``."""
    return f"{PREFIX}{row}{column}:{line}"


def _line(custom_id: str) -> str | None:
    """The command line inside a custom id (``lw:01:/x`` or the older ``lw:/x``), else None."""
    if not custom_id.startswith(PREFIX):
        return None
    rest = custom_id[len(PREFIX) :]
    if rest.startswith("/"):  # before the place was added
        return rest
    place, sep, line = rest.partition(":")
    if sep and place.isdigit() and line.startswith("/"):
        return line
    return None


def reply_view(rows: Sequence[Sequence[Button]]) -> discord.ui.View | None:
    """A component view for the reply's button rows, or ``None`` when there are none."""
    view = discord.ui.View(timeout=None)
    for row_index, row in enumerate(rows[:_ROWS]):
        for column, button in enumerate(row[:_PER_ROW]):
            button_id = custom_id(row_index, column, button.command)
            if len(button_id) > CUSTOM_ID_LIMIT:
                log.debug("button %r left out: its command line is too long", button.label)
                continue
            style = (
                discord.ButtonStyle.primary if button.selected else discord.ButtonStyle.secondary
            )
            view.add_item(
                discord.ui.Button(
                    label=button.label[:_LABEL_LIMIT],
                    style=style,
                    custom_id=button_id,
                    row=row_index,
                )
            )
    return view if view.children else None


def button_line(interaction: discord.Interaction) -> str | None:
    """The command line behind a pressed liqwatch button, else ``None``."""
    if interaction.type is not discord.InteractionType.component or not interaction.data:
        return None
    return _line(str(interaction.data.get("custom_id", "")))
