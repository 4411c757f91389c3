"""Command specs and a one-line parse shared by the argument-parsing tests."""

from __future__ import annotations

from typing import Any

from bot.commands.parsing import parse_args
from bot.commands.spec import CommandSpec, Param

EXCHANGES = ("binanceusdm", "bybit", "okx")

HEATMAP = CommandSpec(
    "heatmap",
    "heatmap",
    (
        Param("symbol", "symbol", default="BTC"),
        Param("range", "range", default="24h"),
        Param("exchange", "exchange", default="all"),
    ),
)
CASCADE = CommandSpec(
    "cascade",
    "cascade",
    (
        Param("symbol", "symbol", required=True),
        Param("price", "price", required=True, help="a price"),
    ),
)
IMBALANCE = CommandSpec(
    "imbalance",
    "imbalance",
    (Param("symbol", "symbol", default="BTC"), Param("window", "window", default=0.1)),
)
NOTE = CommandSpec(
    "note", "note", (Param("symbol", "symbol", required=True), Param("text", "text"))
)


def parse(spec: CommandSpec, line: str) -> dict[str, Any]:
    return parse_args(spec, line.split(), exchanges=EXCHANGES)
