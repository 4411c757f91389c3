"""Scoring one archived map against the interval after it — the one computation behind the
live scorecard (:class:`~bot.analysis.archiver.Archiver`, from the store) and its offline
re-score (``liqwatch backtest`` on a folder from ``liqwatch archive export``, from the
folder's files), so the two give the same scores for the same hours.

For a map archived at ``t`` (its as-of: the open of its newest candle) the interval is
``[t + candle, t + candle + every)``: the hour after the map was shown. It is

* ``feed_down`` when any of the map's venues had its prints feed down at the map or at the
  next archived map (the feeds' state saved with each map), or missed more than a minute of
  the interval in the feed log (:mod:`bot.state.feeds`) — never scored as zero liquidations;
* ``no_map`` when no candle of the interval is known (its high and low are needed);
* otherwise scored by :func:`core.livescore.score_hour` against the prints of the interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from bot.state.archive import ArchivedMap
from bot.state.store import Store
from core.livescore import HourScore, Status, score_hour, unscored
from core.models import LiquidationPrints

__all__ = [
    "DownFn",
    "PrintsFn",
    "RangeFn",
    "down_at",
    "interval_of",
    "merge_prints",
    "no_gaps",
    "score_archived",
    "store_prints",
    "store_range",
]

#: ``(start, end)`` → the (high, low) of the candles in ``[start, end)``, None without any
RangeFn = Callable[[int, int], tuple[float, float] | None]
#: ``(venues, start, end)`` → the venues whose prints feed missed part of ``[start, end)``
DownFn = Callable[[Sequence[str], int, int], Sequence[str]]
#: ``(start, end)`` → the prints of ``[start, end)`` of every venue of the map, merged
PrintsFn = Callable[[int, int], LiquidationPrints]


def no_gaps(venues: Sequence[str], start: int, end: int) -> Sequence[str]:
    """A :data:`DownFn` for sources that carry their prints with the data."""
    return ()


def interval_of(m: ArchivedMap, candle_ms: int, every_ms: int) -> tuple[int, int]:
    """The interval the map is scored on: ``[time + candle, time + candle + every)``."""
    start = m.time + candle_ms
    return start, start + every_ms


def merge_prints(parts: Sequence[LiquidationPrints]) -> LiquidationPrints:
    """Several venues' prints as one batch, by time (stable: ties keep the venue order)."""
    parts = [p for p in parts if len(p.times)]
    if not parts:
        return LiquidationPrints.empty()
    if len(parts) == 1:
        return parts[0]
    times = np.concatenate([p.times for p in parts])
    order = np.argsort(times, kind="stable")
    return LiquidationPrints(
        times=times[order],
        sides=np.concatenate([p.sides for p in parts])[order],
        prices=np.concatenate([p.prices for p in parts])[order],
        notionals=np.concatenate([p.notionals for p in parts])[order],
    )


def store_prints(store: Store, symbol: str, venues: Sequence[str]) -> PrintsFn:
    """The stored prints of ``venues`` (blocking SQLite)."""

    def prints(start: int, end: int) -> LiquidationPrints:
        return merge_prints(
            [store.load_prints(ex, symbol, since=start, until=end - 1) for ex in venues]
        )

    return prints


def store_range(store: Store, symbol: str, venues: Sequence[str], timeframe: str) -> RangeFn:
    """The highest high and lowest low over the stored candles of ``venues`` (blocking)."""

    def hour_range(start: int, end: int) -> tuple[float, float] | None:
        highs: list[float] = []
        lows: list[float] = []
        for ex in venues:
            series = store.load_series(ex, symbol, timeframe, start, end - 1)
            if series is not None and len(series):
                highs.append(float(series.high.max()))
                lows.append(float(series.low.min()))
        return (max(highs), min(lows)) if highs else None

    return hour_range


def _status(status: Status) -> tuple[HourScore, HourScore]:
    return unscored("long", status), unscored("short", status)


def down_at(m: ArchivedMap, after: ArchivedMap | None) -> list[str]:
    """Venues whose feed was down when ``m`` or the map after it was archived."""
    down = [ex for ex in m.venues if not m.feeds.get(ex, False)]
    if after is not None:
        down += [ex for ex in m.venues if not after.feeds.get(ex, False) and ex not in down]
    return down


def score_archived(
    m: ArchivedMap,
    after: ArchivedMap | None,
    start: int,
    end: int,
    *,
    prints: PrintsFn,
    hour_range: RangeFn,
    down: DownFn = no_gaps,
) -> tuple[tuple[HourScore, HourScore], list[str]]:
    """Both sides of ``[start, end)`` against ``m`` and the venues found down (see the
    module docstring)."""
    missing = down_at(m, after)
    missing += [ex for ex in down(m.venues, start, end) if ex not in missing]
    if missing:
        return _status("feed_down"), missing
    extremes = hour_range(start, end)
    if extremes is None:
        return _status("no_map"), []
    high, low = extremes
    lm = m.map
    scores = score_hour(
        lm.grid.edges,
        lm.price,
        lm.long,
        lm.short,
        m.cluster_levels(),
        prints(start, end),
        high,
        low,
    )
    return scores, []
