"""The live scorecard in ``liqwatch demo``: the synthetic market's forced closes are its
liquidation prints, so the demo can show a real ``/accuracy`` with no network.

The walk (:func:`demo_scorecard`) replays the simulated week the way ``liqwatch run`` lives
through it: a clock starts ``WARMUP`` into the run and moves one archive interval at a time;
at each step the real :class:`~bot.analysis.archiver.Archiver` archives the map the bot would
show then (the sim source shows only the candles closed and the prints made by that clock,
so no map sees its future) and scores the hour after the previous map against the prints
of that hour. The clock of the market, the service and the archiver is one clock. The
``/accuracy`` reply is then built by the real command and written as text and a PNG.

Each refresh asks the sim for the prints made since the previous one (``liqwatch run``'s
refresh asks for the whole look-back each time, which the store de-duplicates; the same rows,
a third faster here). Six days of hourly maps take ~8 s, almost all of it the 144 analyses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Final

from bot.analysis.archiver import Archiver
from bot.analysis.params import sim_defaults
from bot.analysis.service import CoreEngine, MarketService
from bot.commands.accuracy_cmds import AccuracyCommands
from bot.commands.market_cmds import CommandDefaults
from bot.commands.spec import Call
from bot.market.port import MarketSource
from bot.market.refresh import RefreshResult, refresh_series
from bot.market.sim_source import SimMarketSpec, SimSource
from bot.reply import CallContext, Range, Reply
from bot.reply.text import render_reply
from bot.state.archive import MapArchive
from bot.state.scorecard import ScoreBook
from bot.state.store import Store

__all__ = ["DemoScorecard", "demo_scorecard"]

_H: Final = 3_600_000
#: the first map is archived this far into the simulated week (it needs history to show)
WARMUP: Final = 24 * _H
#: the view archived each hour (the bot's default range)
VIEW: Final = Range("24h", 24 * _H)


def _incremental_refresh() -> Callable[..., Awaitable[RefreshResult]]:
    """Candles as every refresh does, and only the prints made since the last refresh."""
    seen: dict[str, int] = {}

    async def refresh(
        source: MarketSource, store: Store, symbol: str, timeframe: str, lookback: int, now: int
    ) -> RefreshResult:
        result = await refresh_series(source, store, symbol, timeframe, lookback, now)
        prints = await source.fetch_prints(result.symbol, seen.get(result.symbol, now - lookback))
        if len(prints):
            await asyncio.to_thread(store.save_prints, source.name, result.symbol, prints)
        seen[result.symbol] = now
        return result

    return refresh


class DemoScorecard:
    """What the walk produced: the reply, its files, how many hours, how long it took."""

    def __init__(self, reply: Reply, files: tuple[Path, ...], hours: int, seconds: float):
        self.reply = reply
        self.files = files
        self.hours = hours
        self.seconds = seconds


async def demo_scorecard(
    out_dir: Path,
    *,
    scenario: str,
    markets: Mapping[str, SimMarketSpec],
    symbol: str,
    candles: int,
    every_ms: int = _H,
) -> DemoScorecard:
    """Archive and score ``symbol`` through the simulated run, then ``/accuracy`` it."""
    started = time.perf_counter()
    probe = SimSource(scenario=scenario, candles=candles, markets=markets)
    end = probe.end_ms
    now = [probe.start_ms + WARMUP]
    source = SimSource(scenario=scenario, candles=candles, markets=markets, clock=lambda: now[0])
    try:
        with Store(":memory:") as store:
            service = MarketService(
                {source.name: source},
                store,
                lookback_ms=VIEW.ms,
                engine=CoreEngine(sim_defaults()),
                clock=lambda: now[0],
                refresh=_incremental_refresh(),
            )
            archiver = Archiver(
                service,
                MapArchive(store),
                ScoreBook(store),
                [symbol],
                range_=VIEW,
                every_ms=every_ms,
            )
            hours = 0
            while now[0] <= end:
                hours += (await archiver.cycle()).scored
                now[0] += every_ms
            now[0] = end
            label = f"{max(1, (end - probe.start_ms - WARMUP) // (24 * _H))}d"
            range_ = Range(label, end - probe.start_ms - WARMUP)
            commands = AccuracyCommands(service, CommandDefaults(symbol=symbol))
            (spec,) = commands.specs()
            args = {"symbol": symbol, "range": range_}
            call = Call(CallContext("console", "demo", "demo"), args, spec)
            reply = await commands.accuracy(call)
    finally:
        await source.close()
        await probe.close()
    text_path = out_dir / "accuracy.txt"
    text_path.write_text(render_reply(reply, "console") + "\n", encoding="utf-8")
    png_path = out_dir / "accuracy.png"
    png_path.write_bytes(reply.images[0].data)
    return DemoScorecard(reply, (text_path, png_path), hours, time.perf_counter() - started)
