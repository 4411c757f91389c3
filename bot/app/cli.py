"""``liqwatch`` command line: the composition root.

This is the only module that names concrete sources and adapters; everything else talks
to ports (:class:`bot.market.port.MarketSource`) and neutral replies.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.analysis.service import MarketService
    from bot.app.runtime import Component
    from bot.commands.registry import Commands
    from bot.config.settings import Settings
    from bot.market.port import MarketSource
    from bot.notify.outlets import Outlet
    from bot.state.store import Store
    from bot.state.subscriptions import Subscriptions

__all__ = ["build_service", "build_sources", "main"]


def build_sources(settings: Settings) -> dict[str, MarketSource]:
    """The market sources the settings ask for, by exchange id."""
    market = settings.market
    if market.source == "sim":
        from bot.market.sim_source import SIM_MARKETS, SimMarketSpec, SimSource

        markets = dict(SIM_MARKETS)
        btc = "BTC/USDT:USDT"
        markets[btc] = SimMarketSpec(seed=market.sim_seed, start_price=markets[btc].start_price)
        for name in market.symbols:  # any other configured symbol gets a market of its own
            symbol = name if "/" in name else f"{name.upper()}/USDT:USDT"
            if symbol not in markets:
                seed = zlib.crc32(symbol.encode())
                markets[symbol] = SimMarketSpec(seed=seed % 10_000, start_price=_sim_price(seed))
        sim = SimSource(scenario=market.sim_scenario, markets=markets)
        if market.sim_step > 0:  # the market lives on after its first run
            from bot.market.sim_live import SimClock

            sim.clock = SimClock(sim.end_ms, market.sim_step)
        return {"sim": sim}
    if market.source == "replay":
        from bot.market.replay_source import ReplaySource

        assert market.replay_dir is not None  # validated by the config
        return {"replay": ReplaySource(market.replay_dir)}
    from bot.market.ccxt_source import CcxtSource

    sources: dict[str, MarketSource] = {}
    for exchange_id in market.exchanges:
        ex = settings.exchange(exchange_id)
        sources[exchange_id] = CcxtSource(
            exchange_id,
            api_base_url=str(ex.api_base_url) if ex.api_base_url else None,
            timeout_ms=int(ex.timeout_s * 1000),
            enable_rate_limit=ex.rate_limit,
        )
    return sources


def _sim_price(seed: int) -> float:
    """A plausible start price for a simulated market of an unknown coin: $0.1 … $1,000."""
    return float(10 ** ((seed % 5) - 1) * (1 + (seed >> 8) % 9))


def _clock_for(sources: dict[str, MarketSource]) -> Callable[[], int] | None:
    """The synthetic market lives at fixed dates: its own clock (accelerated, from the end of
    the first run; ``market.sim_step``), or one standing at the end of the run."""
    from bot.market.sim_source import SimSource

    sim = sources.get("sim")
    if isinstance(sim, SimSource):
        if sim.clock is not None:
            return sim.clock
        end = sim.end_ms
        return lambda: end
    return None


def build_service(
    settings: Settings, store: Store, sources: dict[str, MarketSource]
) -> MarketService:
    """The one path from (symbol, range, exchanges) to analyses and charts."""
    from bot.analysis.params import analysis_params
    from bot.analysis.service import CoreEngine, MarketService

    params = analysis_params(settings.model, synthetic=settings.market.source == "sim")
    clock = _clock_for(sources)
    extra = {"clock": clock} if clock is not None else {}
    return MarketService(
        sources,
        store,
        timeframe=settings.market.timeframe,
        refresh_every_ms=settings.market.refresh.candles_every,
        lookback_ms=settings.market.lookback,
        engine=CoreEngine(params),
        **extra,  # type: ignore[arg-type]
    )


def load_settings_or_exit(path: str | None) -> Settings:
    """The settings of ``path`` (built-in defaults for None); exits 2 listing every problem."""
    from bot.config.settings import ConfigError, load_settings

    try:
        return load_settings(Path(path) if path else None)
    except ConfigError as err:
        print(f"{path or 'settings'}: {len(err.problems)} problem(s)", file=sys.stderr)
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def _console(args: argparse.Namespace) -> int:
    from bot.adapters.console import run_console
    from bot.app.logs import setup_logging
    from bot.commands.catalog import build_commands, defaults_from_settings
    from bot.state.store import Store
    from bot.state.subscriptions import Subscriptions

    settings = load_settings_or_exit(args.config)
    setup_logging(settings.logging.level, secrets=settings.redactions())
    sources = build_sources(settings)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    async def session() -> None:
        with Store(settings.storage.path) as store:
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


def _check_config(args: argparse.Namespace) -> int:
    from bot.config.settings import check_config

    path = Path(args.path)
    problems = check_config(path)
    if problems:
        print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    print(f"{path}: OK")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from bot.app.demo import run_demo

    return run_demo(out_dir=Path(args.out), scenario=args.scenario, seed=args.seed)


def _thread(args: argparse.Namespace) -> int:
    import asyncio

    from bot.app.demo import sim_thread
    from bot.notify.threads import format_for_x, render_thread

    thread = asyncio.run(sim_thread(args.symbol, args.range, args.scenario, args.candles))
    if args.format == "x":
        posts = format_for_x(thread)
    else:
        rendered = render_thread(thread, args.format)
        posts = [f"[{i}/{len(rendered)}]\n{post.text}" for i, post in enumerate(rendered, 1)]
    print(f"# {thread.title}\n")
    print("\n\n".join(posts))
    return 0


def _archive_export(args: argparse.Namespace) -> int:
    from bot.app.archive import main as archive_main

    return archive_main(args, load_settings_or_exit(args.config))


def _backtest(args: argparse.Namespace) -> int:
    from bot.app.backtest import main as backtest_main

    settings = load_settings_or_exit(args.params) if args.params else None
    return backtest_main(args, settings)


def _run(args: argparse.Namespace) -> int:
    from bot.app.logs import setup_logging

    settings = load_settings_or_exit(args.config)
    setup_logging(
        settings.logging.level,
        secrets=settings.redactions(),
        json_lines=settings.logging.json_lines,
    )
    from bot.app.runtime import startup_problems

    problems = startup_problems(settings)
    if problems:
        print(f"liqwatch run: {len(problems)} problem(s) before start-up", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> int:
    """Compose the long-running bot from the settings and run it until a signal."""
    from bot.app.runtime import Component, interruptible_sleep, serve
    from bot.commands.catalog import build_commands, defaults_from_settings
    from bot.commands.parsing import range_for_ms
    from bot.commands.throttle import Throttle
    from bot.notify.autopost import AutoPoster
    from bot.notify.scheduler import Scheduler
    from bot.state.store import Store
    from bot.state.subscriptions import Subscriptions

    stop = asyncio.Event()
    store = Store(settings.storage.path)
    subs = Subscriptions(store)
    sources = build_sources(settings)
    service = build_service(settings, store, sources)
    commands = build_commands(
        service,
        defaults_from_settings(settings),
        subscriptions=subs,
        alert_defaults=settings.alerts,
        throttle=Throttle(),
    )

    async def close_sources() -> None:
        for source in sources.values():
            await source.close()

    async def load_sources() -> None:
        for name, source in sources.items():
            try:
                await source.load()
            except Exception as err:  # the scheduler retries; the bot still answers from cache
                logging.getLogger("liqwatch").warning("market source %s not loaded: %s", name, err)

    async def close_store() -> None:
        await asyncio.to_thread(store.close)

    watchers: dict[str, Any] = {}  # exchange → its prints watcher (the archive's feed state)
    components = [
        Component("store", _noop, close_store),
        Component("market sources", load_sources, close_sources),
        *_liquidation_streams(settings, store, watchers),
    ]
    platforms = _platforms(settings, commands, subs, service, sources)
    components += [component for component, _ in platforms]
    outlets = [outlet for _, outlet in platforms]

    refresh = settings.market.refresh
    poster = AutoPoster(settings.threads, service, subs, outlets)
    scheduler = Scheduler(
        service,
        subs,
        outlets,
        alert_settings=settings.alerts,
        watch=(*settings.market.symbols, *poster.symbols),
        on_cycle=[poster],
        every_ms=refresh.candles_every,
        jitter=refresh.jitter,
        range_=range_for_ms(settings.telegram.default_range),
        sleep=interruptible_sleep(stop),
        alert_deadline_ms=settings.alerts.retry_for,
    )

    from bot.app.archive import archiver_component

    watched = (*settings.market.symbols, *poster.symbols)
    range_ = range_for_ms(settings.telegram.default_range)
    components.append(archiver_component(settings, service, store, watched, range_, watchers))

    async def main(stop: asyncio.Event) -> None:
        await scheduler.run(stop=stop)

    return await serve(components, main, stop=stop)


def _liquidation_streams(
    settings: Settings, store: Store, watchers: dict[str, Any] | None = None
) -> list[Component]:
    """One WebSocket liquidation watcher per exchange (ccxt source only: no REST history);
    each is also put in ``watchers`` by exchange id."""
    if settings.market.source != "ccxt":
        return []
    from bot.app.runtime import Component
    from bot.market.prints_stream import PrintsWatcher
    from core.models import LiquidationPrints

    async def save_prints(exchange: str, symbol: str, prints: LiquidationPrints) -> None:
        await asyncio.to_thread(store.save_prints, exchange, symbol, prints)

    streams = []
    for exchange_id in settings.market.exchanges:
        ex = settings.exchange(exchange_id)
        watcher = PrintsWatcher(
            exchange_id,
            list(settings.market.symbols),
            save_prints,
            api_base_url=str(ex.api_base_url) if ex.api_base_url else None,
            enable_rate_limit=ex.rate_limit,
        )
        if watchers is not None:
            watchers[exchange_id] = watcher
        streams.append(Component(f"{exchange_id} liquidation stream", watcher.start, watcher.stop))
    return streams


def _platforms(
    settings: Settings,
    commands: Commands,
    subs: Subscriptions,
    service: MarketService,
    sources: dict[str, MarketSource],
) -> list[tuple[Component, Outlet]]:
    """The enabled platforms: each one's life cycle and the outlet alerts are pushed through."""
    from bot.app.runtime import Component
    from bot.reply.text import render_reply

    platforms: list[tuple[Component, Outlet]] = []
    if settings.telegram.enabled:
        from bot.adapters.telegram.adapter import TelegramAdapter

        token = settings.telegram.token
        assert token is not None  # validated by the config

        async def chat_gone(chat_id: str) -> None:
            await asyncio.to_thread(subs.drop_chat, "telegram", chat_id)

        async def chat_moved(old: str, new: str) -> None:
            await asyncio.to_thread(subs.move_chat, "telegram", old, new)

        telegram = TelegramAdapter(
            token.get_secret_value(),
            commands,
            render_reply,
            api_base_url=str(settings.telegram.api_base_url),
            admin_ids=settings.telegram.admin_ids,
            on_chat_gone=chat_gone,
            on_chat_migrated=chat_moved,
        )
        platforms.append((Component("telegram", telegram.start, telegram.stop), telegram))
    if settings.discord.enabled and settings.discord.token is not None:
        from bot.adapters.discord.adapter import DiscordAdapter

        async def symbols() -> list[str]:
            return [s for src in sources.values() for s in src.symbols()]

        discord_bot = DiscordAdapter(
            settings.discord.token.get_secret_value(),
            commands,
            render_reply,
            exchanges=service.exchanges,
            symbols=symbols,
            api_base_url=str(settings.discord.api_base_url),
            gateway_url=str(settings.discord.gateway_url),
            admin_channel_id=settings.discord.admin_channel_id,
        )
        component = Component(
            "discord", discord_bot.start, discord_bot.stop, watch=discord_bot.wait_closed
        )
        platforms.append((component, discord_bot))
    elif settings.discord.enabled and settings.discord.webhook_url is not None:
        import aiohttp

        from bot.adapters.discord.webhook import DiscordWebhookOutlet

        session = aiohttp.ClientSession()
        url = settings.discord.webhook_url.get_secret_value()
        webhook = DiscordWebhookOutlet(
            url, session, render_reply, api_base_url=str(settings.discord.api_base_url)
        )
        platforms.append((Component("discord webhook", _noop, session.close), webhook))
    return platforms


