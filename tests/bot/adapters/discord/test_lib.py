"""discord.py imports cleanly under ``filterwarnings = error`` through ``bot.adapters.discord.lib``."""

from __future__ import annotations

from bot.adapters.discord import lib as discord_lib


def test_exposes_the_library_and_its_command_tree() -> None:
    assert discord_lib.discord.version_info.major == 2
    assert discord_lib.app_commands.CommandTree is discord_lib.discord.app_commands.CommandTree
    assert discord_lib.discord.http.Route.BASE.startswith("https://")
