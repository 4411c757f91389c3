"""The archiver: while ``liqwatch run`` runs, every watched market's map is archived at the
``[archive] every`` cadence exactly as :class:`~bot.analysis.service.MarketService` shows it,
and each archived map is scored against the real prints of the interval after it.

One cycle (:meth:`Archiver.cycle`), per symbol:

1. the view over every exchange (``"all"``) — the same analysis ``/map`` shows — is archived
   with its clusters, zones and the prints feeds' state (:class:`~bot.state.archive.MapArchive`);
2. every archived map whose following interval ``[map time + candle, … + every)`` is now
   complete and not yet scored is scored (:func:`bot.analysis.rescore.score_archived`, the
   computation ``liqwatch backtest`` repeats on an exported folder) against the prints and
   candles stored for that interval, per side (:class:`~bot.state.scorecard.ScoreBook`).
   An interval during which any venue's prints feed was down — at either archived map, or
   for more than a minute of it in the feed log (``down``, :mod:`bot.state.feeds`) — is
   recorded as ``feed_down``, never as zero liquidations;
3. archive rows older than ``keep`` are pruned (scores are kept at least 30 days, for the
   30-day window).

Cycles run at the multiples of ``every`` on the service clock, ``settle_ms`` after them (so
the prints of the interval's last seconds are stored before it is scored). On the synthetic
market that clock runs ``speed`` times faster than real time (``market.sim_step``): the
archiver waits in the market's time, so an hour of the market is archived and scored every
market hour, not every real hour.

Market errors of one symbol are logged and the others still archived.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.analysis.rescore import (
    DownFn,
    interval_of,
    no_gaps,
    score_archived,
    store_prints,
    store_range,
)
from bot.analysis.service import MarketService
from bot.market.errors import MarketError
from bot.reply import Range
from bot.state.archive import ArchivedMap, MapArchive
from bot.state.scorecard import WINDOWS, ScoreBook
from bot.state.store import Store
from core.livescore import HourScore

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
        down: DownFn = no_gaps,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        speed: float = 1.0,
        settle_ms: int = 0,
    ) -> None:
        self.service = service
        self.archive = archive
        self.scores = scores
        self.symbols = tuple(dict.fromkeys(symbols))
        self.range = range_
        self.every_ms = every_ms
        self.keep_ms = keep_ms
        self.feeds = feeds
        #: venues whose prints feed missed part of an interval (the feed log)
        self.down = down
        self.sleep = sleep
        #: service-clock ms per real ms (the synthetic market's accelerated clock)
        self.speed = speed if speed > 0 else 1.0
        self.settle_ms = settle_ms

    async def run(self, stop: asyncio.Event) -> None:
        """Cycle at the cadence (aligned to its multiples of the clock) until ``stop``."""
        while not stop.is_set():
            try:
                await self.cycle()
            except Exception:  # a bug in one cycle must not end the archive
                log.exception("archive cycle failed")
            await self.sleep(self.wait_s(self.service.clock()))

    def wait_s(self, now: int) -> float:
        """Real seconds from ``now`` (service clock) to the next cycle."""
        wait_ms = self.every_ms - (now - self.settle_ms) % self.every_ms
        return wait_ms / self.speed / 1000

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
            feeds = dict(await asyncio.to_thread(self.feeds, view.exchanges))
            size = await asyncio.to_thread(
                self.archive.save, view.symbol, view.exchanges, a.map, a.clusters, a.zones, feeds
            )
            archived += size > 0
            written += size
            # the close of the newest candle — or now, when that candle is still forming (an
            # exchange's newest candle is stored while it forms): no interval is scored
            # before it is over
            end = min(a.as_of + self.service.candle_ms, self.service.clock())
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
            start, end = interval_of(m, candle, self.every_ms)
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
        assert isinstance(store, Store)  # the archive lives in the store's database
        scores, down = score_archived(
            m,
            after,
            start,
            end,
            prints=store_prints(store, m.symbol, m.venues),
            hour_range=store_range(store, m.symbol, m.venues, self.service.timeframe),
            down=self.down,
        )
        if down:
            log.info("%s: prints feed down on %s, interval not scored", m.symbol, ",".join(down))
        return scores