async def _noop() -> None:
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liqwatch",
        description="Estimated liquidation heatmaps, clusters, imbalance and squeeze cascades "
        "for crypto perpetuals, served in Telegram and Discord.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="run the whole pipeline offline on the synthetic market and write charts and text",
    )
    demo.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    demo.add_argument("--scenario", default="seed", help="synthetic scenario (default: seed)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    demo.set_defaults(func=_demo)

    console = sub.add_parser(
        "console", help="type bot commands at a prompt (no token needed); images go to files"
    )
    console.add_argument("--config", help="liqwatch TOML config (default: built-in defaults)")
    console.add_argument("--out", default="out/console", help="folder for chart images")
    console.set_defaults(func=_console)

    thread = sub.add_parser(
        "thread",
        help="compose the market-structure thread of a symbol (offline, on the synthetic market)",
    )
    thread.add_argument("symbol", nargs="?", default="BTC", help="market, e.g. BTC (default)")
    thread.add_argument(
        "--format",
        choices=("x", "telegram", "discord"),
        default="x",
        help="x: numbered posts of <= 280 characters; telegram: HTML; discord: Markdown",
    )
    thread.add_argument("--range", default="7d", help="look-back window (default: 7d)")
    thread.add_argument("--scenario", default="seed", help="synthetic scenario (default: seed)")
    thread.add_argument(
        "--candles", type=int, default=2016, help="5m candles to simulate (default: 2016)"
    )
    thread.set_defaults(func=_thread)

    run = sub.add_parser(
        "run",
        help="run the bot: scheduler, Telegram and Discord (those enabled) in one process",
    )
    run.add_argument("--config", help="liqwatch TOML config (default: built-in defaults)")
    run.set_defaults(func=_run)

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
    backtest.set_defaults(func=_backtest)

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
    export.set_defaults(func=_archive_export)

    check = sub.add_parser("check-config", help="validate a config file and list every problem")
    check.add_argument("path", help="path to a liqwatch TOML config")
    check.set_defaults(func=_check_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # PTB's future timedelta attributes (RetryAfter.retry_after …), so it does not warn
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
