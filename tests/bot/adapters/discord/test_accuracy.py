"""/accuracy as a slash command through the real discord.py adapter against the strict fake
Discord: deferred, then a follow-up with the chart attached to an embed whose description is
the scorecard in Markdown — with a small sample and a large one. The fake fails the test on
anything real Discord would refuse (embed limits, attachments, component ids)."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image as PilImage

from bot.adapters.discord.lib import discord
from bot.state.scorecard import WINDOWS, ScoreBook
from bot.state.store import Store
from tests.bot.adapters.discord.harness import Harness, buttons, followups, for_token
from tests.bot.commands.scorecard_data import SYMBOL, fill


async def _answer(live: Harness, options: dict[str, Any]) -> tuple[bytes, str, dict[str, Any]]:
    token = await live.fake.inject("accuracy", options)
    (callback,) = for_token(await live.fake.wait_for("callback"), token)
    assert callback.json["type"] == 5  # deferred: the scorecard reads the store, draws a chart
    (follow,) = await followups(live.fake, token)
    payload = follow.json
    assert not payload.get("flags", 0) & 64  # public
    (png,) = follow.files.values()
    embed = payload["embeds"][0]
    assert embed["image"]["url"] == f"attachment://{payload['attachments'][0]['filename']}"
    text = "\n".join(e.get("description", "") for e in payload["embeds"])
    assert len(text) <= 6000
    return png, text, payload


def _unescaped(text: str) -> str:
    return text.replace("\\", "")


async def test_a_small_sample_says_too_few_to_judge(live: Harness) -> None:
    fill(live.service.store, live.service.clock(), 12)  # type: ignore[arg-type]
    png, text, payload = await _answer(live, {"symbol": "BTC", "range": "24h"})
    with PilImage.open(io.BytesIO(png)) as image:
        image.load()
        assert image.format == "PNG" and image.size == (1280, 720)
    assert payload["attachments"][0]["filename"] == "btc-accuracy-24h.png"
    assert "**Accuracy** BTC · sim · 24h" in text
    assert "12 hours scored so far — too few to judge" in _unescaped(text)
    assert "beats chance" not in text
    shown = {b["label"]: b for b in buttons(payload)}
    assert shown["24h"]["style"] == 1 and "/accuracy BTC 7d" in shown["7d"]["custom_id"]


async def test_a_large_sample_is_judged_and_matches_the_scorecard(live: Harness) -> None:
    store: Store = live.service.store  # type: ignore[assignment]
    now = live.service.clock()
    fill(store, now, 14 * 24)
    _, text, _ = await _answer(live, {"symbol": "BTC"})  # the default range: 7d
    plain = _unescaped(text)
    assert "too few to judge (a verdict" not in plain
    book = ScoreBook(store)
    for side in ("long", "short"):
        for label in ("24h", "7d"):
            s = book.scorecard(SYMBOL, side, window_ms=WINDOWS[label], now=now)
            assert f"{label}: {s.hours:,} h scored ({s.hours_with_liquidations:,} with" in plain
            assert f"lift {s.lift:.2f}× (baseline {s.base_lift:.2f}×)" in plain
    assert "**Longs**" in text and "**Shorts**" in text
    assert "beats chance" in plain
    assert discord.utils.escape_markdown("bins nearest the price") in text or (
        "bins nearest the price" in text
    )
