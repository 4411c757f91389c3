"""Point-in-time backtest of the level model against real liquidations.

Every candle ``t`` after the warm-up is estimated as the bot would have estimated it then:
from the ``lookback`` candles before it and candle ``t``'s own high and low
(:func:`core.pointintime.point_in_time`). Nothing of candle ``t`` or later enters the
estimate for ``t`` — no open interest, volume or close.

**Cluster hits.** Every ``map_every`` candles (from the warm-up on) the map of the
``lookback`` candles before that moment is estimated and its top clusters read, as the bot
would have reported them (:func:`core.clusters.find_clusters`). A candle of the following
``map_every`` *hits* a long cluster when its low reaches the cluster's price for the first
time since that map (a short cluster: its high), so the cluster-hit lift of
:func:`core.scoring.score` compares bars in which price reached a reported cluster with
matched bars that did not.

**Placebo.** :func:`flat_open_interest` replaces open interest by its mean wherever it is
known: the same model with the open-interest information removed. A model whose estimate
does not beat its own placebo gets nothing from open interest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from core.clusters import find_clusters
from core.levels import EngineParams, default_grid, run_engine
from core.models import FloatArray, MarketSeries, ModelError, Side
from core.pointintime import point_in_time
from core.results import LiquidationMap
from core.scoring import CandleEstimates
from core.scoring_metrics import BoolArray

__all__ = [
    "DEFAULT_TOP_CLUSTERS",
    "PLACEBO",
    "BacktestRun",
    "Progress",
    "cluster_hits",
    "estimate",
    "final_map",
    "flat_open_interest",
]

#: the name of the flat-open-interest placebo in a scorecard
PLACEBO: Final = "placebo (flat OI)"

#: clusters read from each map for the hit test (the bot reports five)
DEFAULT_TOP_CLUSTERS: Final = 5

#: called with (done, total) as the maps of the cluster-hit test are estimated
Progress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class BacktestRun:
    """One backtest: the estimate of every candle after the warm-up, and the map after
    the last candle (estimated from the last ``lookback`` candles)."""

    estimates: CandleEstimates
    map: LiquidationMap
    lookback: int
    warmup: int


def flat_open_interest(series: MarketSeries) -> MarketSeries:
    """``series`` with open interest replaced by its mean where known (gaps stay gaps)."""
    oi = series.open_interest
    if oi is None:
        return series
    known = np.isfinite(oi)
    level = float(oi[known].mean()) if known.any() else np.nan
    return dataclasses.replace(series, open_interest=np.where(known, level, np.nan))


def _first_reach(values: FloatArray, level: float) -> int:
    """Index of the first value ``<= level`` (``-1`` if none)."""
    idx = np.flatnonzero(values <= level)
    return int(idx[0]) if len(idx) else -1


def cluster_hits(
    series: MarketSeries,
    params: EngineParams,
    *,
    lookback: int,
    start: int,
    map_every: int,
    bins: int = 400,
    top: int = DEFAULT_TOP_CLUSTERS,
    progress: Progress | None = None,
) -> tuple[BoolArray, BoolArray]:
    """(hit_long, hit_short) per candle of ``series`` (False before ``start``); see the
    module docstring."""
    if map_every < 1:
        raise ModelError(f"map_every: must be >= 1 (got {map_every})")
    n = len(series)
    hit_long = np.zeros(n, np.bool_)
    hit_short = np.zeros(n, np.bool_)
    starts = range(start, n, map_every)
    for done, t0 in enumerate(starts, 1):
        past = series.slice(max(0, t0 - lookback), t0)
        if len(past):
            grid = default_grid(past, bins=bins)
            lmap = run_engine(past, grid, params, columns=1).map
            stop = min(n, t0 + map_every)
            lows, highs = series.low[t0:stop], series.high[t0:stop]
            for c in find_clusters(lmap, top=top):
                if c.side == Side.LONG:
                    at = _first_reach(lows, c.price)
                    if at >= 0:
                        hit_long[t0 + at] = True
                else:
                    at = _first_reach(-highs, -c.price)
                    if at >= 0:
                        hit_short[t0 + at] = True
        if progress is not None:
            progress(done, len(starts))
    return hit_long, hit_short


def final_map(
    series: MarketSeries, params: EngineParams, *, lookback: int, bins: int = 400
) -> LiquidationMap:
    """The map after the last candle, from the last ``lookback`` candles."""
    if len(series) == 0:
        raise ModelError("series: need at least one candle for a map")
    window = series.slice(max(0, len(series) - lookback))
    return run_engine(window, default_grid(window, bins=bins), params, columns=1).map


def estimate(
    series: MarketSeries,
    params: EngineParams,
    *,
    lookback: int,
    warmup: int | None = None,
    map_every: int | None = None,
    bins: int = 400,
    top: int = DEFAULT_TOP_CLUSTERS,
    progress: Progress | None = None,
) -> BacktestRun:
    """Point-in-time estimates of every candle from ``warmup`` on (default: ``lookback``),
    with cluster hits when ``map_every`` is given."""
    if lookback < 1:
        raise ModelError(f"lookback: must be >= 1 candle (got {lookback})")
    warm = lookback if warmup is None else warmup
    n = len(series)
    if not 0 <= warm < n:
        raise ModelError(
            f"warm-up: {warm} candles leave nothing to score in a series of {n} candles; "
            "give a longer series or a shorter look-back"
        )
    long_usd, short_usd = point_in_time(series, params, lookback)
    hits: tuple[BoolArray, BoolArray] | None = None
    if map_every is not None:
        hits = cluster_hits(
            series,
            params,
            lookback=lookback,
            start=warm,
            map_every=map_every,
            bins=bins,
            top=top,
            progress=progress,
        )
    keep = slice(warm, n)
    estimates = CandleEstimates(
        open_ms=series.timestamps[keep],
        long_usd=long_usd[keep],
        short_usd=short_usd[keep],
        hit_long=None if hits is None else hits[0][keep],
        hit_short=None if hits is None else hits[1][keep],
    )
    return BacktestRun(
        estimates=estimates,
        map=final_map(series, params, lookback=lookback, bins=bins),
        lookback=lookback,
        warmup=warm,
    )
