"""discord.py imports cleanly under ``filterwarnings = error`` through ``discord_lib``."""

from __future__ import annotations

from bot.adapters import discord_lib


def test_exposes_the_library_and_its_command_tree() -> None:
    assert discord_lib.discord.version_info.major == 2
    assert discord_lib.app_commands.CommandTree is discord_lib.discord.app_commands.CommandTree
    assert discord_lib.discord.http.Route.BASE.startswith("https://")
