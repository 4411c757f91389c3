"""Reply buttons as Discord message components that re-run a command line when pressed.

Stateless by design: each button's ``custom_id`` *is* its command line
(``lw:/heatmap BTC 7d all``), so a press is understood after a restart too and nothing is
stored per message. Discord allows 5 rows of 5 buttons, labels of 80 characters and
custom ids of 100; a button whose line does not fit is left out (and logged).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.adapters.discord.lib import discord
from bot.reply import Button

__all__ = ["CUSTOM_ID_LIMIT", "PREFIX", "button_line", "reply_view"]

log = logging.getLogger(__name__)

PREFIX = "lw:"
CUSTOM_ID_LIMIT = 100
_ROWS = 5
_PER_ROW = 5
_LABEL_LIMIT = 80


def reply_view(rows: Sequence[Sequence[Button]]) -> discord.ui.View | None:
    """A component view for the reply's button rows, or ``None`` when there are none."""
    view = discord.ui.View(timeout=None)
    for row_index, row in enumerate(rows[:_ROWS]):
        for button in row[:_PER_ROW]:
            custom_id = PREFIX + button.command
            if len(custom_id) > CUSTOM_ID_LIMIT:
                log.debug("button %r left out: its command line is too long", button.label)
                continue
            style = (
                discord.ButtonStyle.primary if button.selected else discord.ButtonStyle.secondary
            )
            view.add_item(
                discord.ui.Button(
                    label=button.label[:_LABEL_LIMIT],
                    style=style,
                    custom_id=custom_id,
                    row=row_index,
                )
            )
    return view if view.children else None


def button_line(interaction: discord.Interaction) -> str | None:
    """The command line behind a pressed liqwatch button, else ``None``."""
    if interaction.type is not discord.InteractionType.component or not interaction.data:
        return None
    custom_id = str(interaction.data.get("custom_id", ""))
    return custom_id[len(PREFIX) :] if custom_id.startswith(PREFIX) else None
