"""The command registry and every command, over the real service with stand-in engine."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.analysis.service import MarketService
from bot.commands.catalog import TEMPLATE_NAMES, build_commands
from bot.commands.market_cmds import CommandDefaults, short_symbol
from bot.commands.registry import ADMIN_ONLY, APOLOGY, MANAGE_SERVER_ONLY, Commands
from bot.commands.spec import Call, CommandSpec
from bot.reply import RANGES, CallContext, Reply
from bot.reply.text import render_reply
from bot.state.store import Store
from core.charts.format import human_duration, human_price, human_ratio, human_usd
from tests.fakes.market_service import FIVE_MIN, T0, FakeEngine, FakeSource

NOW = T0 + 288 * FIVE_MIN + 30_000
USER = CallContext(platform="telegram", chat_id="42", user_id="7")
GROUP = CallContext(platform="telegram", chat_id="-100", user_id="7", is_group=True)


def build(
    *, engine: FakeEngine | None = None, down: bool = False
) -> tuple[Commands, MarketService, FakeEngine]:
    engine = engine or FakeEngine(render_seconds=0)
    sources = {name: FakeSource(name, candles=288, down=down) for name in ("binanceusdm", "bybit")}
    service = MarketService(sources, Store(":memory:"), engine=engine, clock=lambda: NOW)
    return build_commands(service, CommandDefaults(range=RANGES[1])), service, engine


def text(reply: Reply | None, platform: str = "console") -> str:
    assert reply is not None
    return render_reply(reply, platform)  # type: ignore[arg-type]


async def test_help_lists_every_command_with_usage_and_example() -> None:
    commands, _, _ = build()
    reply = await commands.run("/help", USER)
    body = text(reply)
    for spec in commands.specs:
        assert spec.usage in body
        assert spec.summary in body
        if spec.examples:
            assert f"/{spec.examples[0]}" in body
    assert {name for name, _ in commands.menu()} == {
        "start",
        "help",
        "status",
        "heatmap",
        "map",
        "imbalance",
        "levels",
        "cascade",
        "accuracy",
    }
    assert all(len(summary) <= 100 for _, summary in commands.menu())


async def test_start_names_the_bot_a_caveat_and_a_first_command() -> None:
    commands, _, _ = build()
    body = text(await commands.run("/start", USER))
    assert "/heatmap BTC" in body
    assert "not promises" in body


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("/heatmap BTC 5x", "Unknown range '5x'. Use one of: 12h, 24h, 3d, 7d, 30d."),
        ("/heatmap BTC kraken", "Unknown exchange 'kraken'"),
        ("/heatmap BTC 7d bybit more", "Too many arguments"),
        ("/map $$$", "is not a symbol"),
        ("/imbalance BTC 90%", "out of bounds"),
        ("/levels BTC 7d all extra", "Too many arguments"),
        ("/cascade", "Missing <symbol>"),
        ("/cascade BTC", "Missing <price>"),
        ("/cascade BTC lots", "Price 'lots' is not a number"),
        ("/cascade BTC 98", "too far from the current price"),
        ("/cascade BTC 2m", "too far from the current price"),
        ("/heatmap BTCC", "Unknown symbol 'BTCC'. Did you mean BTC?"),
        ("/status now", "Too many arguments"),
        ("/help me", "Too many arguments"),
        ("/nope", "Unknown command /nope. Try /help."),
    ],
)
async def test_bad_arguments_give_a_clear_error_reply(line: str, fragment: str) -> None:
    commands, service, _ = build()
    reply = await commands.run(line, USER)
    assert reply is not None and reply.is_error
    assert fragment in reply.context["message"]
    spec = commands.get(line.split()[0])
    if spec is not None:
        assert reply.context["usage"] == spec.usage
        assert spec.usage in text(reply)
    assert service.renders == 0


async def test_heatmap_reply_has_the_png_numbers_and_buttons() -> None:
    commands, _, _ = build()
    reply = await commands.run("/heatmap btc 7d bybit", USER)
    assert reply is not None and not reply.is_error
    (image,) = reply.images
    assert image.data.startswith(b"\x89PNG")
    assert image.filename == "btc-heatmap-7d.png"
    ranges, exchanges = reply.buttons
    assert [b.label for b in ranges] == [r.label for r in RANGES]
    assert [b.label for b in exchanges] == ["binanceusdm", "bybit", "all"]
    assert [b.label for row in reply.buttons for b in row if b.selected] == ["7d", "bybit"]
    for row in reply.buttons:
        for button in row:
            assert len(button.command.encode()) <= 64
            again = await commands.run(button.command, USER)
            assert again is not None and not again.is_error, button.command
    caption = text(reply, "telegram")
    imbalance = reply.context["imbalance"]
    assert len(caption) <= 1024
    assert "<b>BTC</b>" in caption
    assert "est." in caption
    assert "Shorts above" in caption and "Longs below" in caption
    assert human_price(reply.context["price"]) in caption
    assert human_usd(imbalance.short_above) in caption
    assert human_ratio(imbalance.ratio) in caption
    assert "Top cluster" in caption and "Danger zone" in caption


async def test_map_imbalance_levels_and_cascade() -> None:
    commands, _, _ = build()
    mapped = await commands.run("/map ETH", USER)
    assert mapped is not None and mapped.images and mapped.context["range"] == "24h"

    card = await commands.run("/imbalance 5% SOL", USER)
    assert card is not None and not card.is_error and card.images
    assert card.context["imbalance"].window == pytest.approx(0.05)
    assert "1%–2%" in text(card)

    levels = await commands.run("/levels", USER)
    assert levels is not None and not levels.images
    body = text(levels)
    assert "Clusters, nearest first" in body and "Danger zones" in body
    distances = [abs(c.price - levels.context["price"]) for c in levels.context["clusters"]]
    assert distances == sorted(distances)

    price = levels.context["price"]
    up = await commands.run(f"/cascade BTC {price * 1.05:.0f}", USER)
    assert up is not None and not up.is_error, up and up.context
    assert up.context["direction"] == "up"
    assert up.context["cascade"].push_price == pytest.approx(round(price * 1.05), rel=1e-9)
    body = text(up)
    assert "Forced buys" in body and "R = " in body and "Rounds:" in body

    down = await commands.run(f"/cascade {price * 0.95:.0f} BTC", USER)
    assert down is not None and down.context["direction"] == "down"


async def test_status_lists_freshness_per_market() -> None:
    commands, _, _ = build()
    empty = text(await commands.run("/status", USER))
    assert "No market data cached yet" in empty
    await commands.run("/heatmap BTC 24h all", USER)
    body = text(await commands.run("/status", USER))
    age = human_duration(NOW - (T0 + 287 * FIVE_MIN))
    assert f"binanceusdm BTC 5m: 288 candles, last {age} ago" in body
    assert "bybit BTC 5m" in body


async def test_admin_commands_are_refused_to_others() -> None:
    async def purge(call: Call) -> Reply:
        return Reply("start", {"symbol": "BTC", "exchanges": []})

    spec = CommandSpec("purge", "Drop the cache", admin=True, handler=purge)
    commands = Commands([spec])
    refused = await commands.run("/purge", USER)
    assert refused is not None and refused.is_error
    assert refused.context["message"] == ADMIN_ONLY
    admin = CallContext(platform="discord", chat_id="1", user_id="2", is_admin=True)
    allowed = await commands.run("/purge", admin)
    assert allowed is not None and not allowed.is_error
    assert commands.menu() == [] and commands.menu(include_admin=True) == [
        ("purge", "Drop the cache")
    ]


async def test_unexpected_error_apologises_and_logs_the_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    commands, _, _ = build(
        engine=FakeEngine(render_seconds=0, fail_render=ZeroDivisionError("boom"))
    )
    with caplog.at_level(logging.ERROR, logger="bot.commands.registry"):
        reply = await commands.run("/heatmap BTC", USER)
    assert reply is not None and reply.is_error
    assert reply.context["message"] == APOLOGY
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError
    assert "/heatmap failed" in record.getMessage()


async def test_market_error_is_a_plain_message() -> None:
    commands, _, _ = build(down=True)
    reply = await commands.run("/levels BTC", USER)
    assert reply is not None and reply.is_error
    assert "unavailable right now" in reply.context["message"]
    assert "503" in reply.context["message"]


async def test_bot_addressing_and_group_noise() -> None:
    commands, _, _ = build()
    assert await commands.run("/help@other_bot", USER, bot_username="liqwatch_bot") is None
    mine = await commands.run("/help@LiqWatch_Bot", USER, bot_username="liqwatch_bot")
    assert mine is not None and not mine.is_error
    assert await commands.run("/unknown", GROUP) is None  # maybe another bot's
    addressed = await commands.run("/unknown@liqwatch_bot", GROUP, bot_username="liqwatch_bot")
    assert addressed is not None and addressed.is_error
    assert await commands.run("just chatting", USER) is None


async def test_fifty_identical_commands_render_once() -> None:
    commands, service, engine = build(engine=FakeEngine(render_seconds=0.05))
    replies = await asyncio.gather(
        *(commands.run("/heatmap BTC 3d bybit", USER) for _ in range(50))
    )
    assert len(replies) == 50
    assert all(r is not None and not r.is_error and r.images for r in replies)
    assert service.renders == 1 and engine.render_calls == 1


def test_every_reply_template_exists() -> None:
    from bot.reply.text import check_templates

    assert check_templates(required=TEMPLATE_NAMES) == []


def test_short_symbol() -> None:
    assert short_symbol("BTC/USDT:USDT") == "BTC"
    assert short_symbol("BTC/USDC:USDC") == "BTCUSDC"
    assert short_symbol("SOL") == "SOL"


async def test_run_options_parses_each_option_on_its_own() -> None:
    commands, _, _ = build()
    reply = await commands.run_options("heatmap", {"symbol": "btc 🚀🚀", "range": None}, USER)
    assert reply is not None and reply.is_error
    assert reply.context["message"].startswith("Option 'symbol': 'btc 🚀🚀' is not a symbol")
    assert reply.context["usage"] == "/heatmap [symbol] [range] [exchange]"
    reply = await commands.run_options("heatmap", {"symbol": "BTC", "range": "7d"}, USER)
    assert reply is not None and not reply.is_error and reply.images
    reply = await commands.run_options("nosuch", {}, USER)
    assert reply is not None and "Unknown command /nosuch" in reply.context["message"]


async def test_run_options_goes_through_the_throttle_and_the_size_limit() -> None:
    from bot.commands.throttle import Throttle

    commands, service, _ = build()
    limited = Commands(commands.specs, exchanges=service.exchanges, throttle=Throttle(capacity=1))
    assert not (await limited.run_options("help", {}, USER) or Reply("x")).is_error
    told = await limited.run_options("help", {}, USER)
    assert told is not None and "Slow down" in told.context["message"]
    assert await limited.run_options("help", {}, USER) is None  # then silence
    huge = await commands.run_options("heatmap", {"symbol": "B" * 100}, USER)
    assert huge is not None and "too long" in huge.context["message"]


async def test_admin_refusal_names_manage_server_on_discord() -> None:
    async def purge(call: Call) -> Reply:
        return Reply("start", {"symbol": "BTC", "exchanges": []})

    commands = Commands([CommandSpec("purge", "Drop the cache", admin=True, handler=purge)])
    member = CallContext(platform="discord", chat_id="1", user_id="2", is_group=True)
    refused = await commands.run_options("purge", {}, member)
    assert refused is not None and refused.context["message"] == MANAGE_SERVER_ONLY


# --- issue 14: replies that say the right thing ------------------------------------------


async def test_a_range_longer_than_the_data_shows_the_range_drawn() -> None:
    commands, _, _ = build()  # the canned analysis covers 7 days
    reply = await commands.run("/heatmap BTC 30d bybit", USER)
    assert reply is not None and not reply.is_error
    assert reply.context["range"] == "7d" and reply.context["range_asked"] == "30d"
    caption = text(reply)
    assert caption.startswith("BTC · bybit · 7d (30d asked) — price")
    assert "30d —" not in caption
    assert [b.label for row in reply.buttons for b in row if b.selected] == ["7d", "bybit"]
    assert "7d" in reply.images[0].alt
    normal = await commands.run("/heatmap BTC 7d bybit", USER)
    assert normal is not None and normal.context["range_asked"] is None
    assert "asked" not in text(normal)


@pytest.mark.parametrize("command", ["map", "imbalance", "levels", "cascade"])
async def test_every_market_reply_names_its_range(command: str) -> None:
    commands, _, _ = build()
    extra = " 95k" if command == "cascade" else ""
    reply = await commands.run(f"/{command} BTC{extra} 30d", USER)
    assert reply is not None and not reply.is_error, text(reply)
    assert "· 7d (30d asked) —" in text(reply)


async def test_with_one_exchange_there_is_one_exchange_button() -> None:
    engine = FakeEngine(render_seconds=0)
    service = MarketService(
        {"sim": FakeSource("sim", candles=288)}, Store(":memory:"), engine=engine, clock=lambda: NOW
    )
    commands = build_commands(service, CommandDefaults(range=RANGES[1]))
    reply = await commands.run("/heatmap BTC", USER)
    assert reply is not None and not reply.is_error
    _, exchanges = reply.buttons
    assert [(b.label, b.selected) for b in exchanges] == [("sim", True)]


async def test_a_known_but_unconfigured_exchange_says_so() -> None:
    engine = FakeEngine(render_seconds=0)
    service = MarketService(
        {"sim": FakeSource("sim", candles=288)}, Store(":memory:"), engine=engine, clock=lambda: NOW
    )
    commands = build_commands(service, CommandDefaults(range=RANGES[1]))
    reply = await commands.run("/heatmap ETH 7d binanceusdm", USER)
    assert reply is not None and reply.is_error
    message = reply.context["message"]
    assert "Exchange 'binanceusdm' is not configured here (this bot reads: sim)" in message
    assert "[market] exchanges" in message


async def test_unknown_symbol_lists_the_tracked_ones_and_how_to_add_one() -> None:
    engine = FakeEngine(render_seconds=0)
    sources = {"binanceusdm": FakeSource("binanceusdm", candles=288)}
    service = MarketService(sources, Store(":memory:"), engine=engine, clock=lambda: NOW)
    defaults = CommandDefaults(range=RANGES[1], tracked=("BTC", "ETH", "SOL"))
    commands = build_commands(service, defaults)
    for line in ("/heatmap XRP", "/levels XRP", "/cascade XRP 2", "/imbalance XRP"):
        reply = await commands.run(line, USER)
        assert reply is not None and reply.is_error
        message = reply.context["message"]
        assert message.startswith("Unknown symbol 'XRP'."), message
        assert "Tracked here: BTC, ETH, SOL." in message
        assert "[market] symbols" in message


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/cascade", "Missing <symbol> and <price>: <symbol> is market, e.g. BTC or ETHUSDT;"),
        ("/cascade BTC 1", "Price $1 is too far from the current price $90,120: use a price "),
        ("/cascade BTC 899999999999999999999999999", "Price '899999999999999…' is far too large"),
        ("/imbalance BTC nan", "Window 'nan' is not a percentage. Use e.g. 10% or 0.1."),
    ],
)
async def test_errors_name_the_real_mistake(line: str, message: str) -> None:
    commands, _, _ = build()
    reply = await commands.run(line, USER)
    assert reply is not None and reply.is_error
    assert reply.context["message"].startswith(message), reply.context["message"]
    assert "default" not in reply.context["message"]
    assert "$1.000" not in reply.context["message"]
    if line == "/cascade BTC 1":
        assert "between $18,024 and $450,600" in reply.context["message"]
