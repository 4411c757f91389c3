"""Slash commands generated from command specs: options, choices, admin rights, lines."""

from __future__ import annotations

from typing import Any

from bot.adapters.discord.lib import app_commands, discord
from bot.adapters.discord.tree import app_command, command_line, suggest_symbols
from bot.commands.spec import CommandSpec, Param
from bot.reply import RANGES


async def _noop(*_: Any) -> None:
    return None


SPEC = CommandSpec(
    "report",
    "A report " + "x" * 200,
    (
        Param("symbol", "symbol", required=True, help="market"),
        Param("range", "range"),
        Param("exchange", "exchange"),
        Param("style", "text", choices=("dark", "light")),
    ),
    admin=True,
)


async def test_options_follow_the_spec() -> None:
    command = app_command(SPEC, _noop, exchanges=("binanceusdm", "bybit"), symbols=None)
    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    payload = command.to_dict(tree)
    assert len(payload["description"]) <= 100
    options = {o["name"]: o for o in payload["options"]}
    assert list(options) == ["symbol", "range", "exchange", "style"]
    assert options["symbol"]["required"] and not options["range"]["required"]
    assert [c["value"] for c in options["range"]["choices"]] == [r.label for r in RANGES]
    assert [c["value"] for c in options["exchange"]["choices"]] == ["binanceusdm", "bybit", "all"]
    assert [c["value"] for c in options["style"]["choices"]] == ["dark", "light"]
    assert command.default_permissions == discord.Permissions(manage_guild=True)


def test_command_line_keeps_spec_order_and_skips_omitted() -> None:
    values = {"style": "dark", "symbol": "ETH", "exchange": None}
    assert command_line("report", SPEC.params, values) == "/report ETH dark"


def test_suggestions_prefer_prefix_matches() -> None:
    symbols = ["BTC/USDT:USDT", "ETH/USDT:USDT", "WBTC/USDT:USDT", "SOL/USDT:USDT"]
    assert suggest_symbols(symbols, "bt") == ["BTC", "WBTC"]
    assert suggest_symbols(symbols, "") == ["BTC", "ETH", "SOL", "WBTC"]
    assert suggest_symbols(symbols, "btcusdt") == ["BTC", "WBTC"]


GROUP_SPEC = CommandSpec(
    "unsubscribe",
    "Stop alerts",
    (
        Param("symbol", "symbol", required=True, choices=("all",), help="market, or all"),
        Param("rule", "choice", default="all", choices=("imbalance", "oi", "all")),
        Param("note", "text"),
    ),
    group_admin=True,
)


async def test_group_admin_commands_need_manage_server_and_choices_are_offered() -> None:
    async def symbols() -> list[str]:
        return ["BTC/USDT:USDT"]

    command = app_command(GROUP_SPEC, _noop, symbols=symbols)
    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    payload = command.to_dict(tree)
    assert (
        int(payload["default_member_permissions"]) == discord.Permissions(manage_guild=True).value
    )
    options = {o["name"]: o for o in payload["options"]}
    assert options["symbol"]["autocomplete"] and "choices" not in options["symbol"]
    assert [c["value"] for c in options["rule"]["choices"]] == ["imbalance", "oi", "all"]
    public = app_command(CommandSpec("alerts", "List"), _noop).to_dict(tree)
    assert public["default_member_permissions"] is None


async def test_the_callback_hands_each_option_by_name() -> None:
    seen: list[dict[str, Any]] = []

    async def run(_: Any, spec: Any, options: dict[str, str | None]) -> None:
        seen.append(options)

    command = app_command(GROUP_SPEC, run)
    await command.callback(None, symbol="btc 🚀🚀", note="a b")  # type: ignore[arg-type]
    assert seen == [{"symbol": "btc 🚀🚀", "rule": None, "note": "a b"}]
