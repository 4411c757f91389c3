"""Reply buttons → stateless Discord components, and presses back to command lines."""

from __future__ import annotations

from typing import Any

from bot.adapters.discord.buttons import (
    CUSTOM_ID_LIMIT,
    PREFIX,
    button_line,
    custom_id,
    reply_view,
)
from bot.adapters.discord.lib import discord
from bot.reply import Button


def _ids(view: discord.ui.View | None) -> list[str | None]:
    assert view is not None
    return [c.custom_id for c in view.children if isinstance(c, discord.ui.Button)]


async def test_rows_styles_and_custom_ids() -> None:
    rows = (
        (Button("12h", "/heatmap BTC 12h all"), Button("7d", "/heatmap BTC 7d all", True)),
        (Button("all", "/heatmap BTC 7d all", True),),
    )
    view = reply_view(rows)
    assert view is not None and view.timeout is None
    items = [c for c in view.children if isinstance(c, discord.ui.Button)]
    assert [(b.label, b.custom_id, b.row) for b in items] == [
        ("12h", PREFIX + "00:/heatmap BTC 12h all", 0),
        ("7d", PREFIX + "01:/heatmap BTC 7d all", 0),
        ("all", PREFIX + "10:/heatmap BTC 7d all", 1),
    ]
    assert [b.style for b in items] == [
        discord.ButtonStyle.secondary,
        discord.ButtonStyle.primary,
        discord.ButtonStyle.primary,
    ]


async def test_the_same_line_twice_gets_two_ids() -> None:
    """The selected range and the selected exchange re-run the same line (issue 16, 1)."""
    line = "/heatmap BTC 24h all"
    rows = [[Button(r, line if r == "24h" else f"/heatmap BTC {r} all") for r in ("12h", "24h")]]
    rows.append([Button("all", line, True), Button("bybit", "/heatmap BTC 24h bybit")])
    ids = _ids(reply_view(rows))
    assert len(ids) == len(set(ids)) == 4


class _Pressed:
    """What ``button_line`` reads of a component interaction."""

    type = discord.InteractionType.component

    def __init__(self, custom_id: str) -> None:
        self.data: dict[str, Any] = {"custom_id": custom_id, "component_type": 2}


def test_a_press_decodes_back_to_the_line_even_from_older_messages() -> None:
    line = "/map ETH 7d bybit"
    assert button_line(_Pressed(custom_id(4, 3, line))) == line  # type: ignore[arg-type]
    assert button_line(_Pressed(PREFIX + line)) == line  # type: ignore[arg-type]
    for foreign in ("other:/map", "lw:xy:/map", "lw:01:map", ""):
        assert button_line(_Pressed(foreign)) is None  # type: ignore[arg-type]


async def test_too_long_lines_are_left_out_and_empty_gives_none() -> None:
    fits = "/heatmap " + "x" * (CUSTOM_ID_LIMIT - len(custom_id(0, 0, "/heatmap ")))
    too_long = fits + "x"
    assert len(custom_id(0, 0, fits)) == CUSTOM_ID_LIMIT
    assert _ids(reply_view(((Button("ok", fits),),))) == [custom_id(0, 0, fits)]
    assert reply_view(((Button("x", too_long),),)) is None
    assert reply_view(()) is None
    view = reply_view(((Button("x", too_long), Button("ok", "/help")),))
    assert _ids(view) == [PREFIX + "01:/help"]
