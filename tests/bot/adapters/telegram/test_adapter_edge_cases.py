"""Telegram adapter edge cases with the stand-in commands: roles, long text, long keys, faults."""

from __future__ import annotations

import asyncio

import pytest

from bot.adapters.telegram.buttons import CALLBACK_DATA_LIMIT
from bot.adapters.telegram.text import split_html, utf16_len
from bot.notify.outlets import PermanentDeliveryError
from bot.reply import Reply
from tests.bot.adapters.telegram.adapter_fixtures import (
    ADMIN_ID,
    LONG_LINE,
    Harness,
    harness,
    keyboard_buttons,
    rendered,
)
from tests.fakes.fake_telegram import Fault

__all__ = ["harness"]  # the fixture, used by name


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
    expected = await rendered("/report")
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
    assert caption + "\n" + rest.params["text"] == await rendered("/story")


async def test_over_long_button_line_travels_as_a_key(harness: Harness) -> None:
    harness.fake.inject_command("/heatmap ETH")
    (sent,) = await harness.fake.wait_for("sendPhoto")
    more = next(b for b in keyboard_buttons(sent.json("reply_markup")) if b["text"] == "more")
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
