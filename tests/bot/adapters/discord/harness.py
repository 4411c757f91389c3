"""What the Discord adapter tests share: a real discord.py adapter on the real command layer
(a small simulated market) against the strict loopback fake Discord."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bot.adapters.discord.adapter import DiscordAdapter
from bot.analysis.service import MarketService
from bot.commands.catalog import build_commands
from bot.commands.registry import Commands
from bot.market.sim_source import DEFAULT_START_MS, SimSource
from bot.reply.text import render_reply
from bot.state.store import Store
from core.models import timeframe_ms
from tests.fakes.fake_discord import Call, FakeDiscord

TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMg.GfakeX.abcdefghijklmnopqrstuvwxyz0123456789AB"
ADMIN_CHANNEL = 1300000000000000099
CHANNEL = 1300000000000000005
SIM_CANDLES = 600
MANAGE_GUILD = 1 << 5


@dataclass
class Harness:
    fake: FakeDiscord
    adapter: DiscordAdapter
    service: MarketService


def sim_service() -> MarketService:
    """The real service on a small simulated market whose clock stands at its last candle."""
    return MarketService(
        {"sim": SimSource(candles=SIM_CANDLES)},
        Store(":memory:"),
        clock=lambda: DEFAULT_START_MS + SIM_CANDLES * timeframe_ms("5m"),
        lookback_ms=SIM_CANDLES * timeframe_ms("5m"),
    )


def symbols_of(service: MarketService) -> Any:
    async def symbols() -> list[str]:
        source = service.sources["sim"]
        await source.load()
        return source.symbols()

    return symbols


@asynccontextmanager
async def adapter_on(
    fake: FakeDiscord, commands: Any, symbols: Any = None, exchanges: tuple[str, ...] = ()
) -> AsyncIterator[DiscordAdapter]:
    """A started adapter serving ``commands`` against ``fake``."""
    adapter = DiscordAdapter(
        TOKEN,
        commands,
        render_reply,
        exchanges=exchanges,
        symbols=symbols,
        api_base_url=fake.api_base_url,
        gateway_url=fake.gateway_url,
        admin_channel_id=ADMIN_CHANNEL,
        guild_ready_timeout=0.1,
    )
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


@asynccontextmanager
async def running(
    commands: Any, symbols: Any = None, exchanges: tuple[str, ...] = ()
) -> AsyncIterator[tuple[FakeDiscord, DiscordAdapter]]:
    """A fake Discord and a started adapter serving ``commands``."""
    async with FakeDiscord(TOKEN) as fake, adapter_on(fake, commands, symbols, exchanges) as bot:
        yield fake, bot


@asynccontextmanager
async def live_bot(commands: Commands | None = None) -> AsyncIterator[Harness]:
    """The real commands (or ``commands``) on the simulated market, served on a fake Discord."""
    service = sim_service()
    try:
        served = commands if commands is not None else build_commands(service)
        async with running(served, symbols_of(service), service.exchanges) as (fake, adapter):
            yield Harness(fake, adapter, service)
    finally:
        service.store.close()  # type: ignore[attr-defined]


def for_token(calls: list[Call], token: str) -> list[Call]:
    return [c for c in calls if token in c.path]


async def followups(fake: FakeDiscord, token: str, count: int = 1) -> list[Call]:
    """The first ``count`` follow-ups of the interaction ``token`` (waiting for them)."""
    async with asyncio.timeout(30):
        while len(for_token(fake.calls_of("webhook"), token)) < count:
            await fake.wait_for("webhook", len(fake.calls_of("webhook")) + 1)
    return for_token(fake.calls_of("webhook"), token)


def buttons(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for row in payload.get("components", []) for b in row["components"]]
