"""The analysis pipeline: snapshots of one market → :class:`~core.results.Analysis`.

Commands, alerts, threads and the demo all go through :func:`analyze`:

1. one price grid for all venues (each venue's :func:`core.levels.default_grid`, then
   their union — so the level engine bins every venue onto the same bins and the maps
   sum exactly);
2. the level engine on every snapshot — with that venue's own maintenance-margin brackets
   when the caller has them (``brackets``, by exchange id), else ``params.engine``'s; maps, heatmaps and realised series summed across
   venues (:mod:`core.aggregate`);
3. clusters and danger zones (:mod:`core.clusters`), the imbalance (:mod:`core.imbalance`);
4. a squeeze cascade each way (:mod:`core.cascade`): up to the nearest short cluster above
   price within the imbalance window (+2 % when there is none), down to the nearest long
   cluster below (−2 %), against the venues' pooled order books when any were fetched.

The *primary* snapshot — the one with the most candles, the first given on a tie — gives
the candles drawn on the charts, the heatmap's columns and the realised series' times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from core.aggregate import aggregate_heatmaps, aggregate_maps, merge_books, union_grid
from core.brackets import Brackets
from core.cascade import DEFAULT_DEPTH_MODEL, DepthModel, simulate_cascade
from core.clusters import find_clusters, find_danger_zones
from core.imbalance import compute_imbalance
from core.levels import EngineOutput, EngineParams, default_grid, run_engine
from core.models import ModelError, OrderBook, Side, Snapshot
from core.results import Analysis, CascadeResult, Cluster, LiquidationMap, LiquidationSeries

__all__ = ["DEFAULT_ANALYSIS", "DEFAULT_PUSH", "AnalysisParams", "analyze"]

#: Relative push of a cascade when no cluster lies within the window on that side.
DEFAULT_PUSH = 0.02


@dataclass(frozen=True)
class AnalysisParams:
    """Settings of one analysis run.

    ``bins``/``span``: the price grid (``span`` beyond the series' low and high);
    ``columns``: heatmap time columns; ``window``: imbalance window and the farthest
    cluster a cascade is pushed to; ``top_clusters``: clusters reported; ``cascade``:
    whether to simulate cascades; ``depth``: order-book depth where no book was fetched.
    """

    engine: EngineParams = field(default_factory=EngineParams)
    bins: int = 400
    span: float = 0.25
    columns: int = 240
    window: float = 0.10
    top_clusters: int = 5
    cascade: bool = True
    depth: DepthModel = DEFAULT_DEPTH_MODEL

    def __post_init__(self) -> None:
        if self.bins < 1:
            raise ModelError(f"bins: must be >= 1 (got {self.bins})")
        if not 0.0 <= self.span < 1.0:
            raise ModelError(f"span: must be in [0, 1) (got {self.span})")
        if self.columns < 1:
            raise ModelError(f"columns: must be >= 1 (got {self.columns})")
        if not 0.0 < self.window < 1.0:
            raise ModelError(f"window: must be in (0, 1) (got {self.window})")
        if self.top_clusters < 0:
            raise ModelError(f"top_clusters: must be >= 0 (got {self.top_clusters})")


def _check(snapshots: Sequence[Snapshot]) -> None:
    if not snapshots:
        raise ModelError("snapshots: need at least one snapshot")
    first = snapshots[0]
    for s in snapshots[1:]:
        if s.symbol != first.symbol:
            raise ModelError(f"symbol: cannot aggregate {s.symbol!r} with {first.symbol!r}")
        if s.timeframe != first.timeframe:
            raise ModelError(
                f"timeframe: {s.exchange} has {s.timeframe!r}, {first.exchange} {first.timeframe!r}"
            )
    for s in snapshots:
        if len(s.series) == 0:
            raise ModelError(f"series: {s.exchange} {s.symbol} has no candles")


def _sum_realized(
    primary: LiquidationSeries, others: Sequence[LiquidationSeries]
) -> LiquidationSeries:
    """Realised series summed on the primary's candle times (other venues' candles at
    times the primary lacks are left out)."""
    long = np.array(primary.long, dtype=np.float64)
    short = np.array(primary.short, dtype=np.float64)
    times = primary.timestamps
    for other in others:
        idx = np.searchsorted(times, other.timestamps)
        hit = idx < len(times)
        hit[hit] &= times[idx[hit]] == other.timestamps[hit]
        np.add.at(long, idx[hit], other.long[hit])
        np.add.at(short, idx[hit], other.short[hit])
    return LiquidationSeries(timestamps=times, long=long, short=short)


def _push_target(
    m: LiquidationMap, clusters: Sequence[Cluster], side: Side, window: float
) -> float:
    """The nearest cluster of ``side`` on its side of price within ``window``, else ±2 %."""
    up = side is Side.SHORT
    near = [
        c.price
        for c in clusters
        if c.side is side
        and (c.price > m.price if up else c.price < m.price)
        and abs(c.distance_from(m.price)) <= window
    ]
    if near:
        return min(near) if up else max(near)
    return m.price * (1.0 + DEFAULT_PUSH if up else 1.0 - DEFAULT_PUSH)


def _cascades(
    m: LiquidationMap,
    clusters: Sequence[Cluster],
    book: OrderBook | None,
    params: AnalysisParams,
) -> tuple[CascadeResult | None, CascadeResult | None]:
    if not params.cascade:
        return None, None
    up, down = (
        simulate_cascade(
            m, _push_target(m, clusters, side, params.window), book=book, depth_model=params.depth
        )
        for side in (Side.SHORT, Side.LONG)
    )
    return up, down


DEFAULT_ANALYSIS = AnalysisParams()


def _venue_engine(
    params: EngineParams, exchange: str, brackets: Mapping[str, Brackets] | None
) -> EngineParams:
    """``params`` with ``exchange``'s own brackets when given, else ``params`` unchanged."""
    own = brackets.get(exchange) if brackets is not None else None
    return params if own is None else replace(params, brackets=own)


