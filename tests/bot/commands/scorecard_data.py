"""A live scorecard filled from the simulated market whose true map is known: every hour of
the run scored (:func:`core.livescore.score_hour`) against the market's true map at the hour's
start and the clusters found on it, as the archiver would have scored a perfect estimate.
Shared by the /accuracy tests of the commands and of both platform adapters."""

from __future__ import annotations

import functools

from bot.state.scorecard import ScoreBook
from bot.state.store import Store
from core.clusters import find_clusters
from core.livescore import HourScore, score_hour
from core.models import LiquidationPrints
from core.results import PriceGrid
from core.sim import simulate

H = 3_600_000
SYMBOL = "BTC/USDT:USDT"


@functools.lru_cache(maxsize=2)
def scored_hours(
    candles: int = 2016 * 2, seed: int = 7
) -> tuple[tuple[int, HourScore, HourScore], ...]:
    """(hour start, long, short) for every whole hour of the simulated run after the first."""
    m = simulate("seed", seed=seed, candles=candles)
    s, p = m.series, m.snapshot.prints
    out = []
    for h in range(1, len(s) // 12 - 1):
        i = h * 12 - 1
        price = float(s.close[i])
        grid = PriceGrid.around(price * 0.85, price * 1.15, 400)
        start = int(s.timestamps[i]) + 300_000
        keep = (p.times >= start) & (p.times < start + H)
        hour = LiquidationPrints(p.times[keep], p.sides[keep], p.prices[keep], p.notionals[keep])
        tm = m.true_map(grid, i)
        clusters = [(c.side, c.price) for c in find_clusters(tm)]
        high, low = float(s.high[i + 1 : i + 13].max()), float(s.low[i + 1 : i + 13].min())
        long, short = score_hour(grid.edges, tm.price, tm.long, tm.short, clusters, hour, high, low)
        out.append((start, long, short))
    return tuple(out)


def fill(store: Store, now: int, hours: int, venues: tuple[str, ...] = ("sim",)) -> int:
    """Save the last ``hours`` scored hours so that the newest ends at ``now``; returns the
    start of the oldest."""
    rows = scored_hours()[-hours:]
    shift = now - (rows[-1][0] + H)
    book = ScoreBook(store)
    for start, long, short in rows:
        book.save(SYMBOL, venues, start + shift, [long, short])
    return rows[0][0] + shift
