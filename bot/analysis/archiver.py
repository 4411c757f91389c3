"""The archiver: while ``liqwatch run`` runs, every watched market's map is archived at the
``[archive] every`` cadence exactly as :class:`~bot.analysis.service.MarketService` shows it,
and each archived map is scored against the real prints of the interval after it.

One cycle (:meth:`Archiver.cycle`), per symbol:

1. the view over every exchange (``"all"``) — the same analysis ``/map`` shows — is archived
   with its clusters, zones and the prints feeds' state (:class:`~bot.state.archive.MapArchive`);
2. every archived map whose following interval ``[map time + candle, … + every)`` is now
   complete and not yet scored is scored (:func:`core.livescore.score_hour`) against the
   prints and candles stored for that interval, per side (:class:`~bot.state.scorecard.ScoreBook`).
   An interval during which any venue's prints feed was down (at either end) is recorded as
   ``feed_down``, never as zero liquidations;
3. archive rows older than ``keep`` are pruned (scores are kept at least 30 days, for the
   30-day window).

Market errors of one symbol are logged and the others still archived.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.analysis.service import MarketService
from bot.market.errors import MarketError
from bot.reply import Range
from bot.state.archive import ArchivedMap, MapArchive
from bot.state.scorecard import WINDOWS, ScoreBook
from core.livescore import HourScore, Status, score_hour, unscored
from core.models import LiquidationPrints

__all__ = ["Archiver", "CycleResult", "FeedsFn"]

log = logging.getLogger(__name__)

#: exchange ids → is its liquidation-prints feed up now
FeedsFn = Callable[[Sequence[str]], Mapping[str, bool]]


def _all_up(exchanges: Sequence[str]) -> Mapping[str, bool]:
    return dict.fromkeys(exchanges, True)


@dataclass(frozen=True)
class CycleResult:
    """What one cycle did: maps archived (and their bytes), intervals scored."""

    archived: int
    bytes: int
    scored: int
    failed: tuple[str, ...]


class Archiver:
    """Archive and score the watched markets on a cadence (see the module docstring)."""

    def __init__(
        self,
        service: MarketService,
        archive: MapArchive,
        scores: ScoreBook,
        symbols: Sequence[str],
        *,
        range_: Range,
        every_ms: int = 3_600_000,
        keep_ms: int = 30 * 86_400_000,
        feeds: FeedsFn = _all_up,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.service = service
        self.archive = archive
        self.scores = scores
        self.symbols = tuple(dict.fromkeys(symbols))
        self.range = range_
        self.every_ms = every_ms
        self.keep_ms = keep_ms
        self.feeds = feeds
        self.sleep = sleep

    async def run(self, stop: asyncio.Event) -> None:
        """Cycle at the cadence (aligned to its multiples of the clock) until ``stop``."""
        while not stop.is_set():
            try:
                await self.cycle()
            except Exception:  # a bug in one cycle must not end the archive
                log.exception("archive cycle failed")
            now = self.service.clock()
            await self.sleep((self.every_ms - now % self.every_ms) / 1000)

    async def cycle(self) -> CycleResult:
        """Archive every symbol once, score what became scorable, prune."""
        archived = written = scored = 0
        failed: list[str] = []
        for symbol in self.symbols:
            try:
                view = await self.service.view(symbol, self.range, "all")
            except MarketError as err:
                log.warning("archive: %s not archived: %s", symbol, err)
                failed.append(symbol)
                continue
            a = view.analysis
            feeds = dict(self.feeds(view.exchanges))
            size = await asyncio.to_thread(
                self.archive.save, view.symbol, view.exchanges, a.map, a.clusters, a.zones, feeds
            )
            archived += size > 0
            written += size
            end = a.as_of + self.service.candle_ms  # close of the newest candle
            scored += await asyncio.to_thread(self.score_pending, view.symbol, view.exchanges, end)
        now = self.service.clock()
        await asyncio.to_thread(self.archive.prune, now - self.keep_ms)
        await asyncio.to_thread(self.scores.prune, now - max(self.keep_ms, WINDOWS["30d"]))
        return CycleResult(archived, written, scored, tuple(failed))

    def score_pending(self, symbol: str, venues: Sequence[str], data_end: int) -> int:
        """Score every archived map whose interval ended by ``data_end``; returns how many.

        Blocking (SQLite and numpy): runs in a worker thread.
        """
        candle = self.service.candle_ms
        last = self.scores.last_hour(symbol, venues)
        since = None if last is None else last - candle + 1
        maps = self.archive.load(symbol, venues, since=since, until=data_end)
        done = 0
        for i, m in enumerate(maps):
            start = m.time + candle
            end = start + self.every_ms
            if end > data_end or (last is not None and start <= last):
                continue
            after = maps[i + 1] if i + 1 < len(maps) else None
            scores = self.score_interval(m, after, start, end)
            self.scores.save(symbol, venues, start, scores)
            done += 1
        return done

    def score_interval(
        self, m: ArchivedMap, after: ArchivedMap | None, start: int, end: int
    ) -> tuple[HourScore, HourScore]:
        """Both sides of ``[start, end)`` against ``m`` (``after``: the next archived map)."""
        store = self.service.store
        down = [ex for ex in m.venues if not m.feeds.get(ex, False)]
        if after is not None:
            down += [ex for ex in m.venues if not after.feeds.get(ex, False) and ex not in down]
        if down:
            log.info("%s: prints feed down on %s, interval not scored", m.symbol, ",".join(down))
            return _status("feed_down")
        parts = [store.load_prints(ex, m.symbol, since=start, until=end - 1) for ex in m.venues]
        prints = LiquidationPrints.merged(parts)
        highs: list[float] = []
        lows: list[float] = []
        for ex in m.venues:
            series = store.load_series(ex, m.symbol, self.service.timeframe, start, end - 1)
            if series is not None and len(series):
                highs.append(float(series.high.max()))
                lows.append(float(series.low.min()))
        if not highs:
            return _status("no_map")
        lm = m.map
        return score_hour(
            lm.grid.edges,
            lm.price,
            lm.long,
            lm.short,
            m.cluster_levels(),
            prints,
            max(highs),
            min(lows),
        )


def _status(status: Status) -> tuple[HourScore, HourScore]:
    return unscored("long", status), unscored("short", status)
