"""One function per ``liqwatch`` subcommand: parsed arguments in, exit code out.

Each checks what the user gave it before doing any work, and refuses with a
:class:`~bot.app.failures.Failure` (one line; :func:`bot.app.cli.main` prints it): a
config with problems, an output folder that cannot be written, a storage file that is
locked, damaged or missing. Heavy modules are imported inside the functions, so
``liqwatch --help`` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.app.failures import Failure, check_out_dir, open_storage

if TYPE_CHECKING:
    from bot.config.settings import Settings

__all__ = [
    "archive_export",
    "backtest",
    "check_config",
    "console",
    "demo",
    "load_settings_or_exit",
    "run",
    "thread",
]


def _problems(what: str, problems: list[str]) -> Failure:
    """One problem on one line; several as a count and one indented line each."""
    if len(problems) == 1:
        problem = problems[0]
        return Failure(problem if problem.startswith(what) else f"{what}: {problem}")
    return Failure(f"{what}: {len(problems)} problem(s)\n" + "\n".join(f"  {p}" for p in problems))


def load_settings_or_exit(path: str | None) -> Settings:
    """The settings of ``path`` (built-in defaults for None), or a :class:`Failure` naming
    every problem."""
    from bot.config.settings import ConfigError, load_settings

    try:
        return load_settings(Path(path) if path else None)
    except ConfigError as err:
        raise _problems(path or "settings", list(err.problems)) from None


def console(args: argparse.Namespace) -> int:
    from bot.adapters.console import run_console
    from bot.app.compose import build_service, build_sources
    from bot.app.logs import setup_logging
    from bot.commands.catalog import build_commands, defaults_from_settings
    from bot.state.subscriptions import Subscriptions

    settings = load_settings_or_exit(args.config)
    out_dir = check_out_dir(Path(args.out))
    setup_logging(settings.logging.level, secrets=settings.redactions())
    sources = build_sources(settings)

    async def session() -> None:
        with open_storage(settings.storage.path, "console") as store:
            service = build_service(settings, store, sources)
            commands = build_commands(
                service,
                defaults_from_settings(settings),
                subscriptions=Subscriptions(store),
                alert_defaults=settings.alerts,
            )
            try:
                await run_console(commands, out_dir=out_dir, input=sys.stdin, output=sys.stdout)
            finally:
                for source in sources.values():
                    await source.close()

    asyncio.run(session())
    return 0


def check_config(args: argparse.Namespace) -> int:
    from bot.config.settings import check_config as problems_of

    path = Path(args.path)
    problems = problems_of(path)
    if problems:
        raise _problems(str(path), problems)
    print(f"{path}: OK")
    return 0


def demo(args: argparse.Namespace) -> int:
    from bot.app.demo import run_demo

    return run_demo(out_dir=Path(args.out), scenario=args.scenario, seed=args.seed)


def thread(args: argparse.Namespace) -> int:
    from bot.app.thread import configured_thread, sim_thread
    from bot.notify.threads import format_for_x, render_thread

    if args.config is None:
        scenario = args.scenario or "seed"
        _check_scenario(scenario)
        candles = 2016 if args.candles is None else args.candles
        if candles < 1:
            raise Failure(f"--candles {candles}: give at least 1 (2016 is a week of 5m candles)")
        composed = sim_thread(args.symbol, args.range, scenario, candles)
    else:
        if args.scenario is not None or args.candles is not None:
            raise Failure(
                "--scenario and --candles are for the synthetic market without --config; "
                "with a config, set [market] sim_scenario there"
            )
        settings = load_settings_or_exit(args.config)
        composed = configured_thread(settings, args.symbol, args.range, args.exchange)
    made = asyncio.run(composed)
    if args.format == "x":
        posts = format_for_x(made)
    else:
        rendered = render_thread(made, args.format)
        posts = [f"[{i}/{len(rendered)}]\n{post.text}" for i, post in enumerate(rendered, 1)]
    print(f"# {made.title}\n")
    print("\n\n".join(posts))
    return 0


def _check_scenario(name: str) -> None:
    from core.sim_scenarios import SCENARIOS

    if name not in SCENARIOS:
        raise Failure(
            f"--scenario {name!r}: no such scenario; use one of: {', '.join(SCENARIOS)} "
            "(`liqwatch demo --help` describes each)"
        )


def archive_export(args: argparse.Namespace) -> int:
    from bot.app.archive import main as archive_main

    settings = load_settings_or_exit(args.config)
    check_out_dir(Path(args.out), create=False)  # written only once there is something
    return archive_main(args, settings)


def backtest(args: argparse.Namespace) -> int:
    from bot.app.backtest import main as backtest_main

    settings = load_settings_or_exit(args.params) if args.params else None
    folder = Path(args.folder)
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        raise Failure(
            f"{folder} {what}: give a backtest folder (meta.json, candles.csv, "
            "open_interest.csv, liquidations.csv), e.g. ../shared/data/real-btc-1h"
        )
    if args.out:  # checked before the work (and created only once it succeeded)
        check_out_dir(Path(args.out), create=False)
    return backtest_main(args, settings)


def run(args: argparse.Namespace) -> int:
    from bot.app.logs import setup_logging
    from bot.app.runtime import startup_problems
    from bot.app.serve import serve_bot

    settings = load_settings_or_exit(args.config)
    setup_logging(
        settings.logging.level,
        secrets=settings.redactions(),
        json_lines=settings.logging.json_lines,
    )
    problems = startup_problems(settings)
    if problems:
        print(f"liqwatch run: {len(problems)} problem(s) before start-up", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    # a second `liqwatch run` on this storage file is refused here, before it touches it
    with open_storage(settings.storage.path, "run") as store:
        return asyncio.run(serve_bot(settings, store))
