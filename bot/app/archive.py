"""The archive in the composition root: :func:`archiver_component` (the archiver of
``liqwatch run``) and ``liqwatch archive export SYMBOL --since … --out DIR`` — the archive
and what was collected with it, as a backtest folder anyone can re-score offline
(``liqwatch backtest DIR``).

The folder holds the layout :mod:`bot.market.backtest_folder` reads — ``meta.json``,
``candles.csv``, ``open_interest.csv``, ``liquidations.csv`` (the prints summed per candle)
and ``prints.csv`` — plus ``archive.jsonl``: one archived map per line, as it was shown
(``time``, ``price``, grid ``edges``, the non-empty bins of each side as ``[bin, usd]``
pairs, ``clusters``, ``zones``, ``feeds``, the cadence ``every_ms``, and ``after``: the
``[high, low]`` of the interval the map is scored on, over every archived venue's candles,
null while that interval is not complete) and ``coverage.json``: the prints-feed log of the
streamed venues (:mod:`bot.state.feeds`). Candles and open interest are the first archived
venue's; prints are every archived venue's, merged. ``liqwatch backtest`` re-scores the maps
from these files with the live scorecard's own computation (:mod:`bot.analysis.rescore`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bot.analysis.archiver import Archiver
from bot.analysis.feedwatch import FeedMonitor
from bot.analysis.rescore import interval_of, store_range
from bot.analysis.service import MarketService
from bot.app.runtime import Component, interruptible_sleep
from bot.config.fields import parse_duration
from bot.config.settings import Settings
from bot.market.backtest_folder import BacktestMeta, write_backtest_folder
from bot.market.port import resolve_symbol
from bot.reply import Range
from bot.state.archive import ArchivedMap, MapArchive
from bot.state.feeds import FeedLog
from bot.state.scorecard import ScoreBook
from bot.state.store import Store
from core.models import LiquidationPrints, timeframe_ms
from core.scoring import RealLiquidations

__all__ = ["ExportError", "archiver_component", "export_archive", "main", "parse_since"]

#: the archive cycle runs this long after each multiple of ``every`` on a real clock: the
#: prints of an interval's last second are flushed (every second) and stored by then
SETTLE_MS = 15_000


def archiver_component(
    settings: Settings,
    service: MarketService,
    store: Store,
    symbols: Sequence[str],
    range_: Range,
    watchers: Mapping[str, Any],
) -> Component:
    """The archiver as a component of ``liqwatch run``: archives ``symbols`` at the
    ``[archive]`` cadence, and a :class:`~bot.analysis.feedwatch.FeedMonitor` samples the
    prints watchers (``watchers``, by exchange) into the feed log, so an interval with a
    venue's feed down is not scored. A venue without a watcher (the sim and replay sources,
    whose prints come with the data) is always up. On the synthetic market the archiver keeps
    the market's accelerated time (its clock's ``speed``)."""
    feed_log = FeedLog(store)
    monitor = FeedMonitor(watchers, feed_log, clock=service.clock)
    stop = asyncio.Event()
    speed = float(getattr(service.clock, "speed", 1.0))
    archiver = Archiver(
        service,
        MapArchive(store),
        ScoreBook(store),
        symbols,
        range_=range_,
        every_ms=settings.archive.every,
        keep_ms=settings.archive.keep,
        feeds=monitor.feeds,
        down=feed_log.down,
        sleep=interruptible_sleep(stop),
        speed=speed,
        settle_ms=SETTLE_MS if speed == 1.0 else 0,
    )
    monitor.sleep = interruptible_sleep(stop)
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        await asyncio.to_thread(monitor.start)
        loop = asyncio.get_running_loop()
        if watchers:
            tasks.append(loop.create_task(monitor.run(stop), name="prints feed monitor"))
        tasks.append(loop.create_task(archiver.run(stop), name="archive"))

    async def close() -> None:
        stop.set()
        for task in tasks:
            await task

    return Component("map archive", start, close)


class ExportError(Exception):
    """Nothing (or not enough) to export; the message says what to do."""


def parse_since(text: str, latest_ms: int) -> int:
    """``"7d"`` (before the newest stored candle), ``"2026-01-05"`` or an ISO time (UTC)."""
    try:
        return latest_ms - parse_duration(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ExportError(
            f"--since {text!r}: give a duration like 7d or a date like 2026-01-05"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _map_line(m: ArchivedMap, every_ms: int, after: tuple[float, float] | None) -> str:
    def sparse(values: np.ndarray) -> list[list[float]]:
        return [[int(i), float(values[i])] for i in np.flatnonzero(values)]

    doc = {
        "symbol": m.symbol,
        "venues": list(m.venues),
        "time": m.time,
        "price": m.map.price,
        "edges": m.map.grid.edges.tolist(),
        "log_grid": m.map.grid.log,
        "long": sparse(m.map.long),
        "short": sparse(m.map.short),
        "clusters": [{**vars(c), "side": int(c.side)} for c in m.clusters],
        "zones": [{**vars(z), "side": int(z.side)} for z in m.zones],
        "feeds": dict(m.feeds),
        "every_ms": every_ms,
        "after": None if after is None else list(after),
    }
    return json.dumps(doc, separators=(",", ":"))


def export_archive(
    store: Store,
    query: str,
    since: str,
    out: Path,
    timeframe: str,
    every_ms: int = 3_600_000,
) -> tuple[Path, int]:
    """Write the backtest folder of ``query`` from ``since``; (folder, maps written).

    ``every_ms`` is the archive cadence the maps were scored at (``[archive] every``)."""
    archive = MapArchive(store)
    markets = archive.markets()
    if not markets:
        raise ExportError("the archive is empty — run `liqwatch run` to collect maps first")
    try:
        symbol = resolve_symbol(query, {s for s, _ in markets})
    except Exception:
        names = ", ".join(sorted({s for s, _ in markets}))
        raise ExportError(f"{query!r}: nothing archived for it (archived: {names})") from None
    venues = max((v for s, v in markets if s == symbol), key=len)
    exchange = venues[0]
    latest = store.last_candle_time(exchange, symbol, timeframe)
    if latest is None:
        raise ExportError(f"no {timeframe} candles of {symbol} on {exchange} are stored")
    start = parse_since(since, latest)
    series = store.load_series(exchange, symbol, timeframe, since=start)
    if series is None or series.open_interest is None:
        raise ExportError(f"no candles with open interest of {symbol} since {since} in the store")
    candle = timeframe_ms(timeframe)
    end = int(series.timestamps[-1]) + candle - 1
    prints = LiquidationPrints.merged(
        [store.load_prints(ex, symbol, since=start, until=end) for ex in venues]
    )
    real = RealLiquidations.from_prints(prints, series.timestamps, candle)
    meta = BacktestMeta(
        exchange=exchange,
        symbol=symbol,
        timeframe=timeframe,
        description=f"liqwatch archive export of {symbol} ({','.join(venues)})",
        provenance={
            "recorded_by": "liqwatch archive export",
            "liquidations": "the stored liquidation prints summed per candle",
            "prints": f"liquidation prints streamed from {', '.join(venues)}",
        },
    )
    folder = write_backtest_folder(out, meta=meta, series=series, real=real, prints=prints)
    maps = archive.load(symbol, venues, since=start, until=end)
    hour_range = store_range(store, symbol, venues, timeframe)
    lines = []
    for m in maps:
        lo, hi = interval_of(m, candle, every_ms)
        lines.append(_map_line(m, every_ms, hour_range(lo, hi) if hi <= end + 1 else None))
    (folder / "archive.jsonl").write_text("".join(f"{line}\n" for line in lines), "utf-8")
    records = FeedLog(store).records()
    coverage = {
        ex: {"spans": [list(s) for s in records[ex].spans]} for ex in venues if ex in records
    }
    doc = {"streamed": coverage, "note": "venues not listed carry their prints with the data"}
    (folder / "coverage.json").write_text(json.dumps(doc) + "\n", encoding="utf-8")
    return folder, len(maps)


def main(args: argparse.Namespace, settings: Settings) -> int:
    """The sub-command: prints where it wrote, or one line saying what is missing (exit 2).

    A reader: it takes no lock, so it runs beside the bot that collects the archive; a
    storage file that is missing or damaged is refused untouched (:func:`open_storage`)."""
    from bot.app.failures import open_storage

    with open_storage(
        settings.storage.path, "archive export", lock=False, must_exist=True
    ) as store:
        try:
            folder, maps = export_archive(
                store,
                args.symbol,
                args.since,
                Path(args.out),
                settings.market.timeframe,
                settings.archive.every,
            )
        except ExportError as err:
            print(f"liqwatch archive export: {err}", file=sys.stderr)
            return 2
    print(f"{folder}: {maps} archived maps, candles, open interest and prints")
    print(f"re-score it with: liqwatch backtest {folder}")
    return 0
