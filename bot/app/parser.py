"""The ``liqwatch`` argument parser: every subcommand, its options and its help."""

from __future__ import annotations

import argparse
from importlib import metadata

from bot.app import subcommands

__all__ = ["build_parser", "version"]


def version() -> str:
    """The installed liqwatch's version (``unknown`` when run from a source tree)."""
    try:
        return metadata.version("liqwatch")
    except metadata.PackageNotFoundError:  # pragma: no cover - not installed
        return "unknown (not installed)"


def _scenarios() -> str:
    """The synthetic scenarios, one per line, for ``demo --help`` / ``thread --help``."""
    from core.sim_scenarios import SCENARIOS

    width = max(len(name) for name in SCENARIOS)
    lines = [f"  {name:<{width}}  {s.description}" for name, s in SCENARIOS.items()]
    return "scenarios (--scenario):\n" + "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liqwatch",
        description="Estimated liquidation heatmaps, clusters, imbalance and squeeze cascades "
        "for crypto perpetuals, served in Telegram and Discord.",
    )
    parser.add_argument("--version", action="version", version=f"liqwatch {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    raw = argparse.RawDescriptionHelpFormatter

    demo = sub.add_parser(
        "demo",
        help="run the whole pipeline offline on the synthetic market and write charts and text",
        epilog=_scenarios(),
        formatter_class=raw,
    )
    demo.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    demo.add_argument(
        "--scenario", default="seed", help="synthetic scenario, listed below (default: seed)"
    )
    demo.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    demo.set_defaults(func=subcommands.demo)

    console = sub.add_parser(
        "console", help="type bot commands at a prompt (no token needed); images go to files"
    )
    console.add_argument("--config", help="liqwatch TOML config (default: built-in defaults)")
    console.add_argument("--out", default="out/console", help="folder for chart images")
    console.set_defaults(func=subcommands.console)

    thread = sub.add_parser(
        "thread",
        help="compose the market-structure thread of a symbol (the synthetic market, or the "
        "configured one with --config)",
        epilog=_scenarios(),
        formatter_class=raw,
    )
    thread.add_argument("symbol", nargs="?", default="BTC", help="market, e.g. BTC (default)")
    thread.add_argument(
        "--format",
        choices=("x", "telegram", "discord"),
        default="x",
        help="x: numbered posts of <= 280 characters; telegram: HTML; discord: Markdown",
    )
    thread.add_argument("--range", default="7d", help="look-back window (default: 7d)")
    thread.add_argument(
        "--config", help="liqwatch TOML config: its market (source, exchanges, timeframe)"
    )
    thread.add_argument(
        "--exchange", default="all", help="with --config: an exchange id, or all (default)"
    )
    thread.add_argument(
        "--scenario", help="without --config: synthetic scenario, listed below (default: seed)"
    )
    thread.add_argument(
        "--candles", type=int, help="without --config: 5m candles to simulate (default: 2016)"
    )
    thread.set_defaults(func=subcommands.thread)

    run = sub.add_parser(
        "run",
        help="run the bot: scheduler, Telegram and Discord (those enabled) in one process",
    )
    run.add_argument("--config", help="liqwatch TOML config (default: built-in defaults)")
    run.set_defaults(func=subcommands.run)

    backtest = sub.add_parser(
        "backtest",
        help="score the model point in time against a folder of real liquidations",
    )
    backtest.add_argument(
        "folder",
        help="backtest folder: meta.json, candles.csv, open_interest.csv, liquidations.csv",
    )
    backtest.add_argument("--out", help="output folder (default: out/backtest/<folder name>)")
    backtest.add_argument(
        "--params", help="liqwatch TOML config whose [model] settings to use (default: built-in)"
    )
    backtest.add_argument(
        "--lookback",
        help="look-back of each estimate, e.g. 7d (default: the config's market.lookback, else 7d)",
    )
    backtest.add_argument(
        "--calibrate",
        action="store_true",
        help="fit the [model] settings on the first part of the folder, score the rest out of "
        "sample, and print the block to paste",
    )
    backtest.set_defaults(func=subcommands.backtest)

    archive = sub.add_parser("archive", help="the point-in-time archive of the maps shown")
    archive_sub = archive.add_subparsers(dest="archive_command", required=True, metavar="ACTION")
    export = archive_sub.add_parser(
        "export",
        help="write a market's archived maps, candles, open interest and prints as a backtest "
        "folder (re-score it with `liqwatch backtest DIR`)",
    )
    export.add_argument("symbol", help="market, e.g. BTC")
    export.add_argument(
        "--since",
        default="30d",
        help="a duration before the newest candle (7d) or a date (2026-01-05); default 30d",
    )
    export.add_argument("--out", required=True, help="the folder to write")
    export.add_argument("--config", help="liqwatch TOML config (its storage.path, timeframe)")
    export.set_defaults(func=subcommands.archive_export)

    check = sub.add_parser("check-config", help="validate a config file and list every problem")
    check.add_argument("path", help="path to a liqwatch TOML config")
    check.set_defaults(func=subcommands.check_config)
    return parser
