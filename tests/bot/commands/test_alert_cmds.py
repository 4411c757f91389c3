"""/subscribe, /unsubscribe, /alerts, /settings through the command registry; alert templates."""

from __future__ import annotations

from typing import Any

import pytest

from bot.analysis.service import MarketService
from bot.commands.alert_cmds import (
    ALERT_TEMPLATE_NAMES,
    GROUP_ADMIN_ONLY,
    MANAGE_SERVER_ONLY,
    parse_threshold,
)
from bot.commands.catalog import build_commands
from bot.commands.registry import Commands
from bot.commands.spec import ArgumentError
from bot.notify.alerts import RULE_NAMES
from bot.notify.scheduler import alert_reply
from bot.reply import CallContext, Reply
from bot.reply.text import PLATFORMS, TEMPLATE_DIR, check_templates, render_reply
from bot.state.records import AlertEvent
from bot.state.store import Store
from bot.state.subscriptions import ChatSetting, Subscriptions
from tests.fakes.market_service import FakeEngine, FakeSource

BTC = "BTC/USDT:USDT"
PRIVATE = CallContext("telegram", "100", "100")
GROUP_MEMBER = CallContext("telegram", "-5", "7", is_group=True)
GROUP_ADMIN = CallContext("telegram", "-5", "8", is_group=True, is_admin=True)


def build() -> tuple[Commands, Subscriptions]:
    store = Store(":memory:")
    service = MarketService(
        {"binanceusdm": FakeSource("binanceusdm")}, store, engine=FakeEngine(render_seconds=0)
    )
    subs = Subscriptions(store)
    return build_commands(service, subscriptions=subs), subs


def text(reply: Reply | None) -> str:
    assert reply is not None
    return render_reply(reply, "console")


async def test_subscribe_in_a_private_chat_and_list_it() -> None:
    commands, subs = build()
    body = text(await commands.run("/subscribe btc", PRIVATE))
    assert "Subscribed to BTC:" in body and BTC not in body
    assert {s.rule for s in subs.for_chat("telegram", "100")} == set(RULE_NAMES)
    body = text(await commands.run("/alerts", PRIVATE))
    assert "BTC" in body and "imbalance" in body
    assert "imbalance: on, threshold 5:1 (default)" in body


async def test_one_rule_and_did_you_mean() -> None:
    commands, subs = build()
    await commands.run("/subscribe ETH imbalance", PRIVATE)
    assert [(s.symbol, s.rule) for s in subs.for_chat("telegram", "100")] == [
        ("ETH/USDT:USDT", "imbalance")
    ]
    reply = await commands.run("/subscribe ETH imbalanse", PRIVATE)
    assert reply is not None and reply.is_error
    assert "Did you mean imbalance?" in text(reply)
    reply = await commands.run("/subscribe XYZQ", PRIVATE)
    assert reply is not None and reply.is_error and "Unknown symbol" in text(reply)


async def test_group_members_cannot_change_subscriptions_but_admins_can() -> None:
    commands, subs = build()
    for line in ("/subscribe BTC", "/unsubscribe all", "/settings imbalance off"):
        reply = await commands.run(line, GROUP_MEMBER)
        assert reply is not None and reply.is_error and GROUP_ADMIN_ONLY in text(reply)
    assert subs.for_chat("telegram", "-5") == [] and subs.settings("telegram", "-5") == {}
    assert not (await commands.run("/subscribe BTC cluster", GROUP_ADMIN) or Reply("x")).is_error
    assert [s.rule for s in subs.for_chat("telegram", "-5")] == ["cluster"]
    # reading is for everyone
    reply = await commands.run("/alerts", GROUP_MEMBER)
    assert reply is not None and not reply.is_error and "cluster" in text(reply)
    reply = await commands.run("/settings", GROUP_MEMBER)
    assert reply is not None and not reply.is_error


async def test_unsubscribe_one_rule_one_symbol_or_all() -> None:
    commands, subs = build()
    await commands.run("/subscribe BTC", PRIVATE)
    await commands.run("/subscribe ETH oi", PRIVATE)
    assert "1 subscription" in text(await commands.run("/unsubscribe BTC oi", PRIVATE))
    await commands.run("/unsubscribe BTC", PRIVATE)
    assert [s.symbol for s in subs.for_chat("telegram", "100")] == ["ETH/USDT:USDT"]
    body = text(await commands.run("/unsubscribe all", PRIVATE))
    assert "every market" in body
    assert subs.for_chat("telegram", "100") == []


async def test_settings_modes_and_thresholds() -> None:
    commands, subs = build()
    body = text(await commands.run("/settings imbalance silent 8", PRIVATE))
    assert "Updated imbalance" in body and "imbalance: silent, threshold 8:1" in body
    assert subs.setting("telegram", "100", "imbalance") == ChatSetting("imbalance", "silent", 8.0)
    await commands.run("/settings cluster 0.5%", PRIVATE)
    await commands.run("/settings prints $2.5M", PRIVATE)
    await commands.run("/settings imbalance off", PRIVATE)  # the threshold stays
    settings = subs.settings("telegram", "100")
    assert settings["cluster"].threshold == pytest.approx(0.005)
    assert settings["prints"].threshold == pytest.approx(2.5e6)
    assert settings["imbalance"] == ChatSetting("imbalance", "off", 8.0)
    for bad in ("/settings bogus on", "/settings imbalance loud", "/settings all off"):
        reply = await commands.run(bad, PRIVATE)
        assert reply is not None and reply.is_error, bad


