"""Paging through exchange history and aligning side series to candles.

Pure helpers (no ccxt): the ccxt source plugs a page fetcher into :func:`walk_pages`
and feeds the collected rows to :func:`align_at_close` / :func:`fill_funding`.

Alignment conventions (gaps are marked with NaN, never invented):

* open interest and the long/short ratio are *snapshots* stamped with the time they were
  taken; a sample stamped ``T`` is the value at the close of the candle opening at
  ``T - candle_ms``. Samples as fine as the candles count only on exact matches — a candle
  with no sample at its close is NaN. Samples *coarser* than the candles (hourly open
  interest under 5m candles) are held: each candle closing within one sample interval
  after a sample takes that sample's value (the last one known then — never a later one),
  so the coarse series is not read as eleven gaps in twelve.
* a funding rate settled at ``F`` is in force from ``F`` until the next settlement, and
  fills the candles opening in ``[F, F + interval)``; the interval is the distance to the
  next settlement (the median spacing for the last one). Settlement stamps are floored to
  the minute (Binance stamps them a few ms late: ``1637193600017``). Before the first
  known settlement: NaN.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

import numpy as np

from core.models import FloatArray, IntArray

__all__ = ["MINUTE_MS", "Row", "align_at_close", "fill_funding", "walk_pages"]

MINUTE_MS = 60_000
#: One history row: its timestamp (ms) first, then the values.
Row = Sequence[float]
PageFetcher = Callable[[int, int, int], Awaitable[Sequence[Row]]]
#: empty windows in a row that end a backward walk (the market did not exist yet)
_BACKWARD_EMPTY_STOP = 2


async def walk_pages(
    fetch: PageFetcher,
    since: int,
    until: int,
    period_ms: int,
    page: int,
    walk: Literal["forward", "backward"],
) -> dict[int, Row]:
    """Collect the rows stamped in ``[since, until)``, each timestamp exactly once.

    ``fetch(start, end_inclusive, limit)`` returns rows for one window of at most
    ``page`` periods. Windows tile the range without overlap, walked oldest first
    (``forward``) or newest first (``backward``). Rows outside the window are dropped, so
    an exchange that returns a neighbour's rows cannot duplicate them.

    Empty windows: walking forward, every window up to ``until`` is asked for — an empty
    one is the time before the market was listed, or a gap (exchange downtime), and newer
    rows may follow either way; the number of windows is bounded by the range. Walking
    backward, two empty windows in a row end the walk: that is the time before listing
    (a gap of two whole pages or more is then not filled — a backward walk cannot tell it
    from the listing without asking all the way back).
    """
    if until <= since:
        return {}
    span = page * period_ms
    rows: dict[int, Row] = {}
    if walk == "forward":
        starts = range(since, until, span)
    else:
        starts = range(until - span, since - span, -span)
    empty_in_a_row = 0
    for raw_start in starts:
        start = max(raw_start, since)
        end = min(raw_start + span, until)
        limit = max(1, math.ceil((end - start) / period_ms))
        got = await fetch(start, end - 1, limit)
        kept = [row for row in got if start <= int(row[0]) < end]
        if not kept:
            empty_in_a_row += 1
            if walk == "backward" and empty_in_a_row >= _BACKWARD_EMPTY_STOP:
                break
            continue
        empty_in_a_row = 0
        for row in kept:
            rows.setdefault(int(row[0]), row)
    return dict(sorted(rows.items()))


def align_at_close(
    candle_times: IntArray, candle_ms: int, sample_times: IntArray, values: FloatArray
) -> FloatArray:
    """Snapshot values at each candle's close (``open + candle_ms``); NaN where none —
    held over their interval when the samples are coarser than the candles."""
    out = np.full(len(candle_times), np.nan)
    if len(sample_times) == 0 or len(candle_times) == 0:
        return out
    order = np.argsort(sample_times, kind="stable")
    times = np.asarray(sample_times, dtype=np.int64)[order]
    vals = np.asarray(values, dtype=np.float64)[order]
    closes = np.asarray(candle_times, dtype=np.int64) + candle_ms
    spacing = int(np.diff(times).min()) if len(times) > 1 else candle_ms  # a missing
    # sample must not widen it: the closest two samples give the interval
    if spacing > candle_ms:  # coarser than the candles: hold each sample for its interval
        at = np.searchsorted(times, closes, side="right") - 1
        ok = at >= 0
        ok[ok] = closes[ok] - times[at[ok]] < spacing
        out[ok] = vals[at[ok]]
        return out
    idx = np.searchsorted(times, closes).clip(0, len(times) - 1)
    hit = times[idx] == closes
    out[hit] = vals[idx[hit]]
    return out


def fill_funding(
    candle_times: IntArray,
    settle_times: IntArray,
    rates: FloatArray,
    default_interval_ms: int = 8 * 3_600_000,
) -> FloatArray:
    """The funding rate in force during each candle (see the module docstring)."""
    out = np.full(len(candle_times), np.nan)
    if len(settle_times) == 0 or len(candle_times) == 0:
        return out
    order = np.argsort(settle_times, kind="stable")
    settles = (np.asarray(settle_times, dtype=np.int64)[order] // MINUTE_MS) * MINUTE_MS
    vals = np.asarray(rates, dtype=np.float64)[order]
    gaps = np.diff(settles)
    last_gap = int(np.median(gaps)) if len(gaps) else default_interval_ms
    ends = np.append(settles[1:], settles[-1] + last_gap)
    ts = np.asarray(candle_times, dtype=np.int64)
    idx = np.searchsorted(settles, ts, side="right") - 1
    ok = idx >= 0
    ok[ok] &= ts[ok] < ends[idx[ok]]
    out[ok] = vals[idx[ok]]
    return out
