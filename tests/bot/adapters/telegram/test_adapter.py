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

from PIL import Image as PilImage

from bot.adapters.telegram.buttons import CALLBACK_DATA_LIMIT
from bot.app.logs import setup_logging
from bot.commands.catalog import build_commands
from bot.reply import RANGES
from bot.reply.text import render_reply
from core.charts.format import human_price, human_ratio, human_usd
from tests.bot.adapters.telegram.adapter_fixtures import (
    BOT,
    TOKEN,
    Harness,
    keyboard_buttons,
    live,
    running,
    sim_service,
)
from tests.fakes.fake_telegram import Fault

__all__ = ["live"]  # the fixture, used by name


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
    buttons = keyboard_buttons(sent.json("reply_markup"))
    assert f"• {RANGES[1].label}" in [b["text"] for b in buttons]
    assert all(len(b["callback_data"].encode()) <= CALLBACK_DATA_LIMIT for b in buttons)


async def test_button_press_edits_the_chart_in_place(live: Harness) -> None:
    live.fake.inject_command("/heatmap ETH")
    (sent,) = await live.fake.wait_for("sendPhoto")
    week = next(b for b in keyboard_buttons(sent.json("reply_markup")) if b["text"] == "7d")
    live.fake.inject_callback(sent.result, week["callback_data"])
    (edit,) = await live.fake.wait_for("editMessageMedia")
    (answer,) = await live.fake.wait_for("answerCallbackQuery")
    media = edit.json("media")
    assert media["type"] == "photo" and "7d" in media["caption"]
    new_png = edit.files[media["media"].removeprefix("attach://")]
    assert new_png.startswith(b"\x89PNG") and new_png != sent.files["photo"]
    assert int(edit.params["message_id"]) == sent.result["message_id"]
    assert "• 7d" in [b["text"] for b in keyboard_buttons(edit.json("reply_markup"))]
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
