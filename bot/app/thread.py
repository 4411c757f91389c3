"""``liqwatch thread``: the market-structure thread of one market, to paste or check.

Without ``--config`` it is composed on the synthetic market (offline); with one, on the
configured market (``[market]`` source, exchanges, timeframe, look-back), through the same
service path — source → store → analysis — a scheduled thread takes. An in-memory store is
used, so a running bot's storage file is neither needed nor locked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.analysis.params import sim_defaults
from bot.analysis.service import CoreEngine, MarketService
from bot.app.compose import build_service, build_sources
from bot.app.failures import Failure
from bot.commands.spec import ArgumentError
from bot.commands.values import parse_exchange, parse_range
from bot.market.errors import MarketError, UnknownSymbol
from bot.market.port import MarketSource
from bot.market.sim_source import SimSource
from bot.notify.alerts import merge_prints
from bot.notify.threads import DAY_MS, Thread, compose_thread, summarize_prints
from bot.reply import Range
from bot.state.store import Store
from core.charts.format import market_name
from core.models import LiquidationPrints, timeframe_ms

if TYPE_CHECKING:
    from bot.config.settings import Settings

__all__ = ["configured_thread", "sim_thread"]

TIMEFRAME = "5m"


async def sim_thread(symbol: str, range_label: str, scenario: str, candles: int) -> Thread:
    """The thread of ``symbol`` on the synthetic market; offline."""
    range_ = _range(range_label)
    source = SimSource(scenario=scenario, candles=candles)
    try:
        symbol = _resolve(source, symbol)
        series = (await source.snapshot(symbol, TIMEFRAME)).series
        end = int(series.timestamps[-1]) + timeframe_ms(TIMEFRAME)  # the sim's "now"
        with Store(":memory:") as store:
            service = MarketService(
                {source.name: source},
                store,
                timeframe=TIMEFRAME,
                clock=lambda: end,
                engine=CoreEngine(sim_defaults()),
            )
            view = await service.view(symbol, range_, source.name)
        prints = await source.fetch_prints(symbol, end - DAY_MS)
        return compose_thread(
            view.analysis, prints_summary=summarize_prints(prints, end - DAY_MS, end)
        )
    finally:
        await source.close()


async def configured_thread(
    settings: Settings, symbol: str, range_label: str, exchange: str
) -> Thread:
    """The thread of ``symbol`` on the market ``settings`` configure (``exchange``: an id
    or ``all``). A symbol, exchange or range that does not exist, or an exchange that cannot
    be reached, is a :class:`~bot.app.failures.Failure`."""
    range_ = _range(range_label)
    sources = build_sources(settings)
    try:
        choice = parse_exchange(exchange, tuple(sources))
        with Store(":memory:") as store:
            service = build_service(settings, store, sources)
            try:
                view = await service.view(symbol, range_, choice)
            except UnknownSymbol as err:
                raise _unknown(err, settings) from None
            except MarketError as err:
                raise Failure(
                    f"{market_name(symbol)} on {choice}: {err or type(err).__name__} — check the "
                    "network, or [exchanges.<id>] api_base_url in the config",
                    code=1,
                ) from None
            end = view.analysis.as_of + service.candle_ms
            since = end - DAY_MS
            parts = [await _prints(sources[ex], view.symbol, since) for ex in view.exchanges]
        prints = merge_prints([p for p in parts if p is not None and len(p)])
        summary = summarize_prints(prints, since, end) if prints is not None else None
        return compose_thread(view.analysis, prints_summary=summary)
    except ArgumentError as err:
        raise Failure(str(err)) from None
    finally:
        for source in sources.values():
            await source.close()


async def _prints(source: MarketSource, symbol: str, since: int) -> LiquidationPrints | None:
    """The source's reported prints (exchanges only stream theirs: none offline)."""
    try:
        return await source.fetch_prints(symbol, since)
    except (MarketError, NotImplementedError):
        return None


def _range(label: str) -> Range:
    try:
        return parse_range(label)
    except ArgumentError as err:
        raise Failure(f"--range: {err}") from None


def _resolve(source: SimSource, symbol: str) -> str:
    try:
        return source.resolve(symbol)
    except UnknownSymbol as err:
        raise _unknown(err, None) from None


def _unknown(err: UnknownSymbol, settings: Settings | None) -> Failure:
    hint = f" Did you mean {', '.join(err.suggestions)}?" if err.suggestions else ""
    tracked = ", ".join(settings.market.symbols) if settings is not None else "BTC, ETH, SOL"
    return Failure(
        f"Unknown symbol '{err.query}'.{hint} Tracked here: {tracked} "
        "(to add one, list it in [market] symbols of the config)."
    )
