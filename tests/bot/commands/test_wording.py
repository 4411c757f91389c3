"""Issue 14, the command side: usage lines that name their arguments, examples that are real
and useful calls, errors that name the real mistake, and markets shown as traders write them
— checked over every command, so a new one cannot slip back."""

from __future__ import annotations

import re

import pytest

from bot.analysis.service import MarketService
from bot.commands.catalog import build_commands
from bot.commands.market_cmds import CommandDefaults
from bot.commands.parsing import parse_args
from bot.commands.registry import Commands
from bot.reply import RANGES, CallContext, Reply
from bot.reply.text import render_reply
from bot.state.store import Store
from bot.state.subscriptions import Subscriptions
from tests.fakes.market_service import FIVE_MIN, T0, FakeEngine, FakeSource

NOW = T0 + 288 * FIVE_MIN + 30_000
USER = CallContext(platform="telegram", chat_id="42", user_id="7")
TRACKED = ("BTC", "ETH", "SOL")
#: names that say nothing about what to type
VAGUE = {"change", "what", "args", "arg", "value", "text", "x"}


def build(exchanges: tuple[str, ...] = ("binanceusdm", "bybit")) -> Commands:
    store = Store(":memory:")
    sources = {name: FakeSource(name, candles=2016) for name in exchanges}
    service = MarketService(sources, store, engine=FakeEngine(render_seconds=0), clock=lambda: NOW)
    defaults = CommandDefaults(range=RANGES[1], tracked=TRACKED)
    return build_commands(service, defaults, subscriptions=Subscriptions(store))


def text(reply: Reply | None, platform: str = "console") -> str:
    assert reply is not None
    return render_reply(reply, platform)  # type: ignore[arg-type]


def test_every_usage_line_names_its_arguments() -> None:
    for spec in build().specs:
        for param in spec.params:
            assert param.name not in VAGUE, f"/{spec.name}: argument '{param.name}' says nothing"
            assert param.usage in spec.usage
            assert param.help, f"/{spec.name} {param.usage}: no help line"
        listed = re.findall(r"[<\[]([a-z_]+)[>\]]", spec.usage)
        assert listed == [p.name for p in spec.params]


async def test_every_example_is_a_real_and_useful_call() -> None:
    commands = build()
    for spec in commands.specs:
        assert spec.examples, f"/{spec.name} has no example"
        first = spec.examples[0].split()
        if spec.params:  # the one shown with errors and in /help uses an argument
            assert len(first) > 1, f"/{spec.name}: its first example {first} shows nothing"
        for example in spec.examples:
            name, *tokens = example.split()
            assert name == spec.name
            parse_args(spec, tokens, exchanges=commands.exchanges)  # it parses as written ...
            if any(p.kind == "price" for p in spec.params):
                continue  # (the stand-in market prices every coin like BTC: ETH 2.8k is far)
            reply = await commands.run(f"/{example}", USER)  # ... and answers without an error
            assert reply is not None and not reply.is_error, (example, text(reply))


async def test_error_replies_show_a_useful_example() -> None:
    commands = build()
    body = text(await commands.run("/settings imbalance loud", USER))
    assert body.startswith("Unknown mode 'loud'. Use one of: on, silent, off.")
    assert "Usage: /settings [rule] [mode] [threshold]" in body
    assert "Example: /settings imbalance silent" in body
    assert "Example: /settings\n" not in body + "\n"
    body = text(await commands.run("/unsubscribe", USER))
    assert body.startswith("Missing <symbol>: market, e.g. BTC, or all.")
    assert "Usage: /unsubscribe <symbol> [rule]" in body


async def test_naming_a_rule_alone_changes_nothing() -> None:
    commands = build()
    body = text(await commands.run("/settings imbalance", USER))
    assert "Updated" not in body
    assert "imbalance: on, threshold 5:1 (default)" in body
    assert "Updated imbalance." in text(await commands.run("/settings imbalance silent", USER))


@pytest.mark.parametrize(
    "line",
    ["/heatmap XRP", "/subscribe XRP", "/unsubscribe XRP", "/imbalance XRP 5%", "/cascade XRP 2"],
)
async def test_an_unknown_symbol_lists_the_tracked_ones_everywhere(line: str) -> None:
    reply = await build().run(line, USER)
    assert reply is not None and reply.is_error
    message = reply.context["message"]
    assert message.startswith("Unknown symbol 'XRP'."), message
    assert "Tracked here: BTC, ETH, SOL." in message
    assert "[market] symbols" in message


