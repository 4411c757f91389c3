"""The Telegram adapter end to end: a real PTB Application against the loopback fake Bot API.

Two command layers drive it: the real one (``bot.commands`` on a small simulated market)
for what users see, and a stand-in with the same protocol for edge cases the real commands
do not produce on demand (an admin-only command, 4096+ character text, a 1024+ caption).
"""

from __future__ import annotations

import asyncio
import html
import io
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from PIL import Image as PilImage

from bot.adapters.telegram.adapter import TelegramAdapter
from bot.adapters.telegram.buttons import CALLBACK_DATA_LIMIT
from bot.adapters.telegram.text import split_html, utf16_len
from bot.analysis.service import MarketService
from bot.app.logs import setup_logging
from bot.commands.catalog import build_commands
from bot.market.sim_source import DEFAULT_START_MS, SimSource
from bot.notify.outlets import PermanentDeliveryError
from bot.reply import RANGES, Button, CallContext, Image, Platform, Reply
from bot.reply.text import render_reply
from bot.state.store import Store
from core.charts.format import human_price, human_ratio, human_usd
from core.models import timeframe_ms
from tests.fakes.fake_telegram import FakeTelegram, Fault

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


async def _rendered(line: str) -> str:
    reply = await StandInCommands().run(line, CallContext("telegram", "1", "1"))
    assert reply is not None
    return render(reply, "telegram")


def _buttons(markup: dict[str, Any]) -> list[dict[str, str]]:
    return [b for row in markup["inline_keyboard"] for b in row]


# ---- the real command layer ------------------------------------------------------------------


async def test_start_publishes_menu_and_answers(live: Harness) -> None:
    assert live.adapter.bot_username == BOT
    assert [c["command"] for c in live.fake.commands] == [n for n, _ in live.commands.menu()]
    live.fake.inject_command("/start", username="bob")
    (sent,) = await live.fake.wait_for("sendMessage")
    assert sent.params["parse_mode"] == "HTML"
    assert "<code>/heatmap BTC</code>" in sent.params["text"]


async def test_help_lists_every_command(live: Harness) -> None:
    live.fake.inject_command("/help")
    await live.fake.wait_for("sendMessage")
    await asyncio.sleep(0.2)  # a long help may come in several messages
    text = "\n".join(c.params["text"] for c in live.fake.calls_of("sendMessage"))
    for spec in live.commands.specs:
        assert f"/{spec.name}" in text


async def test_heatmap_sends_png_with_the_numbers_and_keyboard(live: Harness) -> None:
    live.fake.inject_command("/heatmap BTC")
    (sent,) = await live.fake.wait_for("sendPhoto")
    png = sent.files["photo"]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with PilImage.open(io.BytesIO(png)) as decoded:
        decoded.load()
        assert decoded.format == "PNG" and decoded.width > 0
    assert live.service is not None
    view = await live.service.view("BTC", RANGES[1], "all")  # the same (cached) analysis
    caption = sent.params["caption"]
    for number in (
        human_price(view.analysis.price),
        human_usd(view.analysis.imbalance.short_above),
        human_usd(view.analysis.imbalance.long_below),
        human_ratio(view.analysis.imbalance.ratio),
    ):
        assert html.escape(number) in caption
    buttons = _buttons(sent.json("reply_markup"))
    assert f"• {RANGES[1].label}" in [b["text"] for b in buttons]
    assert all(len(b["callback_data"].encode()) <= CALLBACK_DATA_LIMIT for b in buttons)


async def test_button_press_edits_the_chart_in_place(live: Harness) -> None:
    live.fake.inject_command("/heatmap ETH")
    (sent,) = await live.fake.wait_for("sendPhoto")
    week = next(b for b in _buttons(sent.json("reply_markup")) if b["text"] == "7d")
    live.fake.inject_callback(sent.result, week["callback_data"])
    (edit,) = await live.fake.wait_for("editMessageMedia")
    (answer,) = await live.fake.wait_for("answerCallbackQuery")
    media = edit.json("media")
    assert media["type"] == "photo" and "7d" in media["caption"]
    new_png = edit.files[media["media"].removeprefix("attach://")]
    assert new_png.startswith(b"\x89PNG") and new_png != sent.files["photo"]
    assert int(edit.params["message_id"]) == sent.result["message_id"]
    assert "• 7d" in [b["text"] for b in _buttons(edit.json("reply_markup"))]
    assert answer.params.get("show_alert", "false") == "false"
    assert not live.fake.calls_of("sendPhoto")[1:]  # edited, not re-sent