def analyze(
    snapshots: Sequence[Snapshot],
    params: AnalysisParams = DEFAULT_ANALYSIS,
    *,
    brackets: Mapping[str, Brackets] | None = None,
) -> Analysis:
    """Estimate, aggregate and read the liquidation map of one market on one or more venues.

    All snapshots must be of the same symbol and timeframe (:class:`ModelError`
    otherwise). The aggregated map's price is the median of the venues' last closes.
    ``brackets`` maps an exchange id to the maintenance-margin brackets that venue reports
    for this market; a venue not in it is estimated with ``params.engine.brackets``.
    """
    _check(snapshots)
    primary = max(range(len(snapshots)), key=lambda i: (len(snapshots[i].series), -i))
    ordered = [snapshots[primary], *(s for i, s in enumerate(snapshots) if i != primary)]
    grids = [default_grid(s.series, bins=params.bins, span=params.span) for s in ordered]
    grid = union_grid(grids, bins=params.bins)
    outputs: list[EngineOutput] = [
        run_engine(
            s.series,
            grid,
            _venue_engine(params.engine, s.exchange, brackets),
            columns=params.columns,
        )
        for s in ordered
    ]
    lmap = aggregate_maps([o.map for o in outputs], grid)
    heatmap = aggregate_heatmaps([o.heatmap for o in outputs], grid)
    realized = _sum_realized(outputs[0].realized, [o.realized for o in outputs[1:]])
    clusters = find_clusters(lmap, top=params.top_clusters)
    books = [s.book for s in ordered if s.book is not None]
    cascade_up, cascade_down = _cascades(
        lmap, clusters, merge_books(books) if books else None, params
    )
    series = ordered[0].series
    return Analysis(
        symbol=ordered[0].symbol,
        exchanges=tuple(s.exchange for s in snapshots),
        timeframe=ordered[0].timeframe,
        as_of=max(int(s.series.timestamps[-1]) for s in snapshots),
        price=lmap.price,
        heatmap=heatmap,
        map=lmap,
        clusters=clusters,
        zones=find_danger_zones(lmap, window=None),
        imbalance=compute_imbalance(lmap, window=params.window),
        cascade_up=cascade_up,
        cascade_down=cascade_down,
        realized=realized,
        candle_times=series.timestamps,
        candle_close=series.close,
        candle_high=series.high,
        candle_low=series.low,
        candle_open=series.open,
    )
