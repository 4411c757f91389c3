"""Fault suite, platform side: pushed alerts from the real Scheduler (sim market, fake clock)
through the real adapters — PTB against the loopback fake Telegram, discord.py against the
loopback fake Discord — while the platform refuses some sends.

An alert is identified in the message by a ``[rule@transition]`` tag the render function
puts in front of the real template text; "in order" means each chat receives its alerts in
the order the scheduler fired them (the fault-free control chat's sequence, which is also
chronological).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from bot.adapters.discord.adapter import DiscordAdapter
from bot.adapters.discord.lib import discord
from bot.adapters.telegram.adapter import TelegramAdapter
from bot.analysis.service import MarketService
from bot.config.settings import AlertSettings
from bot.market.sim_source import DEFAULT_START_MS, SimSource
from bot.notify.alerts import RULE_NAMES
from bot.notify.outlets import Outlet
from bot.notify.scheduler import Scheduler
from bot.reply import RANGES, Platform, Reply
from bot.reply.text import render_reply
from bot.state.records import AlertEvent, RuleState
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from tests.fakes.fake_discord import Call as DiscordCall
from tests.fakes.fake_discord import FakeDiscord, forbidden, rate_limited
from tests.fakes.fake_telegram import FakeTelegram, Fault

BTC = "BTC/USDT:USDT"
CANDLE = 300_000
NO_COOLDOWN = AlertSettings.model_validate({"cooldown": "0s"})
TG_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
DC_TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMg.GfakeX.abcdefghijklmnopqrstuvwxyz0123456789AB"
_TAG = re.compile(r"\[(\w+@\d+)\]")


class FakeClock:
    """Unix ms on the sim market; moves only when the scheduler sleeps."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += round(seconds * 1000)
        await asyncio.sleep(0)


def tagged(reply: Reply, platform: Platform) -> str:
    """The real template text, with the alert's identity in front."""
    text = render_reply(reply, platform)
    if reply.template != "alert":
        return text
    return f"[{reply.context['rule']}@{reply.context['transition']}] {text}"


def tags(texts: list[str]) -> list[str]:
    found = [_TAG.search(t) for t in texts]
    return [m.group(1) for m in found if m is not None]


def chronological(sequence: list[str]) -> bool:
    times = [int(tag.partition("@")[2]) for tag in sequence]
    return times == sorted(times)


def market(outlets: list[Outlet]) -> tuple[Scheduler, Subscriptions, FakeClock]:
    """The real scheduler and service on the 300-candle sim market, charts off (speed)."""
    clock = FakeClock(DEFAULT_START_MS + 150 * CANDLE)
    store = Store(":memory:")
    service = MarketService(
        {"sim": SimSource(candles=300)}, store, clock=clock, lookback_ms=2 * 86_400_000
    )
    subs = Subscriptions(store)
    scheduler = Scheduler(
        service,
        subs,
        outlets,
        alert_settings=NO_COOLDOWN,
        every_ms=CANDLE,
        jitter=0.0,
        range_=RANGES[0],
        attach_charts=False,
        clock=clock,
        sleep=clock.sleep,
    )
    return scheduler, subs, clock


def subscribe(subs: Subscriptions, platform: str, chat: str) -> None:
    """Every rule, with thresholds that make the sim market cross them a few times."""
    subs.subscribe(platform, chat, BTC, list(RULE_NAMES))
    subs.set_setting(platform, chat, "imbalance", "on", 1.15)
    subs.set_setting(platform, chat, "cluster", "on", 0.05)


# --- Telegram -----------------------------------------------------------------------------

RATE = 1001  # 429 twice: PTB's limiter waits out one, the adapter the other (retry_after)
BLOCKED = 1002  # 403: the bot was blocked
GROUP, SUPERGROUP = -1003, -1009003  # upgraded to a supergroup
BROKEN = 1004  # 400 on its first alert
CONTROL = 1005  # no fault


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[FakeTelegram, TelegramAdapter]]:
    async with FakeTelegram(TG_TOKEN, poll_cap=0.2) as fake:
        adapter = TelegramAdapter(
            TG_TOKEN,
            _NoCommands(),
            tagged,
            api_base_url=fake.api_base_url,
            poll_timeout=1,
            max_retries=1,
        )
        await adapter.start()
        try:
            yield fake, adapter
        finally:
            await adapter.stop()