async def test_bad_arguments_get_a_clear_html_reply(live: Harness) -> None:
    live.fake.inject_command("/heatmap 123")
    (sent,) = await live.fake.wait_for("sendMessage")
    assert sent.params["parse_mode"] == "HTML"
    assert "is not a symbol" in sent.params["text"] and "Usage:" in sent.params["text"]
    assert not live.fake.calls_of("sendPhoto")


async def test_group_command_addressed_to_us_or_to_another_bot(live: Harness) -> None:
    group = {"chat_id": -100777, "chat_type": "supergroup"}
    live.fake.inject_command(f"/heatmap@{BOT} BTC", **group)  # type: ignore[arg-type]
    (sent,) = await live.fake.wait_for("sendPhoto")
    assert sent.params["chat_id"] == "-100777"
    live.fake.inject_command("/heatmap@otherbot BTC", **group)  # type: ignore[arg-type]
    live.fake.inject_command("/start", **group)  # type: ignore[arg-type]
    await live.fake.wait_for("sendMessage")  # /start answered, so the update before it was seen
    assert len(live.fake.calls_of("sendPhoto")) == 1
    assert not live.fake.calls_of("getChatMember")  # no admin-only command: no lookup


async def test_retry_after_is_waited_out_then_delivered(live: Harness) -> None:
    live.fake.fail("sendPhoto", Fault.retry_after(1))
    live.fake.inject_command("/heatmap BTC")
    (refused,) = await live.fake.wait_for("sendPhoto", ok_only=False)
    assert refused.status == 429
    (delivered,) = await live.fake.wait_for("sendPhoto")
    assert delivered.at - refused.at >= 1.0  # retry_after honoured (PTB adds 0.1 s)
    assert delivered.files["photo"] == refused.files["photo"]


# ---- edge cases with the stand-in command layer ----------------------------------------------


async def test_admin_only_command_checks_group_role(harness: Harness) -> None:
    group = -100555
    harness.fake.chat_admins[group] = {77}
    harness.fake.inject_command("/reset", chat_id=group, chat_type="group", user_id=66)
    (refused,) = await harness.fake.wait_for("sendMessage")
    assert "admins only" in refused.params["text"]
    harness.fake.inject_command("/reset", chat_id=group, chat_type="group", user_id=77)
    (allowed,) = await harness.fake.wait_for("sendMessage")
    assert "Hi" in allowed.params["text"]
    assert len(harness.fake.calls_of("getChatMember")) == 2
    # a configured admin needs no lookup; a command that is not admin-only never triggers one
    harness.fake.inject_command("/reset", chat_id=group, chat_type="group", user_id=ADMIN_ID)
    harness.fake.inject_command("/start", chat_id=group, chat_type="group", user_id=66)
    await harness.fake.wait_for("sendMessage", 2)
    assert len(harness.fake.calls_of("getChatMember")) == 2
    assert [c.is_admin for _, c in harness.commands.calls] == [False, True, True, False]


async def test_long_text_is_split_on_line_boundaries(harness: Harness) -> None:
    harness.fake.inject_command("/report")
    expected = await _rendered("/report")
    parts = len(split_html(expected))
    assert parts >= 3
    sent = await harness.fake.wait_for("sendMessage", parts)
    texts = [c.params["text"] for c in sent]
    assert all(utf16_len(t) <= 4096 for t in texts)
    assert "\n".join(texts) == expected  # cut exactly between lines, nothing lost


