"""Replies → Discord messages within the limits; discord.py errors → DeliveryErrors."""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.discord.lib import discord
from bot.adapters.discord.render import (
    DESCRIPTION_LIMIT,
    EMBEDS_PER_MESSAGE,
    MESSAGE_EMBED_TOTAL,
    build_messages,
    delivery_error,
    split_text,
)
from bot.notify.outlets import ChatGone, PermanentDeliveryError, TemporaryDeliveryError
from bot.reply import Image

lines = st.lists(st.text(st.characters(blacklist_categories=["Cs"]), max_size=300), max_size=80)


@settings(max_examples=80, deadline=None)
@given(lines, st.integers(50, 500))
def test_split_text_respects_the_limit_and_keeps_the_words(parts: list[str], limit: int) -> None:
    text = "\n".join(parts)
    chunks = split_text(text, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    assert "".join(text.split()) == "".join("".join(chunks).replace("\u200b", "").split())


def test_long_text_spreads_over_messages_within_limits() -> None:
    text = "\n".join(f"level {i}: shorts $ {i * 1000:,} above" for i in range(3000))
    messages = build_messages(text, (Image("a.png", b"\x89PNG" + b"0" * 100),))
    assert len(messages) > 1
    for message in messages:
        descriptions = [e.description or "" for e in message.embeds]
        assert all(len(d) <= DESCRIPTION_LIMIT for d in descriptions)
        assert sum(map(len, descriptions)) <= MESSAGE_EMBED_TOTAL
        assert 0 < len(message.embeds) <= EMBEDS_PER_MESSAGE
    sent = "\n".join(e.description or "" for m in messages for e in m.embeds)
    assert sent.split("\n") == text.split("\n")
    first = messages[0]
    assert first.embeds[0].image.url == "attachment://a.png"
    assert [f.filename for f in first.files()] == ["a.png"]
    assert all(not m.images for m in messages[1:])


def test_chart_over_the_upload_limit_is_left_out_with_a_note() -> None:
    big = Image("big.png", b"0" * 2_000_000)
    small = Image("small.png", b"1" * 1000)
    (message,) = build_messages("caption", (big, small), upload_limit=1_000_000)
    assert [i.filename for i in message.images] == ["small.png"]
    assert "big.png" in (message.embeds[0].description or "")
    assert "upload limit" in (message.embeds[0].description or "")


def _http_error(cls: type[discord.HTTPException], status: int) -> discord.HTTPException:
    response = SimpleNamespace(status=status, reason="x")
    return cls(response, {"code": 1, "message": "nope"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_http_error(discord.NotFound, 404), ChatGone),
        (_http_error(discord.Forbidden, 403), PermanentDeliveryError),
        (_http_error(discord.DiscordServerError, 502), TemporaryDeliveryError),
        (_http_error(discord.HTTPException, 429), TemporaryDeliveryError),
        (_http_error(discord.HTTPException, 400), PermanentDeliveryError),
        (aiohttp.ClientConnectionError(), TemporaryDeliveryError),
        (TimeoutError(), TemporaryDeliveryError),
    ],
)
def test_delivery_error_mapping(exc: BaseException, expected: type[Exception]) -> None:
    error = delivery_error("123", exc)
    assert type(error) is expected
    assert error.chat_id == "123"
