"""A stand-in command layer and an adapter running against the fake Bot API (adapter tests)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from PIL import Image as PilImage

from bot.adapters.telegram.adapter import TelegramAdapter
from bot.analysis.service import MarketService
from bot.commands.catalog import build_commands
from bot.market.sim_source import DEFAULT_START_MS, SimSource
from bot.reply import Button, CallContext, Image, Platform, Reply
from bot.reply.text import render_reply
from bot.state.store import Store
from core.models import timeframe_ms
from tests.fakes.fake_telegram import FakeTelegram

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
BOT = "liqwatch_test_bot"
ADMIN_ID = 42
LONG_LINE = "/heatmap BTC 7d " + "x" * 80  # > 64 bytes: must travel as a short key

# ---- a stand-in command layer with the registry's protocol ---------------------------------


@dataclass(frozen=True)
class Spec:
    name: str
    summary: str
    admin: bool = False
    group_admin: bool = False


def _png(seed: int) -> bytes:
    out = io.BytesIO()
    PilImage.new("RGB", (64 + seed % 7, 48), (seed % 255, 80, 160)).save(out, format="PNG")
    return out.getvalue()


@dataclass
class StandInCommands:
    """Parses ``/name[@bot] args`` and answers like the real command layer would."""

    calls: list[tuple[str, CallContext]] = field(default_factory=list)
    specs: tuple[Spec, ...] = (
        Spec("start", "Welcome and what this bot does"),
        Spec("help", "List every command"),
        Spec("heatmap", "Estimated liquidation heatmap: /heatmap BTC [1d|7d]"),
        Spec("report", "A long text report"),
        Spec("story", "A chart with a long caption"),
        Spec("reset", "Admin: reset alert state", admin=True),
    )

    def menu(self) -> list[tuple[str, str]]:
        return [(s.name, s.summary) for s in self.specs]

    def get(self, name: str) -> Spec | None:
        return next((s for s in self.specs if s.name == name), None)

    async def run(
        self, line: str, ctx: CallContext, *, bot_username: str | None = None
    ) -> Reply | None:
        head, *args = line.split()
        name, _, addressee = head.lstrip("/").partition("@")
        if addressee and addressee.lower() != (bot_username or "").lower():
            return None
        self.calls.append((line, ctx))
        spec = self.get(name)
        if spec is None:
            return Reply("error", {"text": f"Unknown command /{name}. Try /help."}, is_error=True)
        if spec.admin and not ctx.is_admin:
            return Reply("error", {"text": f"/{name} is for admins only."}, is_error=True)
        if name == "help":
            return Reply(
                "help", {"text": "\n".join(f"/{s.name} — {s.summary}" for s in self.specs)}
            )
        if name == "heatmap":
            if len(args) < 1 or not args[0].isalpha():
                return Reply(
                    "error",
                    {"text": "Usage: /heatmap SYMBOL [1d|7d] — e.g. <b>/heatmap BTC</b>"},
                    is_error=True,
                )
            window = args[1] if len(args) > 1 else "1d"
            buttons = tuple(Button(w, f"/heatmap {args[0]} {w}", w == window) for w in ("1d", "7d"))
            text = f"<b>{args[0]}</b> {window}: short above $14.0B, long below $1.0B, 14:1"
            return Reply(
                "heatmap",
                {"text": text},
                images=(Image(f"{args[0].lower()}-{window}.png", _png(len(line))),),
                buttons=(buttons, (Button("more", LONG_LINE),)),
            )
        if name == "report":
            lines = [f"<b>level {i}</b> &amp; short $ {i * 1000:,} above" for i in range(400)]
            return Reply("report", {"text": "\n".join(lines)})
        if name == "story":
            lines = [f"line {i}: <i>cluster</i> at ${80_000 + i * 100:,}" for i in range(80)]
            return Reply("story", {"text": "\n".join(lines)}, images=(Image("s.png", _png(3)),))
        return Reply("start", {"text": f"Hi {ctx.user_name}! Try /heatmap BTC"})


def render(reply: Reply, platform: Platform) -> str:
    text = str(reply.context["text"])
    return text if platform == "telegram" else text.replace("<b>", "").replace("</b>", "")


# ---- fixtures ---------------------------------------------------------------------------------

SIM_CANDLES = 600


@dataclass
class Harness:
    fake: FakeTelegram
    adapter: TelegramAdapter
    commands: Any
    gone: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)
    service: MarketService | None = None


@asynccontextmanager
async def running(commands: Any, render_text: Any, **extra: Any) -> AsyncIterator[Harness]:
    """A fake Bot API and an adapter polling it, with chat-gone/migrated callbacks recorded."""
    async with FakeTelegram(TOKEN, bot_username=BOT, poll_cap=0.3) as fake:
        harness = Harness(fake, None, commands, **extra)  # type: ignore[arg-type]

        async def chat_gone(chat_id: str) -> None:
            harness.gone.append(chat_id)

        harness.adapter = TelegramAdapter(
            TOKEN,
            commands,
            render_text,
            api_base_url=fake.api_base_url,
            admin_ids=[ADMIN_ID],
            on_chat_gone=chat_gone,
            on_chat_migrated=lambda old, new: harness.moved.append((old, new)),
            poll_timeout=5,
        )
        await harness.adapter.start()
        try:
            yield harness
        finally:
            await harness.adapter.stop()


def sim_service() -> MarketService:
    """The real service on a small simulated market whose clock stands at its last candle."""
    return MarketService(
        {"sim": SimSource(candles=SIM_CANDLES)},
        Store(":memory:"),
        clock=lambda: DEFAULT_START_MS + SIM_CANDLES * timeframe_ms("5m"),
        lookback_ms=SIM_CANDLES * timeframe_ms("5m"),
    )


@pytest.fixture
async def live() -> AsyncIterator[Harness]:
    """The adapter serving the real command layer."""
    service = sim_service()
    try:
        async with running(build_commands(service), render_reply, service=service) as harness:
            yield harness
    finally:
        service.store.close()  # type: ignore[attr-defined]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    """The adapter serving the stand-in command layer."""
    async with running(StandInCommands(), render) as harness:
        yield harness


async def rendered(line: str) -> str:
    reply = await StandInCommands().run(line, CallContext("telegram", "1", "1"))
    assert reply is not None
    return render(reply, "telegram")


def keyboard_buttons(markup: dict[str, Any]) -> list[dict[str, str]]:
    return [b for row in markup["inline_keyboard"] for b in row]