async def test_long_caption_becomes_caption_plus_follow_up(harness: Harness) -> None:
    harness.fake.inject_command("/story")
    (photo,) = await harness.fake.wait_for("sendPhoto")
    (rest,) = await harness.fake.wait_for("sendMessage")
    caption = photo.params["caption"]
    assert 900 < utf16_len(caption) <= 1024
    assert caption + "\n" + rest.params["text"] == await _rendered("/story")


async def test_over_long_button_line_travels_as_a_key(harness: Harness) -> None:
    harness.fake.inject_command("/heatmap ETH")
    (sent,) = await harness.fake.wait_for("sendPhoto")
    more = next(b for b in _buttons(sent.json("reply_markup")) if b["text"] == "more")
    assert len(more["callback_data"].encode()) <= CALLBACK_DATA_LIMIT
    harness.fake.inject_callback(sent.result, more["callback_data"])
    await harness.fake.wait_for("answerCallbackQuery")
    assert harness.commands.calls[-1][0] == LONG_LINE
    harness.fake.inject_callback(sent.result, "~kdead")  # a key from before a restart
    (answer,) = await harness.fake.wait_for("answerCallbackQuery")
    assert "expired" in answer.params["text"] and answer.params["show_alert"] == "true"


async def test_forbidden_reports_chat_gone_and_keeps_running(harness: Harness) -> None:
    harness.fake.fail("sendMessage", Fault.forbidden(), chat_id=9001)
    harness.fake.inject_command("/start", chat_id=9001, user_id=9001)
    await harness.fake.wait_for("sendMessage", ok_only=False)
    await asyncio.sleep(0.05)
    assert harness.gone == ["9001"]
    await harness.adapter.send("9002", Reply("start", {"text": "still alive"}))
    assert harness.fake.calls_of("sendMessage")[-1].params["text"] == "still alive"


async def test_chat_migrated_is_reported_and_resent(harness: Harness) -> None:
    harness.fake.fail("sendMessage", Fault.migrated(-1009999), chat_id=-4242)
    harness.fake.inject_command("/start", chat_id=-4242, chat_type="group")
    (sent,) = await harness.fake.wait_for("sendMessage")
    assert sent.params["chat_id"] == "-1009999"
    assert harness.moved == [("-4242", "-1009999")]


async def test_bad_request_to_a_pushed_message_is_a_permanent_delivery_error(
    harness: Harness,
) -> None:
    harness.fake.fail("sendMessage", Fault.bad_request())
    with pytest.raises(PermanentDeliveryError, match=r"(?i)chat not found"):
        await harness.adapter.send("31337", Reply("start", {"text": "hello"}))
    assert not harness.gone  # a bad request is not a blocked bot: the chat stays subscribed
    await harness.adapter.send("31337", Reply("start", {"text": "hello"}))  # and it carries on


# ---- secrets ----------------------------------------------------------------------------------


async def test_token_never_reaches_the_log() -> None:
    root = logging.getLogger()
    level, before = root.level, list(root.handlers)
    ours = setup_logging("DEBUG", secrets=[TOKEN])
    written = io.StringIO()
    ours.setStream(written)  # type: ignore[attr-defined]
    raw = io.StringIO()
    unredacted = logging.StreamHandler(raw)  # sees httpx records before any filter rewrites them
    logging.getLogger("httpx").addHandler(unredacted)
    service = sim_service()
    try:
        async with running(build_commands(service), render_reply) as live:
            live.fake.fail("sendMessage", Fault.bad_request())
            live.fake.inject_command("/start")
            await live.fake.wait_for("sendMessage", ok_only=False)
            live.fake.inject_command("/heatmap BTC")
            await live.fake.wait_for("sendPhoto")
    finally:
        service.store.close()  # type: ignore[attr-defined]
        logging.getLogger("httpx").removeHandler(unredacted)
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
        root.setLevel(level)
    assert TOKEN in raw.getvalue()  # httpx does log the URL with the token: this test can fail
    log_text = written.getvalue()
    assert "sendPhoto" in log_text and "getUpdates" in log_text and "rejected" in log_text
    assert TOKEN not in log_text
    assert TOKEN.split(":")[1] not in log_text
