"""A chat dropped because the bot could not reach it is told once, at its next command, that
its alerts were removed and how to restore them — also after a restart."""

from __future__ import annotations

from pathlib import Path

from bot.analysis.service import MarketService
from bot.commands.catalog import build_commands
from bot.commands.comeback import restore_lines
from bot.commands.registry import Commands
from bot.notify.alerts import RULE_NAMES
from bot.reply import CallContext, Reply
from bot.reply.text import PLATFORMS, render_reply
from bot.state.gone import GoneChat, GoneChats
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from tests.fakes.market_service import FakeEngine, FakeSource

CHAT = CallContext("telegram", "100", "100")
OTHER = CallContext("telegram", "200", "200")
SETUP = (
    "/subscribe BTC",
    "/subscribe ETH imbalance",
    "/subscribe ETH oi",
    "/settings imbalance silent 8",
    "/settings cluster 0.5%",
    "/settings prints $2.5M",
    "/settings cascade off",
)
BLOCKED = "Forbidden: bot was blocked by the user"


def commands_on(store: Store) -> tuple[Commands, Subscriptions]:
    service = MarketService(
        {"binanceusdm": FakeSource("binanceusdm")}, store, engine=FakeEngine(render_seconds=0)
    )
    subs = Subscriptions(store)
    return build_commands(service, subscriptions=subs), subs


def text(reply: Reply | None, platform: str = "console") -> str:
    assert reply is not None
    return render_reply(reply, platform)  # type: ignore[arg-type]


def what_the_chat_has(subs: Subscriptions) -> tuple[object, object]:
    return subs.for_chat("telegram", "100"), subs.settings("telegram", "100")


async def test_told_once_at_the_next_command_with_the_lines_that_restore_everything() -> None:
    commands, subs = commands_on(Store(":memory:"))
    for line in SETUP:
        reply = await commands.run(line, CHAT)
        assert reply is not None and not reply.is_error and reply.notice is None, line
    before = what_the_chat_has(subs)
    assert subs.drop_chat("telegram", "100", reason=BLOCKED) == len(RULE_NAMES) + 2
    assert subs.for_chat("telegram", "100") == []

    reply = await commands.run("/alerts", CHAT)
    assert reply is not None and reply.notice is not None
    body = text(reply)
    assert body.index("alerts of this chat were removed") < body.index("Alerts in this chat")
    assert BLOCKED in body and "7 alert subscription(s)" in body
    lines = restore_lines_of(body)
    assert lines[:3] == ["/subscribe BTC", "/subscribe ETH imbalance", "/subscribe ETH oi"]
    for platform in PLATFORMS:  # every platform renders it (Telegram HTML, Discord Markdown)
        assert "/subscribe ETH imbalance" in text(reply, platform).replace("\\", "")

    again = await commands.run("/alerts", CHAT)  # once only
    assert again is not None and again.notice is None
    assert "removed" not in text(again)

    for line in lines:  # what it says restores exactly what the chat had
        restored = await commands.run(line, CHAT)
        assert restored is not None and not restored.is_error, (line, text(restored))
    assert what_the_chat_has(subs) == before


def restore_lines_of(body: str) -> list[str]:
    """The command lines of the notice: after "To get them back", up to the blank line."""
    block = body[body.index("To get them back, send:") :].splitlines()[1:]
    return block[: block.index("")]


async def test_any_command_in_that_chat_tells_it_and_other_chats_hear_nothing() -> None:
    commands, subs = commands_on(Store(":memory:"))
    await commands.run("/subscribe BTC imbalance", CHAT)
    await commands.run("/subscribe BTC imbalance", OTHER)
    subs.drop_chat("telegram", "100")
    other = await commands.run("/start", OTHER)
    assert other is not None and other.notice is None
    typo = await commands.run("/heatmap 123", CHAT)  # even a mistyped command
    assert typo is not None and typo.is_error and typo.notice is not None
    assert "/subscribe BTC imbalance" in text(typo)
    assert "could not reach this chat" in text(typo) and "()" not in text(typo)


async def test_a_chat_with_nothing_to_restore_is_not_told() -> None:
    commands, subs = commands_on(Store(":memory:"))
    subs.drop_chat("telegram", "100", reason=BLOCKED)  # it never subscribed
    reply = await commands.run("/alerts", CHAT)
    assert reply is not None and reply.notice is None
    # dropped twice (a second 403 after the first): the first record is kept, not emptied
    await commands.run("/subscribe SOL cluster", CHAT)
    subs.drop_chat("telegram", "100", reason=BLOCKED)
    subs.drop_chat("telegram", "100", reason="again")
    reply = await commands.run("/alerts", CHAT)
    assert reply is not None and "/subscribe SOL cluster" in text(reply) and BLOCKED in text(reply)


async def test_the_notice_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with Store(path) as store:
        commands, subs = commands_on(store)
        await commands.run("/subscribe ETH", CHAT)
        subs.drop_chat("telegram", "100", reason=BLOCKED)
    with Store(path) as store:  # a new process
        assert GoneChats(store).pending() == 1
        commands, _ = commands_on(store)
        reply = await commands.run("/subscribe ETH", CHAT)
        assert reply is not None and reply.notice is not None
        assert "/subscribe ETH" in text(reply.notice)
        assert GoneChats(store).pending() == 0
    with Store(path) as store:
        commands, _ = commands_on(store)
        reply = await commands.run("/alerts", CHAT)
        assert reply is not None and reply.notice is None  # told once, across restarts too


def test_restore_lines_group_full_markets_and_skip_default_settings() -> None:
    gone = GoneChat(
        "telegram",
        "1",
        0,
        "",
        (*(("BTC/USDT:USDT", r) for r in RULE_NAMES), ("ETH/USDC:USDC", "oi")),
        (
            ("followups", "off", None),
            ("gone-rule", "off", None),
            ("imbalance", "on", 3.0),
            ("oi", "on", None),
        ),
    )
    assert restore_lines(gone) == [
        "/subscribe BTC",
        "/subscribe ETHUSDC oi",
        "/settings followups off",
        "/settings imbalance on 3",
    ]