SCRIPT = (
    "/start",
    "/help",
    "/heatmap BTC 7d",
    "/map ETH 3d bybit",
    "/imbalance SOL 5%",
    "/levels BTC",
    "/cascade BTC 95k",
    "/subscribe BTC imbalance",
    "/subscribe ETHUSDT",
    "/alerts",
    "/settings imbalance silent",
    "/unsubscribe BTC/USDT:USDT imbalance",
    "/unsubscribe all",
    "/status",
)


@pytest.mark.parametrize("platform", ["console", "telegram", "discord"])
async def test_no_reply_shows_ccxt_symbols(platform: str) -> None:
    """``BTC/USDT:USDT`` is ccxt's name; traders write BTC (issue 14: "Subscribed to
    BTC/USDT:USDT: imbalance")."""
    commands = build()
    for line in SCRIPT:
        reply = await commands.run(line, USER)
        body = text(reply, platform)
        assert reply is not None and not reply.is_error, (line, body)
        assert "/USDT" not in body and ":USDT" not in body, (line, body)
        for image in reply.images:
            assert "/" not in image.filename and ":" not in image.filename
        for row in reply.buttons:
            for button in row:
                assert "/USDT" not in button.command


async def test_with_one_exchange_there_is_one_exchange_button_and_a_clear_refusal() -> None:
    commands = build(("sim",))
    reply = await commands.run("/heatmap ETH 7d", USER)
    assert reply is not None
    assert [b.label for b in reply.buttons[1]] == ["sim"]  # "all" would draw the same chart
    refused = await commands.run("/heatmap ETH 7d binanceusdm", USER)
    assert refused is not None and refused.is_error
    assert "'binanceusdm' is not configured here (this bot reads: sim)" in text(refused)


@pytest.mark.parametrize("platform", ["console", "telegram", "discord"])
def test_a_long_heavy_alert_reads_longs_over_shorts(platform: str) -> None:
    """The same market reads the same way round in every place (issue 14: the demo said
    "9.3:1" for a market whose heavy side was longs)."""
    from bot.notify.scheduler import alert_reply
    from bot.state.records import AlertEvent

    numbers = {
        "ratio": 9.4,
        "threshold": 5.0,
        "short_above": 1.49e8,
        "long_below": 1.4e9,
        "heavy": "longs below",
        "window": 0.1,
    }
    event = AlertEvent("imbalance", "BTC/USDT:USDT", "binanceusdm", 1, 75_000.0, "card", numbers)
    body = render_reply(alert_reply(event), platform)  # type: ignore[arg-type]
    assert "9.4:1 longs over shorts" in body
    assert "shorts over longs" not in body and "1:9.4" not in body
    assert "BTC/USDT" not in body


async def test_title_caption_buttons_and_file_name_show_the_range_drawn() -> None:
    """/heatmap BTC 30d on 7 days of data: the real engine draws 7d, and every place says so."""
    from bot.analysis.service import CoreEngine
    from core.charts.canvas import title_text

    store = Store(":memory:")
    service = MarketService(
        {"sim": FakeSource("sim", candles=2016)},
        store,
        engine=CoreEngine(),
        clock=lambda: T0 + 2016 * FIVE_MIN + 30_000,  # a week of candles, no more
    )
    commands = build_commands(service, CommandDefaults(range=RANGES[1], tracked=TRACKED))
    reply = await commands.run("/heatmap BTC 30d", USER)
    assert reply is not None and not reply.is_error
    caption = text(reply)
    assert caption.startswith("BTC · sim · 7d (30d asked) — price")
    assert [b.label for b in reply.buttons[0] if b.selected] == ["7d"]
    (image,) = reply.images
    assert image.alt.endswith(", 7d")  # (the file keeps the range asked: btc-heatmap-30d.png)
    chart = await service.chart("heatmap", "BTC", RANGES[4], "sim")
    assert title_text(chart.view.analysis) == "BTC · sim · 7d"  # the chart's own title


async def test_imbalance_bands_stay_inside_the_window_asked() -> None:
    from bot.analysis.service import CoreEngine

    service = MarketService(
        {"sim": FakeSource("sim", candles=2016)},
        Store(":memory:"),
        engine=CoreEngine(),
        clock=lambda: T0 + 2016 * FIVE_MIN + 30_000,
    )
    commands = build_commands(service, CommandDefaults(range=RANGES[1], tracked=TRACKED))
    reply = await commands.run("/imbalance BTC 5% 7d", USER)
    assert reply is not None and not reply.is_error
    bands = reply.context["bands"]
    assert bands and max(b.hi for b in bands) == pytest.approx(0.05)
    body = text(reply)
    assert "window ±5%" in body and "5%–10%" not in body
