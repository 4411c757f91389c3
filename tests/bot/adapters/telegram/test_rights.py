"""Admin rights in Telegram groups, through a real PTB ``Application`` against the loopback
fake Bot API and the real command layer: a refusal is not followed by a "Usage:" line, and a
``getChatMember`` that fails says the rights could not be checked — not "only admins"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.adapters.telegram.adapter import TelegramAdapter
from bot.analysis.service import MarketService
from bot.commands.alert_cmds import GROUP_ADMIN_ONLY
from bot.commands.catalog import build_commands
from bot.commands.spec import RIGHTS_UNCHECKED
from bot.market.sim_source import DEFAULT_START_MS, SimSource
from bot.reply.text import render_reply
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from core.models import timeframe_ms
from tests.fakes.clock import FakeMonotonic
from tests.fakes.fake_telegram import FakeTelegram, Fault, visible_html

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
GROUP = -100888
ADMIN, MEMBER = 77, 66
CANDLES = 300


@dataclass
class Live:
    fake: FakeTelegram
    subs: Subscriptions
    time: FakeMonotonic


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    store = Store(":memory:")
    service = MarketService(
        {"sim": SimSource(candles=CANDLES)},
        store,
        clock=lambda: DEFAULT_START_MS + CANDLES * timeframe_ms("5m"),
        lookback_ms=CANDLES * timeframe_ms("5m"),
    )
    subs = Subscriptions(store)
    clock = FakeMonotonic()
    try:
        async with FakeTelegram(TOKEN, poll_cap=0.2) as fake:
            fake.chat_admins[GROUP] = {ADMIN}
            adapter = TelegramAdapter(
                TOKEN,
                build_commands(service, subscriptions=subs),
                render_reply,
                api_base_url=fake.api_base_url,
                poll_timeout=1,
                sleep=clock.sleep,
                clock=clock,
            )
            await adapter.start()
            try:
                yield Live(fake, subs, clock)
            finally:
                await adapter.stop()
    finally:
        store.close()


async def _answer(live: Live, line: str, user: int) -> str:
    live.fake.inject_command(line, chat_id=GROUP, chat_type="supergroup", user_id=user)
    (sent,) = await live.fake.wait_for("sendMessage")
    return visible_html(sent.params["text"])


async def test_a_member_is_refused_without_a_usage_line(live: Live) -> None:
    text = await _answer(live, "/subscribe BTC", MEMBER)
    assert GROUP_ADMIN_ONLY in text
    assert "Usage:" not in text and "Example:" not in text  # it was no typing mistake
    assert live.subs.for_chat("telegram", str(GROUP)) == []


async def test_a_failed_admin_lookup_says_so_and_asks_to_try_again(live: Live) -> None:
    live.fake.fail("getChatMember", Fault.server_error(), times=3)
    text = await _answer(live, "/subscribe BTC", ADMIN)  # an admin — whom Telegram did not confirm
    assert RIGHTS_UNCHECKED in text
    assert "Only admins" not in text and "Usage:" not in text
    # retried briefly (1 s, 2 s backoff) within the lookup's few seconds, then given up
    assert [c.status for c in live.fake.calls_of("getChatMember", ok_only=False)] == [500] * 3
    assert live.time.slept == [1.0, 2.0]
    assert live.subs.for_chat("telegram", str(GROUP)) == []
    # the next try, with Telegram answering again, goes through
    text = await _answer(live, "/subscribe BTC imbalance", ADMIN)
    assert "Subscribed" in text
    assert [s.rule for s in live.subs.for_chat("telegram", str(GROUP))] == ["imbalance"]


async def test_one_failed_lookup_is_retried_and_the_command_runs(live: Live) -> None:
    live.fake.fail("getChatMember", Fault.bad_gateway())
    text = await _answer(live, "/settings imbalance silent", ADMIN)
    assert "Updated imbalance" in text
    assert [c.status for c in live.fake.calls_of("getChatMember", ok_only=False)] == [502, 200]
