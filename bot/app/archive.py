"""The archive in the composition root: :func:`archiver_component` (the archiver of
``liqwatch run``) and ``liqwatch archive export SYMBOL --since … --out DIR`` — the archive
and what was collected with it, as a backtest folder anyone can re-score offline
(``liqwatch backtest DIR``).

The folder holds the layout :mod:`bot.market.backtest_folder` reads — ``meta.json``,
``candles.csv``, ``open_interest.csv``, ``liquidations.csv`` (the prints summed per candle)
and ``prints.csv`` — plus ``archive.jsonl``: one archived map per line, as it was shown
(``time``, ``price``, grid ``edges``, the non-empty bins of each side as ``[bin, usd]``
pairs, ``clusters``, ``zones``, ``feeds``). Candles and open interest are the first
archived venue's; prints are every archived venue's, merged.
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
from bot.analysis.service import MarketService
from bot.app.runtime import Component, interruptible_sleep
from bot.config.fields import parse_duration
from bot.config.settings import Settings
from bot.market.backtest_folder import BacktestMeta, write_backtest_folder
from bot.market.port import resolve_symbol
from bot.reply import Range
from bot.state.archive import ArchivedMap, MapArchive
from bot.state.scorecard import ScoreBook
from bot.state.store import Store
from core.models import LiquidationPrints, timeframe_ms
from core.scoring import RealLiquidations

__all__ = ["ExportError", "archiver_component", "export_archive", "main", "parse_since"]


def archiver_component(
    settings: Settings,
    service: MarketService,
    store: Store,
    symbols: Sequence[str],
    range_: Range,
    watchers: Mapping[str, Any],
) -> Component:
    """The archiver as a component of ``liqwatch run``: archives ``symbols`` at the
    ``[archive]`` cadence; a venue's prints feed is up when its watcher (``watchers``, by
    exchange: anything with ``status().connected``) is connected — always on the sim and
    replay sources, whose prints come with the data."""

    def feeds(exchanges: Sequence[str]) -> dict[str, bool]:
        return {
            ex: bool(watchers[ex].status().connected) if ex in watchers else True
            for ex in exchanges
        }

    stop = asyncio.Event()
    archiver = Archiver(
        service,
        MapArchive(store),
        ScoreBook(store),
        symbols,
        range_=range_,
        every_ms=settings.archive.every,
        keep_ms=settings.archive.keep,
        feeds=feeds,
        sleep=interruptible_sleep(stop),
    )
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        tasks.append(asyncio.get_running_loop().create_task(archiver.run(stop), name="archive"))

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


def _map_line(m: ArchivedMap) -> str:
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
    }
    return json.dumps(doc, separators=(",", ":"))


def export_archive(
    store: Store, query: str, since: str, out: Path, timeframe: str
) -> tuple[Path, int]:
    """Write the backtest folder of ``query`` from ``since``; (folder, maps written)."""
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
    text = "".join(_map_line(m) + "\n" for m in maps)
    (folder / "archive.jsonl").write_text(text, encoding="utf-8")
    return folder, len(maps)


def main(args: argparse.Namespace, settings: Settings) -> int:
    """The sub-command: prints where it wrote, or one line saying what is missing (exit 2)."""
    with Store(settings.storage.path) as store:
        try:
            folder, maps = export_archive(
                store, args.symbol, args.since, Path(args.out), settings.market.timeframe
            )
        except ExportError as err:
            print(f"liqwatch archive export: {err}", file=sys.stderr)
            return 2
    print(f"{folder}: {maps} archived maps, candles, open interest and prints")
    print(f"re-score it with: liqwatch backtest {folder}")
    return 0