def test_threshold_parsing_per_rule_kind() -> None:
    assert parse_threshold("imbalance", "5x") == 5.0
    assert parse_threshold("oi", "3%") == pytest.approx(0.03)
    assert parse_threshold("oi", "0.03") == pytest.approx(0.03)
    assert parse_threshold("cascade", "1.5") == 1.5
    assert parse_threshold("prints", "5m") == 5e6
    with pytest.raises(ArgumentError):
        parse_threshold("imbalance", "0.5")
    with pytest.raises(ArgumentError):
        parse_threshold("cluster", "near")


def test_commands_are_in_the_menu_for_everyone() -> None:
    commands, _ = build()
    names = {name for name, _ in commands.menu()}
    assert {"subscribe", "unsubscribe", "alerts", "settings"} <= names


def test_alert_templates_load_and_render_every_rule_on_every_platform() -> None:
    assert check_templates(TEMPLATE_DIR, required=ALERT_TEMPLATE_NAMES) == []
    numbers: dict[str, dict[str, Any]] = {
        "imbalance": {
            "ratio": 14.2,
            "threshold": 5.0,
            "short_above": 1.4e10,
            "long_below": 1e9,
            "heavy": "shorts above",
            "window": 0.1,
        },
        "cluster": {
            "proximity": 0.01,
            "cluster_price": 91_000.0,
            "cluster_notional": 2e9,
            "cluster_side": "short",
            "distance": 0.009,
        },
        "cascade": {
            "direction": "up",
            "push_price": 92_000.0,
            "push": 0.02,
            "r_ratio": 1.7,
            "final_price": 95_000.0,
            "forced_notional": 3e8,
            "r": 1.0,
            "proximity": 0.03,
        },
        "prints": {
            "burst": 6e6,
            "long": 4e6,
            "short": 2e6,
            "count": 31,
            "window_ms": 900_000,
            "threshold": 5e6,
        },
        "oi": {
            "change": -0.06,
            "threshold": 0.05,
            "oi_then": 1e5,
            "oi_now": 9.4e4,
            "window_ms": 3_600_000,
        },
    }
    for rule, nums in numbers.items():
        event = AlertEvent(rule, BTC, "binanceusdm", 1, 90_120.0, "card", nums)
        for platform in PLATFORMS:
            body = render_reply(alert_reply(event), platform)
            assert "BTC ·" in body and rule in body and "est" in body, (rule, platform)
    body = render_reply(
        alert_reply(AlertEvent("prints", BTC, "x", 1, 1.0, "card", numbers["prints"])), "console"
    )
    assert "15m" in body or "15 min" in body


async def test_on_discord_the_refusal_names_manage_server() -> None:
    commands, _ = build()
    member = CallContext("discord", "55", "7", is_group=True)
    for name, options in (
        ("subscribe", {"symbol": "BTC"}),
        ("unsubscribe", {"symbol": "all"}),
        ("settings", {"rule": "imbalance", "mode": "off"}),
    ):
        reply = await commands.run_options(name, options, member)
        assert reply is not None and reply.is_error
        assert reply.context["message"] == MANAGE_SERVER_ONLY, name
        assert "admins of this group" not in text(reply)


async def test_named_options_of_unsubscribe_and_settings() -> None:
    commands, subs = build()
    await commands.run("/subscribe BTC", PRIVATE)
    body = text(await commands.run_options("unsubscribe", {"symbol": "BTC", "rule": "oi"}, PRIVATE))
    assert "1 subscription" in body
    options = {"rule": "imbalance", "mode": "silent", "threshold": "8"}
    body = text(await commands.run_options("settings", options, PRIVATE))
    assert "imbalance: silent, threshold 8:1" in body
    bad = await commands.run_options("settings", {"rule": "imbalance", "mode": "loud"}, PRIVATE)
    assert bad is not None and bad.context["message"].startswith("Option 'mode': Unknown mode")
    which = await commands.run_options("settings", {"mode": "off"}, PRIVATE)
    assert which is not None and "Which rule?" in which.context["message"]
    body = text(await commands.run_options("unsubscribe", {"symbol": "all"}, PRIVATE))
    assert "every market" in body and subs.for_chat("telegram", "100") == []


async def test_typed_settings_still_take_the_mode_after_the_threshold() -> None:
    commands, subs = build()
    await commands.run("/settings imbalance 6 silent", PRIVATE)
    assert subs.setting("telegram", "100", "imbalance") == ChatSetting("imbalance", "silent", 6.0)
    reply = await commands.run("/settings bogus on", PRIVATE)
    assert reply is not None and "Unknown alert rule 'bogus'" in reply.context["message"]
    reply = await commands.run("/settings imbalance 6 7", PRIVATE)
    assert reply is not None and "Too many words" in reply.context["message"]
