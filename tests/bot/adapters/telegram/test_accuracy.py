"""/accuracy through the real Telegram adapter against the loopback fake Bot API: the chart as
a photo, the scorecard as HTML (caption, and the rest as a follow-up when it is long), with a
small sample and a large one."""

from __future__ import annotations

import asyncio
import html
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from PIL import Image as PilImage

from bot.adapters.telegram.text import utf16_len
from bot.commands.catalog import build_commands
from bot.reply.text import render_reply
from bot.state.scorecard import WINDOWS, ScoreBook
from bot.state.store import Store
from tests.bot.adapters.telegram.adapter_fixtures import Harness, running, sim_service
from tests.bot.commands.scorecard_data import SYMBOL, fill
from tests.fakes.fake_telegram import FakeTelegram


@pytest.fixture
async def live() -> AsyncIterator[Harness]:
    service = sim_service()
    try:
        async with running(build_commands(service), render_reply, service=service) as harness:
            yield harness
    finally:
        service.store.close()  # type: ignore[attr-defined]


async def _answer(fake: FakeTelegram, line: str) -> tuple[bytes, str, Any]:
    """(PNG, caption + follow-ups as one text, the photo's reply markup) of one command."""
    fake.inject_command(line)
    (photo,) = await fake.wait_for("sendPhoto", within=30)
    await asyncio.sleep(0.3)  # a long scorecard continues in a follow-up message
    texts = [photo.params["caption"], *(c.params["text"] for c in fake.calls_of("sendMessage"))]
    assert utf16_len(photo.params["caption"]) <= 1024
    assert photo.params["parse_mode"] == "HTML"
    return photo.files["photo"], "\n".join(texts), photo.json("reply_markup")


def _png_ok(png: bytes) -> None:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with PilImage.open(io.BytesIO(png)) as image:
        image.load()
        assert image.size == (1280, 720)


async def test_a_small_sample_says_too_few_to_judge(live: Harness) -> None:
    assert live.service is not None
    fill(live.service.store, live.service.clock(), 12)  # type: ignore[arg-type]
    png, text, markup = await _answer(live.fake, "/accuracy BTC 24h")
    _png_ok(png)
    assert "<b>Accuracy</b> BTC · sim · 24h" in text
    assert "12 hours scored so far — too few to judge" in text
    assert "beats chance" not in text
    labels = [b["text"] for row in markup["inline_keyboard"] for b in row]
    assert "• 24h" in labels and "7d" in labels


async def test_a_large_sample_is_judged_and_matches_the_scorecard(live: Harness) -> None:
    assert live.service is not None
    store: Store = live.service.store  # type: ignore[assignment]
    now = live.service.clock()
    fill(store, now, 14 * 24)
    png, text, _ = await _answer(live.fake, "/accuracy BTC 7d")
    _png_ok(png)
    assert "too few to judge (a verdict" not in text
    book = ScoreBook(store)
    for side in ("long", "short"):
        week = book.scorecard(SYMBOL, side, window_ms=WINDOWS["7d"], now=now)
        assert week.hours == 7 * 24
        assert f"7d: {week.hours:,} h scored ({week.hours_with_liquidations:,} with" in text
        assert html.escape(f"lift {week.lift:.2f}× (baseline {week.base_lift:.2f}×)") in text
    assert "<b>Longs</b>" in text and "<b>Shorts</b>" in text
    assert "beats chance" in text
