"""The map archive and the live scorecard: bytes and time (``python bench/archive.py``).

20 synthetic markets (the sim source, default ``[model]`` settings: 400 bins, the 24 h view
the bot shows by default) are archived hourly by the same :class:`~bot.analysis.archiver.Archiver`
``liqwatch run`` uses, into a SQLite file. Printed:

1. **bytes per market per day** at the default hourly cadence: the mean stored payload of a
   map × 24, and the growth of the database file per market per day (pages included);
2. **scorecard update time for 20 markets**: re-scoring the newest hour of every market
   (prints and candles read from SQLite, scored, written), median of 5 runs;
3. the 24 h / 7 d / 30 d scorecard query time for one market and side (a month of hours).

Benchmarks measure; they never fail the build on a number.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.analysis.archiver import Archiver
from bot.analysis.params import analysis_params
from bot.analysis.service import CoreEngine, MarketService
from bot.config.settings import ModelSettings
from bot.market.sim_source import SimMarketSpec, SimSource
from bot.reply import Range
from bot.state.archive import MapArchive
from bot.state.scorecard import WINDOWS, ScoreBook
from bot.state.store import Store

H = 3_600_000
MARKETS = 20
CYCLES = 4


async def main() -> None:
    specs = {
        f"C{i:02d}/USDT:USDT": SimMarketSpec(seed=100 + i, start_price=10.0 * (i + 1))
        for i in range(MARKETS)
    }
    source = SimSource(candles=2016, markets=specs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        with Store(path) as store:
            now = [source.start_ms + 2 * 86_400_000]
            service = MarketService(
                {"sim": source},
                store,
                lookback_ms=86_400_000,
                engine=CoreEngine(analysis_params(ModelSettings(), synthetic=True)),
                clock=lambda: now[0],
            )
            archiver = Archiver(
                service,
                MapArchive(store),
                ScoreBook(store),
                list(specs),
                range_=Range("24h", 24 * H),
            )
            await archiver.cycle()  # the first fills the candle cache
            with store.locked() as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            before = path.stat().st_size
            cycle_s = []
            for _ in range(CYCLES):
                now[0] += H
                t0 = time.perf_counter()
                await archiver.cycle()
                cycle_s.append(time.perf_counter() - t0)
            with store.locked() as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            maps, payload = archiver.archive.size_bytes()
            grown = path.stat().st_size - before
            per_map = payload / maps
            print(f"archive: {maps} maps of {MARKETS} markets, 400 bins, hourly")
            print(f"  payload per map                 {per_map:8.0f} B")
            print(f"  bytes per market per day        {per_map * 24:8.0f} B  (payload × 24)")
            file_day = grown / (MARKETS * CYCLES) * 24
            print(f"  database growth per market/day  {file_day:8.0f} B  (candles, prints too)")
            print(
                f"  archiver cycle, {MARKETS} markets      {statistics.median(cycle_s):8.2f} s  "
                "(analyses included)"
            )

            data_end = now[0]
            runs = []
            for _ in range(5):
                with store.locked(write=True) as conn:
                    last = conn.execute("SELECT max(hour) FROM live_scores").fetchone()[0]
                    conn.execute("DELETE FROM live_scores WHERE hour = ?", (last,))
                t0 = time.perf_counter()
                done = 0
                for symbol in specs:
                    done += archiver.score_pending(symbol, ("sim",), data_end + 300_000)
                runs.append(time.perf_counter() - t0)
            print(
                f"scorecard update, {MARKETS} markets ({done} hours)  "
                f"{statistics.median(runs) * 1000:8.1f} ms"
            )
            book, symbol = archiver.scores, next(iter(specs))
            hour = book.hours(symbol, "long", since=0, until=data_end)[-1][1]
            other = book.hours(symbol, "short", since=0, until=data_end)[-1][1]
            for h in range(1, 30 * 24):  # a month of hours for the 30 d query
                book.save(symbol, ("sim",), data_end - h * H - 10 * H, [hour, other])
            t0 = time.perf_counter()
            for window in WINDOWS.values():
                book.scorecard(symbol, "long", window_ms=window, now=data_end)
            print(
                f"scorecard query, 24h+7d+30d (720 h)   {(time.perf_counter() - t0) * 1000:8.1f} ms"
            )
            for source_ in service.sources.values():
                await source_.close()


if __name__ == "__main__":
    asyncio.run(main())
