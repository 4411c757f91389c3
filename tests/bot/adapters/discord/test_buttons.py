"""Reply buttons → stateless Discord components, and presses back to command lines."""

from __future__ import annotations

from bot.adapters.discord.buttons import CUSTOM_ID_LIMIT, PREFIX, reply_view
from bot.adapters.discord.lib import discord
from bot.reply import Button


async def test_rows_styles_and_custom_ids() -> None:
    rows = (
        (Button("12h", "/heatmap BTC 12h all"), Button("7d", "/heatmap BTC 7d all", True)),
        (Button("all", "/heatmap BTC 7d all"),),
    )
    view = reply_view(rows)
    assert view is not None and view.timeout is None
    items = [c for c in view.children if isinstance(c, discord.ui.Button)]
    assert [(b.label, b.custom_id, b.row) for b in items] == [
        ("12h", PREFIX + "/heatmap BTC 12h all", 0),
        ("7d", PREFIX + "/heatmap BTC 7d all", 0),
        ("all", PREFIX + "/heatmap BTC 7d all", 1),
    ]
    assert [b.style for b in items][:2] == [
        discord.ButtonStyle.secondary,
        discord.ButtonStyle.primary,
    ]


async def test_too_long_lines_are_left_out_and_empty_gives_none() -> None:
    long = Button("more", "/heatmap BTC 7d " + "x" * CUSTOM_ID_LIMIT)
    assert reply_view(((long,),)) is None
    assert reply_view(()) is None
    view = reply_view(((long, Button("ok", "/help")),))
    assert view is not None and [c.custom_id for c in view.children] == [PREFIX + "/help"]  # type: ignore[attr-defined]
