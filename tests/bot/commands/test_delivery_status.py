"""/status reports delivery problems: alerts not delivered (last 24 h) by what became of them,
replies given up (since start-up), and the last of each — when, where, why."""

from __future__ import annotations

from bot.analysis.service import MarketService
from bot.commands.catalog import build_commands
from bot.commands.delivery_status import WINDOW_MS
from bot.commands.registry import Commands
from bot.notify.retry import DeliveryProblem, DeliveryStats
from bot.reply import CallContext
from bot.reply.text import render_reply
from bot.state.records import AlertEvent, RuleState
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from tests.fakes.market_service import FakeEngine, FakeSource

NOW = 1_800_000_000_000
MINUTE = 60_000
HERE = CallContext("telegram", "100", "100")
ADMIN = CallContext("telegram", "300", "300", is_admin=True)
STRANGER = CallContext("discord", "400", "400")


def build(stats: DeliveryStats | None) -> tuple[Commands, Subscriptions]:
    store = Store(":memory:")
    service = MarketService(
        {"binanceusdm": FakeSource("binanceusdm")},
        store,
        engine=FakeEngine(render_seconds=0),
        clock=lambda: NOW,
    )
    subs = Subscriptions(store)
    return build_commands(service, subscriptions=subs, delivery_stats=stats), subs


def alert(
    subs: Subscriptions, chat: str, n: int, status: str, *, at: int, error: str | None = None
) -> None:
    event = AlertEvent("imbalance", "BTC/USDT:USDT", "all", n, 90_000.0, "card", {})
    key = subs.claim("telegram", chat, event, RuleState(False, n), now=at, cooldown_ms=0)
    assert key is not None
    subs.mark(key, status, now=at, error=error)


async def status(commands: Commands, ctx: CallContext) -> str:
    reply = await commands.run("/status", ctx)
    assert reply is not None and not reply.is_error
    return render_reply(reply, "console")


async def test_undelivered_alerts_and_lost_replies_with_the_last_of_each() -> None:
    stats = DeliveryStats()
    commands, subs = build(stats)
    alert(subs, "100", 1, "delivered", at=NOW - 9 * MINUTE)
    alert(subs, "200", 2, "unconfirmed", at=NOW - 8 * MINUTE, error="200: no answer: Timed out")
    alert(subs, "200", 3, "unconfirmed", at=NOW - 7 * MINUTE, error="200: sent, no answer")
    alert(subs, "100", 4, "abandoned", at=NOW - 6 * MINUTE)
    alert(subs, "100", 5, "failed", at=NOW - 5 * MINUTE, error="100: Too Many Requests")
    too_old = NOW - WINDOW_MS - MINUTE  # claimed before the window: not counted
    event = AlertEvent("oi", "BTC/USDT:USDT", "all", 6, 90_000.0, "card", {})
    key = subs.claim("telegram", "100", event, RuleState(False, 6), now=too_old, cooldown_ms=0)
    assert key is not None
    subs.mark(key, "unconfirmed", now=too_old)
    stats.record(DeliveryProblem(1.0, "telegram", "200", "reply", "gave up", "gave up after 3"))
    why = "gave up after 3 tries (deadline 60 s): Too Many Requests"
    stats.record(DeliveryProblem(2.0, "telegram", "100", "reply", "gave up", why))
    stats.record(DeliveryProblem(3.0, "telegram", "100", "alert", "unconfirmed", "in a send"))

    body = await status(commands, HERE)
    assert "Data status" in body  # the market lines are still there, before
    assert body.index("Data status") < body.index("Delivery")
    assert (
        "Alerts not delivered (last 24h): 2 sent with no answer (not re-sent), 1 given up, "
        "1 lost in a restart" in body
    )
    # the last one is the failed alert (latest status change), in the caller's own chat
    assert "Last alert problem: 5m ago, telegram this chat — given up: Too Many Requests" in body
    assert "Replies given up (since start-up): 2" in body  # replies only, not the alert
    assert "Last reply problem: " in body and f"telegram this chat — {why}" in body

    elsewhere = await status(commands, STRANGER)  # someone else's chats are not named
    assert "telegram another chat — given up" in elsewhere and "chat 100" not in elsewhere
    admin = await status(commands, ADMIN)
    assert "telegram chat 100 — given up" in admin and "100: " not in admin


async def test_nothing_to_report_and_no_reply_line_without_adapter_stats() -> None:
    commands, subs = build(DeliveryStats())
    alert(subs, "100", 1, "delivered", at=NOW - MINUTE)
    body = await status(commands, HERE)
    assert "Alerts: no delivery problems (last 24h)" in body
    assert "Replies given up (since start-up): 0" in body and "Last" not in body
    console, _ = build(None)  # no adapter reports replies (the console)
    body = await status(console, HERE)
    assert "Delivery" in body and "Replies" not in body