class _NoCommands:
    """These tests only push; nobody types commands."""

    def menu(self) -> list[tuple[str, str]]:
        return []

    def get(self, name: str) -> None:
        return None

    async def run(self, line: str, ctx: object, *, bot_username: str | None = None) -> None:
        return None


def _sent_to(fake: FakeTelegram, chat: int, *, ok_only: bool = True) -> list[str]:
    return [
        c.params.get("text", "")
        for c in fake.calls_of("sendMessage", ok_only=ok_only)
        if c.params.get("chat_id") == str(chat)
    ]


async def test_telegram_faults_on_pushed_alerts(
    telegram: tuple[FakeTelegram, TelegramAdapter],
) -> None:
    fake, adapter = telegram
    scheduler, subs, _ = market([adapter])
    for chat in (RATE, BLOCKED, GROUP, BROKEN, CONTROL):
        subscribe(subs, "telegram", str(chat))
    fake.fail("sendMessage", Fault.retry_after(1), times=2, chat_id=RATE)
    fake.fail("sendMessage", Fault.forbidden(), chat_id=BLOCKED)
    fake.fail("sendMessage", Fault.migrated(SUPERGROUP), chat_id=GROUP)
    fake.fail("sendMessage", Fault.bad_request("Bad Request: not enough rights"), chat_id=BROKEN)

    await scheduler.run(cycles=110)  # nothing escapes the scheduler

    expected = tags(_sent_to(fake, CONTROL))
    assert len(expected) >= 4 and chronological(expected)
    # 429: waited out by the adapter (retry_after), nothing lost, nothing reordered
    assert tags(_sent_to(fake, RATE)) == expected
    assert len(_sent_to(fake, RATE, ok_only=False)) == len(expected) + 2
    # 403: one refused send, then the chat is forgotten; the others were still served
    assert _sent_to(fake, BLOCKED) == [] and len(_sent_to(fake, BLOCKED, ok_only=False)) == 1
    assert subs.for_chat("telegram", str(BLOCKED)) == []
    # ChatMigrated: the subscription moved and every alert reached the supergroup
    assert tags(_sent_to(fake, SUPERGROUP)) == expected
    assert subs.for_chat("telegram", str(GROUP)) == []
    assert {s.rule for s in subs.for_chat("telegram", str(SUPERGROUP))} == set(RULE_NAMES)
    assert len(_sent_to(fake, GROUP, ok_only=False)) == 1
    # 400: that alert failed once (no retry storm); the following ones got through, in order
    assert tags(_sent_to(fake, BROKEN)) == expected[1:]
    assert len(_sent_to(fake, BROKEN, ok_only=False)) == len(expected)
    counters = scheduler.counters
    assert (counters.dropped_chats, counters.moved_chats) == (1, 1)
    assert adapter.delivery_stats.retried >= 1  # a 429 retried in the send (PTB waited one)
    counts = subs.alert_counts()
    with subs.store.locked() as conn:
        undelivered = conn.execute(
            "SELECT key, error FROM sent_alerts WHERE status = 'failed'"
        ).fetchall()
    by_chat: dict[str, list[str]] = {}
    for key, error in undelivered:
        by_chat.setdefault(key.split("|")[1], []).append(error)
    # the 403 fails its alert and every alert queued behind it in that chat's lane (never
    # sent: one request above); the 400 fails its one alert
    assert set(by_chat) == {str(BLOCKED), str(BROKEN)}
    assert by_chat[str(BLOCKED)] and all(e == "chat gone" for e in by_chat[str(BLOCKED)])
    assert len(by_chat[str(BROKEN)]) == 1 and "not enough rights" in by_chat[str(BROKEN)][0].lower()
    assert counts.get("failed") == len(undelivered)
    assert counts.get("retry", 0) == counts.get("pending", 0) == 0
    assert counts["delivered"] == 4 * len(expected) - 1


class _Recorder:
    """An outlet that records what it was given, for the retry-order check."""

    platform: Platform = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, chat_id: str, reply: Reply) -> None:
        self.sent.append((chat_id, str(reply.context["rule"])))

    async def post_thread(self, chat_id: str, title: str, posts: object) -> None:
        raise AssertionError("no threads here")


