"""A follow-up is a reply to its alert's message: Telegram ``reply_parameters`` and a Discord
message reference — real PTB and discord.py clients against the loopback fakes, which refuse
a reply to a message they do not know unless the client says to post it anyway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

import pytest

from bot.adapters.discord.lib import discord
from bot.adapters.telegram.adapter import TelegramAdapter
from bot.notify.retry import RetryPolicy
from bot.reply import CallContext, Reply
from bot.reply.text import render_reply
from bot.state.store import Store
from tests.bot.adapters.discord.harness import CHANNEL, Harness, live_bot
from tests.bot.notify.followup_fixtures import (
    BTC,
    CANDLE,
    HORIZON,
    T0,
    VENUE,
    alert,
    cluster_alert,
    rising,
    series,
    start_bot,
)
from tests.fakes.fake_telegram import ApiCall, FakeTelegram

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHAT = -1001234567890


class NoCommands:
    def menu(self) -> Sequence[tuple[str, str]]:
        return []

    def get(self, name: str) -> None:
        return None

    async def run(
        self, line: str, ctx: CallContext, *, bot_username: str | None = None
    ) -> Reply | None:
        return None


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[FakeTelegram, TelegramAdapter]]:
    async with FakeTelegram(TOKEN, poll_cap=0.2) as fake:
        adapter = TelegramAdapter(
            TOKEN,
            NoCommands(),
            render_reply,
            api_base_url=fake.api_base_url,
            poll_timeout=1,
            max_retries=0,
            alert_policy=RetryPolicy(0.0),
        )
        await adapter.start()
        try:
            yield fake, adapter
        finally:
            await adapter.stop()


@pytest.fixture
def restore_discord_urls() -> Iterator[None]:
    """discord.py keeps its API base and gateway URL process-wide: put them back."""
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


def sent(fake: FakeTelegram) -> list[ApiCall]:
    return [c for c in fake.calls if c.method in ("sendmessage", "sendphoto") and c.ok]


async def test_telegram_followup_replies_to_the_alert_message(
    telegram: tuple[FakeTelegram, TelegramAdapter],
) -> None:
    fake, adapter = telegram
    with Store(":memory:") as store:
        bot = start_bot(store, adapter)
        await alert(bot, str(CHAT), cluster_alert())
        (alert_call,) = sent(fake)
        assert "reply_parameters" not in alert_call.params
        store.save_series(VENUE, BTC, "5m", series(T0, rising()))
        bot.clock[0] = T0 + HORIZON + CANDLE
        assert await bot.followups.cycle() == 1
    _, followup = sent(fake)
    to = followup.json("reply_parameters")
    assert to["message_id"] == alert_call.result["message_id"]
    assert to["allow_sending_without_reply"] is True  # a deleted alert does not lose it
    assert followup.params["chat_id"] == str(CHAT)
    assert "What happened next" in followup.params["text"]


async def test_telegram_followup_to_a_deleted_alert_is_still_posted(
    telegram: tuple[FakeTelegram, TelegramAdapter],
) -> None:
    fake, adapter = telegram
    with Store(":memory:") as store:
        bot = start_bot(store, adapter)
        key = await alert(bot, str(CHAT), cluster_alert())
        with store.locked(write=True) as conn:  # the alert message was deleted in the chat
            conn.execute("UPDATE followups SET message_id = '999999' WHERE key = ?", (key,))
        store.save_series(VENUE, BTC, "5m", series(T0, rising()))
        bot.clock[0] = T0 + HORIZON + CANDLE
        assert await bot.followups.cycle() == 1
        assert bot.subs.alert_counts() == {"delivered": 2}
    assert sent(fake)[-1].json("reply_parameters")["message_id"] == 999999


@pytest.fixture
async def discord_bot(restore_discord_urls: None) -> AsyncIterator[Harness]:
    async with live_bot() as harness:
        yield harness


async def test_discord_followup_references_the_alert_message(discord_bot: Harness) -> None:
    fake, adapter = discord_bot.fake, discord_bot.adapter
    with Store(":memory:") as store:
        bot = start_bot(store, adapter)
        await alert(bot, str(CHANNEL), cluster_alert(), platform="discord")
        (alert_call,) = fake.calls_of("message")
        assert "message_reference" not in (alert_call.json or {})
        store.save_series(VENUE, BTC, "5m", series(T0, rising()))
        bot.clock[0] = T0 + HORIZON + CANDLE
        assert await bot.followups.cycle() == 1
    _, followup = fake.calls_of("message")
    (alert_id, followup_id) = fake.posted  # ids in posting order
    ref = followup.json["message_reference"]
    assert str(ref["message_id"]) == alert_id != followup_id
    assert ref["fail_if_not_exists"] is False
    assert followup.path == f"/channels/{CHANNEL}/messages"
    assert "What happened next" in followup.json["embeds"][0]["description"]
    assert fake.take_violations() == []


async def test_the_fakes_refuse_a_reply_to_an_unknown_message_unless_told_to_post_anyway(
    telegram: tuple[FakeTelegram, TelegramAdapter], discord_bot: Harness
) -> None:
    """What makes the two tests above able to fail: a strict reply check in each fake."""
    from telegram import ReplyParameters
    from telegram.error import BadRequest

    _, adapter = telegram
    with pytest.raises(BadRequest, match="replied not found"):
        await adapter._app.bot.send_message(CHAT, "x", reply_parameters=ReplyParameters(424242))
    channel = discord_bot.adapter.client.get_partial_messageable(CHANNEL)
    unknown = discord.MessageReference(message_id=424242, channel_id=CHANNEL)
    with pytest.raises(discord.HTTPException):
        await channel.send("x", reference=unknown)
    (refused,) = discord_bot.fake.take_violations()
    assert refused.status == 400
