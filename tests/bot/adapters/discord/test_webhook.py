"""Webhook mode against the loopback fake Discord: alerts, threads, forum posts, 429s, and
``api_base_url`` honoured per outlet without touching discord.py's process-wide base."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import aiohttp
import pytest
from PIL import Image as PilImage

from bot.adapters.discord.lib import discord
from bot.adapters.discord.webhook import DiscordWebhookOutlet
from bot.notify.outlets import Outlet, TemporaryDeliveryError
from bot.reply import Image, Platform, Reply
from tests.fakes.fake_discord import FakeDiscord, rate_limited

WEBHOOK_ID = 1500000000000000001
WEBHOOK_TOKEN = "wh-" + "x" * 65


def _render(reply: Reply, platform: Platform) -> str:
    return f"{platform}: {reply.context['text']}"


def _png() -> bytes:
    out = io.BytesIO()
    PilImage.new("RGB", (40, 30), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def hook() -> AsyncIterator[tuple[FakeDiscord, DiscordWebhookOutlet]]:
    async with FakeDiscord("unused") as fake, aiohttp.ClientSession() as session:
        outlet = DiscordWebhookOutlet(
            fake.webhook_url(WEBHOOK_ID, WEBHOOK_TOKEN),
            session,
            _render,
            api_base_url=fake.api_base_url,
        )
        yield fake, outlet


async def test_is_an_outlet(hook: tuple[FakeDiscord, DiscordWebhookOutlet]) -> None:
    assert isinstance(hook[1], Outlet) and hook[1].platform == "discord"


async def test_alert_goes_out_with_its_chart(
    hook: tuple[FakeDiscord, DiscordWebhookOutlet],
) -> None:
    fake, outlet = hook
    png = _png()
    await outlet.send("alerts", Reply("alert", {"text": "BTC squeeze"}, (Image("c.png", png),)))
    (call,) = fake.calls_of("webhook")
    assert call.path == f"/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"
    assert call.query.get("wait") in ("1", "true")  # answer with the message
    assert "Authorization" not in call.headers  # no bot token in webhook mode
    embed = call.json["embeds"][0]
    assert embed["description"] == "discord: BTC squeeze"
    assert embed["image"]["url"] == "attachment://c.png"
    assert list(call.files.values()) == [png]


async def test_rate_limit_with_via_is_waited_out(
    hook: tuple[FakeDiscord, DiscordWebhookOutlet],
) -> None:
    fake, outlet = hook
    fake.fail("webhook", rate_limited(0.2))
    await outlet.send("alerts", Reply("alert", {"text": "one"}))
    await outlet.send("alerts", Reply("alert", {"text": "two"}))
    statuses = [c.status for c in fake.calls_of("webhook", ok_only=False)]
    assert statuses == [429, 200, 200]
    assert [c.json["embeds"][0]["description"][-3:] for c in fake.calls_of("webhook")] == [
        "one",
        "two",
    ]


async def test_rate_limit_without_via_is_a_temporary_error(
    hook: tuple[FakeDiscord, DiscordWebhookOutlet],
) -> None:
    fake, outlet = hook
    fault = rate_limited(0.2)
    del fault.headers["Via"]  # not from Discord's edge (e.g. a Cloudflare ban): not retried
    fake.fail("webhook", fault)
    with pytest.raises(TemporaryDeliveryError):
        await outlet.send("alerts", Reply("alert", {"text": "one"}))


async def test_thread_posts_follow_in_order(hook: tuple[FakeDiscord, DiscordWebhookOutlet]) -> None:
    fake, outlet = hook
    posts = [Reply("post", {"text": f"part {i}"}) for i in range(3)]
    await outlet.post_thread("alerts", "BTC structure", posts)
    texts = [c.json["embeds"][0]["description"] for c in fake.calls_of("webhook")]
    assert texts == [f"discord: part {i}" for i in range(3)]
    assert not fake.calls_of("thread")


async def test_forum_thread_is_named_then_filled(
    hook: tuple[FakeDiscord, DiscordWebhookOutlet],
) -> None:
    fake, _ = hook
    async with aiohttp.ClientSession() as session:
        outlet = DiscordWebhookOutlet(
            fake.webhook_url(WEBHOOK_ID, WEBHOOK_TOKEN),
            session,
            _render,
            forum=True,
            api_base_url=fake.api_base_url,
        )
        posts = [Reply("post", {"text": f"part {i}"}) for i in range(3)]
        await outlet.post_thread("forum", "BTC structure", posts)
    first, *rest = fake.calls_of("webhook")
    assert first.json["thread_name"] == "BTC structure" and "thread_id" not in first.query
    thread_ids = {c.query.get("thread_id") for c in rest}
    assert len(rest) == 2 and len(thread_ids) == 1 and None not in thread_ids


async def test_the_base_url_is_this_outlets_own() -> None:
    """Two outlets, two servers; discord.py's process-wide base is never changed."""
    default = discord.http.Route.BASE
    async with (
        FakeDiscord("unused") as one,
        FakeDiscord("unused") as two,
        aiohttp.ClientSession() as session,
    ):
        outlets = [
            DiscordWebhookOutlet(
                f.webhook_url(WEBHOOK_ID, WEBHOOK_TOKEN), session, _render, api_base_url=base
            )
            for f, base in ((one, one.api_base_url), (two, two.api_base_url + "/"))
        ]
        assert default == discord.http.Route.BASE
        await outlets[0].send("alerts", Reply("alert", {"text": "to one"}))
        await outlets[1].send("alerts", Reply("alert", {"text": "to two"}))
        assert default == discord.http.Route.BASE
    assert [c.json["embeds"][0]["description"] for c in one.calls_of("webhook")] == [
        "discord: to one"
    ]
    assert [c.json["embeds"][0]["description"] for c in two.calls_of("webhook")] == [
        "discord: to two"
    ]


async def test_a_url_discord_py_cannot_read_names_the_setting() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ValueError, match=r"^discord\.webhook_url: not a Discord webhook URL"):
            DiscordWebhookOutlet("https://discord.com/api/webhooks/42/short", session, _render)