async def test_alerts_refused_together_are_retried_in_firing_order() -> None:
    """Two alerts of one cycle (cluster, then cascade) both wait for a retry: the next cycle
    sends them as they fired, not in the store's key order (alphabetical: cascade first)."""
    outlet = _Recorder()
    scheduler, subs, clock = market([outlet])
    events = [
        AlertEvent(rule, BTC, "sim", clock() - CANDLE, 100.0, "card", {})
        for rule in ("cluster", "cascade")  # the order RULES evaluates them in
    ]
    for event in events:
        key = subs.claim("telegram", "7", event, RuleState(), now=clock(), cooldown_ms=0)
        assert key is not None
        subs.mark(key, "retry", now=clock(), error="429")
    await scheduler.run_once()
    assert outlet.sent == [("7", "cluster"), ("7", "cascade")]


# --- Discord ------------------------------------------------------------------------------

ADMIN_CHANNEL = 1300000000000000099
CHANNELS = (1300000000000000005, 1300000000000000006, 1300000000000000007)


@pytest.fixture
def restore_discord_urls() -> Iterator[None]:
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@dataclass
class _NoSpecs:
    specs: tuple[object, ...] = ()


def _text(call: DiscordCall) -> str:
    return str(call.json["embeds"][0]["description"])


def _posted(fake: FakeDiscord, channel: int) -> list[str]:
    path = f"/channels/{channel}/messages"
    return [_text(c) for c in fake.calls_of("message") if c.path == path]


@pytest.mark.usefixtures("restore_discord_urls")
async def test_discord_faults_on_pushed_alerts() -> None:
    async with FakeDiscord(DC_TOKEN) as fake:
        adapter = DiscordAdapter(
            DC_TOKEN,
            _NoSpecs(),  # type: ignore[arg-type]
            tagged,
            api_base_url=fake.api_base_url,
            gateway_url=fake.gateway_url,
            admin_channel_id=ADMIN_CHANNEL,
            guild_ready_timeout=0.1,
        )
        await adapter.start()
        try:
            scheduler, subs, _ = market([adapter])
            for channel in CHANNELS:
                subscribe(subs, "discord", str(channel))
            await scheduler.run(cycles=1)  # the first alerts go out unharmed

            async def until_refused(status: int) -> None:
                """Cycle until the armed fault has met an alert post (alerts fire when the
                market gives them a reason, not on a schedule), then a few cycles more."""
                for _ in range(300):
                    if status in [c.status for c in fake.calls_of("message", ok_only=False)]:
                        break
                    await scheduler.run(cycles=1)
                await scheduler.run(cycles=5)

            fake.fail("message", rate_limited(0.2))  # the next alert post is refused once
            await until_refused(429)
            fake.fail("message", forbidden())  # and a later one for good
            await until_refused(403)  # nothing escapes the scheduler
            await scheduler.run(cycles=20)
            assert adapter.client.is_ready()
        finally:
            await adapter.stop()

    calls = fake.calls_of("message", ok_only=False)
    statuses = [c.status for c in calls]
    assert statuses.count(429) == 1 and statuses.count(403) == 1
    # 429: discord.py waited it out and posted the same alert to the same channel next
    # (other channels' posts may come in between: channels are served concurrently)
    limited = statuses.index(429)
    again = next(c for c in calls[limited + 1 :] if c.path == calls[limited].path)
    assert again.status == 200 and _text(again) == _text(calls[limited])
    # 403 Missing Permissions: that alert is lost and failed, reported to the admin channel
    refused = calls[statuses.index(403)]
    victim = int(refused.path.split("/")[2])
    (lost,) = tags([_text(refused)])
    (report,) = _posted(fake, ADMIN_CHANNEL)
    assert f"<#{victim}>" in report and "Missing Permissions" in report
    assert subs.alert_counts().get("failed") == 1
    assert scheduler.counters.dropped_chats == 0  # a permission problem is not a gone channel
    assert {s.chat_id for s in subs.subscribers(BTC, "imbalance")} == {str(c) for c in CHANNELS}
    # every channel got every alert in firing order, except the one refused alert
    others = [c for c in CHANNELS if c != victim]
    expected = tags(_posted(fake, others[0]))
    assert len(expected) >= 4 and chronological(expected) and lost in expected
    assert tags(_posted(fake, others[1])) == expected
    assert tags(_posted(fake, victim)) == [t for t in expected if t != lost]
