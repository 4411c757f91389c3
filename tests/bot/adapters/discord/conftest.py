"""Fixtures of the Discord adapter tests (helpers: :mod:`tests.bot.adapters.discord.harness`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.adapters.discord.lib import discord
from tests.bot.adapters.discord.harness import Harness, live_bot


@pytest.fixture(autouse=True)
def restore_discord_urls() -> Iterator[None]:
    """discord.py keeps its API base and gateway URL process-wide: put them back."""
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@pytest.fixture
async def live() -> AsyncIterator[Harness]:
    async with live_bot() as harness:
        yield harness
