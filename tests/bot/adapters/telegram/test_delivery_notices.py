"""What users hear about delivery, end to end: a real PTB ``Application`` against the loopback
fake Bot API, the real command layer and the real dispatcher on one store.

* A chat that blocked the bot (403 on an alert) loses its subscriptions; the next command
  there begins with the notice that they were removed and how to restore them — once.
* ``/status`` names the alerts sent without an answer (not re-sent) and the replies given up
  after the retry deadline, with the last of each.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from bot.adapters.telegram.adapter import TelegramAdapter
from bot.analysis.service import MarketService
from bot.commands.catalog import build_commands
from bot.market.sim_source import DEFAULT_START_MS, SimSource
from bot.notify.dispatch import Dispatcher
from bot.notify.retry import DeliveryStats
from bot.reply.text import render_reply
from bot.state.records import AlertEvent, RuleState
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from core.models import timeframe_ms
from tests.fakes.clock import FakeMonotonic
from tests.fakes.fake_telegram import FakeTelegram, Fault, visible_html

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CANDLES = 300
NOW = DEFAULT_START_MS + CANDLES * timeframe_ms("5m")
CHAT, OTHER, ADMIN = 5001, 5002, 42
CLIENT_TIMEOUT = 0.3
NUMBERS = {
    "ratio": 14.2,
    "threshold": 5.0,
    "short_above": 1.4e10,
    "long_below": 1e9,
    "heavy": "shorts above",
    "window": 0.1,
}


@dataclass
class Live:
    fake: FakeTelegram
    subs: Subscriptions
    stats: DeliveryStats
    dispatcher: Dispatcher


async def no_chart(event: AlertEvent) -> bytes | None:
    return None


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    store = Store(":memory:")
    service = MarketService(
        {"sim": SimSource(candles=CANDLES)},
        store,
        clock=lambda: NOW,
        lookback_ms=CANDLES * timeframe_ms("5m"),
    )
    subs = Subscriptions(store)
    stats = DeliveryStats()  # shared by the adapter and /status, as `liqwatch run` does
    time = FakeMonotonic()
    try:
        async with FakeTelegram(TOKEN, poll_cap=0.2) as fake:
            adapter = TelegramAdapter(
                TOKEN,
                build_commands(service, subscriptions=subs, delivery_stats=stats),
                render_reply,
                api_base_url=fake.api_base_url,
                admin_ids=[ADMIN],
                poll_timeout=1,
                read_timeout=CLIENT_TIMEOUT,
                sleep=time.sleep,
                clock=time,
                delivery_stats=stats,
            )
            dispatcher = Dispatcher(
                subs, {"telegram": adapter}, no_chart, clock=lambda: NOW, range_label="24h"
            )
            await adapter.start()
            try:
                yield Live(fake, subs, stats, dispatcher)
            finally:
                await adapter.stop()
    finally:
        store.close()


async def ask(live: Live, line: str, chat: int = CHAT) -> str:
    """The (visible) text of the bot's answer to ``line`` typed in ``chat``."""
    live.fake.inject_command(line, chat_id=chat, user_id=chat)
    (sent,) = await live.fake.wait_for("sendMessage")
    return visible_html(sent.params["text"])


async def push_alert(live: Live, chat: int, transition: int) -> None:
    event = AlertEvent("imbalance", "BTC/USDT:USDT", "sim", transition, 90_000.0, "card", NUMBERS)
    state = RuleState(False, transition)
    key = live.subs.claim("telegram", str(chat), event, state, now=NOW, cooldown_ms=0)
    assert key is not None
    live.dispatcher.submit("telegram", str(chat), key, event)
    await asyncio.wait_for(live.dispatcher.flush(), 30)


async def eventually(check: Callable[[], bool], within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_a_blocked_chat_is_told_once_that_its_alerts_were_removed(live: Live) -> None:
    assert "Subscribed" in await ask(live, "/subscribe BTC imbalance")
    assert "Subscribed" in await ask(live, "/subscribe ETH")
    live.fake.fail("sendMessage", Fault.forbidden(), chat_id=CHAT)
    await push_alert(live, CHAT, 1)
    assert live.subs.for_chat("telegram", str(CHAT)) == []  # 403: the chat was dropped

    first = await ask(live, "/alerts")  # the user unblocked the bot and came back
    assert "The alerts of this chat were removed" in first
    assert "bot was blocked by the user" in first
    assert "/subscribe BTC imbalance" in first and "/subscribe ETH\n" in first
    assert first.index("removed") < first.index("No subscriptions yet")
    second = await ask(live, "/alerts")
    assert "removed" not in second and "No subscriptions yet" in second


async def test_status_names_unanswered_alerts_and_replies_given_up(live: Live) -> None:
    live.fake.fail("sendMessage", Fault.slow(1.0), chat_id=OTHER)
    await push_alert(live, OTHER, 1)  # arrived, but the answer came after the client timeout
    assert len([c for c in live.fake.calls if c.params.get("chat_id") == str(OTHER)]) == 1
    live.fake.fail("sendMessage", Fault.retry_after(25), times=3, chat_id=CHAT)
    live.fake.inject_command("/start", chat_id=CHAT, user_id=CHAT)
    await eventually(lambda: live.stats.lost.get("reply") == 1)  # 25 s + 25 s, then past 60 s

    body = await ask(live, "/status")
    assert "Alerts not delivered (last 24h): 1 sent with no answer (not re-sent)" in body
    assert "Last alert problem: just now, telegram another chat — sent with no answer" in body
    assert "Replies given up (since start-up): 1" in body
    assert "telegram this chat — gave up after 3 tries (deadline 60 s)" in body
    admin = await ask(live, "/status", ADMIN)  # a configured admin sees which chat
    assert f"telegram chat {OTHER} — sent with no answer" in admin
    assert f"telegram chat {CHAT} — gave up after 3 tries" in admin
